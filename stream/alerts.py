"""Alerts on the ``orbitlink.alerts`` topic: the records, and the service-wide catalogue watch.

The statistics are :mod:`orbitlink.tracking.monitoring`'s; the worker's frames processor runs a
:class:`~orbitlink.tracking.monitoring.Monitor` over every processed frame and publishes the
alerts it returns with the frame's records (same sink, same acknowledgement). Records are flat
JSON (:class:`~orbitlink.tracking.models.Alert`), keyed ``<kind>/<sensor_id>`` (``*`` for the
whole service) so one alert's firing and resolved records share a partition and stay in order.

:class:`CatalogueWatch` raises ``catalogue_silent`` when the catalogue has not been updated for
:attr:`~orbitlink.tracking.monitoring.MonitorSettings.catalogue_silence_s` (wall-clock: the
time of the last element set applied from the catalogue topic, or the worker's start).
"""

from __future__ import annotations

from datetime import UTC, datetime

from orbitlink.tracking.models import Alert
from orbitlink.tracking.monitoring import MonitorSettings, catalogue_silence_alert

from .sinks import OutboundRecord

__all__ = ["CatalogueWatch", "alert_record"]


def alert_record(alert: Alert) -> bytes:
    """The wire form of an alert: compact flat JSON, every field present."""
    return alert.to_json().encode()


class CatalogueWatch:
    """Whether the catalogue is being kept up to date; :meth:`check` gives the records."""

    def __init__(self, topic: str, settings: MonitorSettings, started: datetime | None = None):
        self.topic = topic
        self.settings = settings
        self.last_update = started or datetime.now(UTC)
        self.firing_since: datetime | None = None

    def updated(self, when: datetime | None = None) -> None:
        """Element sets were applied (now, or at ``when``)."""
        self.last_update = when or datetime.now(UTC)

    def check(self, now: datetime | None = None) -> list[OutboundRecord]:
        """The alert record to publish now, if the state changed."""
        alert = catalogue_silence_alert(
            self.last_update,
            now or datetime.now(UTC),
            self.settings,
            firing_since=self.firing_since,
        )
        if alert is None:
            return []
        self.firing_since = alert.first_time if alert.state == "firing" else None
        return [OutboundRecord(self.topic, alert.key.encode(), alert_record(alert))]
