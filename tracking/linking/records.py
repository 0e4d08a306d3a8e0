"""The provisional-object record: one line of ``uct_objects.jsonl``, one message of
``orbitlink.uct-objects``.

The Contract fields (issue 11; extend, never rename) are ``uct_id``, ``track_ids``,
``norad_id``, ``tle``, ``n_observations``, ``sensors``, ``first_seen`` and ``last_seen``; the
others say what the linker knows besides. A record is written each time an object changes;
the last record of a ``uct_id`` is its state, and ``revision`` counts its changes (a consumer
that sees a revision twice, after a worker restart, has seen the same record twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_serializer, field_validator

from ..models import _Record, format_time, parse_time

__all__ = ["UctObjectRecord", "UctStatus"]

#: ``region``: no orbit yet, only the admissible region of its one tracklet; ``orbit``: an
#: orbit fitted to its observations; ``identified``: matched to a catalogue element set
#: (``norad_id``); ``expired``: no tracklet for longer than the linker keeps objects (its
#: last record; it is no longer linked to); ``merged``: found to be the object
#: ``merged_into`` (its last record; its tracks are that object's now).
UctStatus = Literal["region", "orbit", "identified", "expired", "merged"]


class UctObjectRecord(_Record):
    """A provisional object of the UCT catalogue (see the module docstring).

    ``tle`` is ``[line1, line2]`` with the provisional catalogue number ``tle_number``
    (Alpha-5 ``T0000``-``T9999`` by default), or null while no orbit is fitted; ``omm`` the
    same mean elements at full precision (CelesTrak's JSON keys). ``epoch``,
    ``position_km``, ``velocity_km_s`` and ``covariance`` (6x6, km and km/s, GCRS) are the
    fitted orbit's state at the TLE epoch; ``rms_arcsec`` the fit's residuals over its
    ``n_observations``; ``range_km`` the admissible range interval of an object without an
    orbit; ``merged_into`` the object a merged one became. ``reason`` says in words how the
    object got its present orbit or why it has none.
    """

    uct_id: str
    track_ids: list[str]
    norad_id: int | None = None
    tle: list[str] | None = None
    n_observations: int = Field(ge=0)
    sensors: list[str]
    first_seen: datetime
    last_seen: datetime
    status: UctStatus
    revision: int = Field(ge=1)
    n_tracks: int = Field(ge=1)
    tle_number: int | None = None
    epoch: datetime | None = None
    omm: dict[str, Any] | None = None
    position_km: list[float] | None = None
    velocity_km_s: list[float] | None = None
    covariance: list[list[float]] | None = None
    semi_major_axis_km: float | None = None
    eccentricity: float | None = None
    inclination_deg: float | None = None
    rms_arcsec: float | None = None
    range_km: list[float] | None = None
    merged_into: str | None = None
    reason: str = ""

    @field_validator("first_seen", "last_seen", "epoch", mode="before")
    @classmethod
    def _parse_time(cls, value: object) -> object:
        return None if value is None else parse_time(value)  # type: ignore[arg-type]

    @field_serializer("first_seen", "last_seen", "epoch")
    def _serialise_time(self, value: datetime | None) -> str | None:
        return None if value is None else format_time(value)
