"""final_verdicts: the last association of each track."""

from __future__ import annotations

from orbitlink.tracking.models import Association
from orbitlink.tracking.times import datetime_from_unix
from orbitlink.tracking.verdicts import final_verdicts

T0 = 1_780_200_000.0  # 2026-05-31


def _association(k: int, track_id: str, norad_id: int | None) -> Association:
    return Association(
        time=datetime_from_unix(T0 + k),
        track_id=track_id,
        sensor_id="s1",
        frame_id=f"s1-{k:05d}",
        norad_id=norad_id,
        uct=norad_id is None,
        confidence=0.9,
    )


def test_a_later_verdict_replaces_an_earlier_one_and_tracks_keep_their_first_order():
    records = [
        _association(0, "T2", None),
        _association(0, "T1", 100),
        _association(1, "T2", 300),  # the UCT verdict turns into a name
        _association(1, "T1", 100),
        _association(2, "T1", 200),  # and T1 changes its mind
    ]
    final = final_verdicts(records)
    assert list(final) == ["T2", "T1"]
    assert final["T2"] is records[2] and final["T1"] is records[4]
    assert (final["T2"].norad_id, final["T2"].uct) == (300, False)


def test_no_records_no_verdicts():
    assert final_verdicts([]) == {}
    assert final_verdicts(iter([_association(0, "T1", None)]))["T1"].uct
