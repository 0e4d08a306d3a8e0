"""What the dashboard shows, folded from the output topics' records: :class:`DashboardState`.

Every record goes through one ``on_<topic>`` method with its Kafka timestamp (ms); the state
keeps only what the page needs, each part bounded: the current tracks (a track leaves when it
is deleted, or when its sensor has moved on by :attr:`DashboardState.track_stale_s` without
it), per-second counters over the last :attr:`DashboardState.history_s`, and the most recent
UCTs, dead letters and alerts. :meth:`DashboardState.view` renders it as one JSON-able dict,
the message the page receives.

Records are read leniently (this is a viewer: a record it cannot use is counted and skipped);
strings are passed on as data and the page writes them as text, never as markup.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DashboardState"]

#: Frame publication times kept to measure latency (frames whose associations may still come).
FRAME_MEMORY = 20_000


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    return str(value)[:limit]


@dataclass
class _Second:
    """Counts of one second of Kafka time."""

    frames: int = 0
    detections: int = 0
    named: int = 0
    uct: int = 0
    ambiguous: int = 0
    dead_letters: int = 0
    latencies_s: list[float] = field(default_factory=list)
    tracks: dict[str, int] | None = None  # tracks by verdict, sampled once in the second


@dataclass
class _Sensor:
    frames: int = 0
    frame_time: str | None = None
    frame_id: str | None = None
    fov: dict[str, float] | None = None
    latest_track_s: float = -math.inf


class DashboardState:
    """The dashboard's picture of the stream (see the module docstring)."""

    def __init__(
        self,
        *,
        history_s: int = 300,
        recent: int = 30,
        track_stale_s: float = 60.0,
        max_tracks: int = 5000,
    ) -> None:
        self.history_s = history_s
        self.recent = recent
        self.track_stale_s = track_stale_s
        self.max_tracks = max_tracks
        self.sensors: dict[str, _Sensor] = {}
        self.tracks: dict[str, dict[str, Any]] = {}
        self.verdicts: dict[str, dict[str, Any]] = {}
        self.seconds: dict[int, _Second] = {}
        self.frame_published_ms: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.ucts: deque[dict[str, Any]] = deque(maxlen=recent)
        self.dead_letters: deque[dict[str, Any]] = deque(maxlen=recent)
        self.alerts_recent: deque[dict[str, Any]] = deque(maxlen=recent)
        self.alerts_firing: dict[str, dict[str, Any]] = {}
        self.lag: dict[int, int] | None = None
        self.counts = dict.fromkeys(
            ("frames", "detections", "track_updates", "associations", "dead_letters", "alerts"), 0
        )
        self.skipped = 0
        self.latest_ms = 0

    # -- input ------------------------------------------------------------------------------

    def _second(self, timestamp_ms: int) -> _Second:
        self.latest_ms = max(self.latest_ms, timestamp_ms)
        key = timestamp_ms // 1000
        second = self.seconds.get(key)
        if second is None:
            second = self.seconds[key] = _Second()
            oldest = self.latest_ms // 1000 - self.history_s
            for old in [k for k in self.seconds if k < oldest]:
                del self.seconds[old]
        return second

    def on_frame(self, record: Any, timestamp_ms: int) -> None:
        if not isinstance(record, dict) or not isinstance(record.get("sensor_id"), str):
            self.skipped += 1
            return
        sensor_id = record["sensor_id"][:200]
        sensor = self.sensors.setdefault(sensor_id, _Sensor())
        detections = record.get("detections")
        n = len(detections) if isinstance(detections, list) else 0
        sensor.frames += 1
        sensor.frame_time = _text(record.get("time"))
        sensor.frame_id = _text(record.get("frame_id"))
        fov = record.get("fov")
        if isinstance(fov, dict):
            values = {k: _number(fov.get(k)) for k in ("ra_deg", "dec_deg", "radius_deg")}
            if all(v is not None for v in values.values()):
                sensor.fov = values  # type: ignore[assignment]
        second = self._second(timestamp_ms)
        second.frames += 1
        second.detections += n
        self.counts["frames"] += 1
        self.counts["detections"] += n
        if sensor.frame_id is not None:
            self.frame_published_ms[(sensor_id, sensor.frame_id)] = timestamp_ms
            while len(self.frame_published_ms) > FRAME_MEMORY:
                self.frame_published_ms.popitem(last=False)

    def on_track(self, record: Any, timestamp_ms: int) -> None:
        if not isinstance(record, dict) or not isinstance(record.get("track_id"), str):
            self.skipped += 1
            return
        ra, dec = _number(record.get("ra_deg")), _number(record.get("dec_deg"))
        track_id = record["track_id"][:200]
        sensor_id = _text(record.get("sensor_id")) or ""
        self.counts["track_updates"] += 1
        self._second(timestamp_ms)
        if record.get("status") == "deleted" or ra is None or dec is None:
            self.tracks.pop(track_id, None)
            self.verdicts.pop(track_id, None)
            return
        time_s = timestamp_ms / 1000.0
        self.tracks[track_id] = {
            "id": track_id,
            "sensor": sensor_id,
            "status": _text(record.get("status"), 20),
            "ra": ra,
            "dec": dec,
            "time": _text(record.get("time")),
            "seen_s": time_s,
        }
        sensor = self.sensors.setdefault(sensor_id, _Sensor())
        sensor.latest_track_s = max(sensor.latest_track_s, time_s)

    def on_association(self, record: Any, timestamp_ms: int) -> None:
        if not isinstance(record, dict) or not isinstance(record.get("track_id"), str):
            self.skipped += 1
            return
        track_id = record["track_id"][:200]
        uct = record.get("uct") is True
        ambiguous = record.get("ambiguous") is True
        norad = record.get("norad_id")
        verdict = "uct" if uct else "ambiguous" if ambiguous else "named"
        self.verdicts[track_id] = {
            "verdict": verdict,
            "norad": norad if isinstance(norad, int) and not isinstance(norad, bool) else None,
            "name": _text(record.get("name"), 80),
        }
        second = self._second(timestamp_ms)
        setattr(second, verdict, getattr(second, verdict) + 1)
        self.counts["associations"] += 1
        sensor_id = _text(record.get("sensor_id")) or ""
        published = self.frame_published_ms.get((sensor_id, _text(record.get("frame_id")) or ""))
        if published is not None:
            second.latencies_s.append(max(timestamp_ms - published, 0) / 1000.0)
        if uct:
            self.ucts.appendleft(
                {
                    "track": track_id,
                    "sensor": sensor_id,
                    "time": _text(record.get("time")),
                    "candidates": _number(record.get("n_candidates")),
                }
            )

    def on_dead_letter(self, record: Any, timestamp_ms: int) -> None:
        if not isinstance(record, dict):
            self.skipped += 1
            return
        self._second(timestamp_ms).dead_letters += 1
        self.counts["dead_letters"] += 1
        self.dead_letters.appendleft(
            {
                "topic": _text(record.get("topic")),
                "key": _text(record.get("key")),
                "offset": _number(record.get("offset")),
                "reason": _text(record.get("reason"), 300),
                "at": _text(record.get("rejected_at")),
            }
        )

    def on_alert(self, record: Any, timestamp_ms: int) -> None:
        if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
            self.skipped += 1
            return
        self._second(timestamp_ms)
        self.counts["alerts"] += 1
        alert = {
            k: _text(record.get(k), 400)
            for k in ("kind", "sensor_id", "state", "message", "first_time", "last_time")
        }
        alert["statistic"] = _number(record.get("statistic"))
        alert["threshold"] = _number(record.get("threshold"))
        key = f"{alert['kind']}/{alert['sensor_id'] or '*'}"
        if alert["state"] == "firing":
            self.alerts_firing[key] = alert
        else:
            self.alerts_firing.pop(key, None)
        self.alerts_recent.appendleft(alert)

    def set_lag(self, lag: dict[int, int] | None) -> None:
        """The worker group's lag per frames partition (None: unknown)."""
        self.lag = lag

    # -- output -----------------------------------------------------------------------------

    def _prune_tracks(self) -> None:
        stale = [
            track_id
            for track_id, t in self.tracks.items()
            if t["seen_s"] < self.sensors[t["sensor"]].latest_track_s - self.track_stale_s
        ]
        for track_id in stale:
            del self.tracks[track_id]
            self.verdicts.pop(track_id, None)

    def _verdict_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("named", "uct", "ambiguous", "tentative", "coasting"), 0)
        for track_id, track in self.tracks.items():
            verdict = self.verdicts.get(track_id, {}).get("verdict", "tentative")
            counts[verdict] += 1
            counts["coasting"] += track["status"] == "coasting"
        return counts

    def view(self) -> dict[str, Any]:
        """The page's message: everything it shows, as JSON-able data."""
        self._prune_tracks()
        counts = self._verdict_counts()
        if self.seconds:
            latest = self.seconds[max(self.seconds)]
            if latest.tracks is None:
                latest.tracks = counts
        tracks = []
        for track_id, track in list(self.tracks.items())[: self.max_tracks]:
            verdict = self.verdicts.get(track_id, {"verdict": "tentative"})
            tracks.append({k: v for k, v in track.items() if k != "seen_s"} | verdict)
        return {
            "latest_ms": self.latest_ms,
            "counts": self.counts | {"tracks": len(self.tracks), "skipped": self.skipped},
            "verdicts": counts,
            "sensors": {
                sensor_id: {
                    "frames": s.frames,
                    "frame_time": s.frame_time,
                    "frame_id": s.frame_id,
                    "fov": s.fov,
                }
                for sensor_id, s in sorted(self.sensors.items())
            },
            "tracks": tracks,
            "series": self._series(),
            "lag": None
            if self.lag is None
            else {"total": sum(self.lag.values()), "partitions": self.lag},
            "ucts": list(self.ucts),
            "dead_letters": list(self.dead_letters),
            "alerts": {
                "firing": sorted(self.alerts_firing.values(), key=lambda a: a["first_time"] or ""),
                "recent": list(self.alerts_recent),
            },
        }

    def _series(self) -> dict[str, list]:
        """Per-second columns over the history, oldest first (missing seconds are zeros)."""
        if not self.seconds:
            return {"t": []}
        end = max(self.seconds)
        start = max(min(self.seconds), end - self.history_s + 1)
        columns: dict[str, list] = {
            name: []
            for name in (
                "t",
                "frames",
                "detections",
                "named",
                "uct",
                "ambiguous",
                "latency_p50",
                "latency_max",
                "tracks_named",
                "tracks_uct",
                "tracks_tentative",
            )
        }
        empty = _Second()
        for key in range(start, end + 1):
            s = self.seconds.get(key, empty)
            columns["t"].append(key)
            for name in ("frames", "detections", "named", "uct", "ambiguous"):
                columns[name].append(getattr(s, name))
            latencies = sorted(s.latencies_s)
            columns["latency_p50"].append(latencies[len(latencies) // 2] if latencies else None)
            columns["latency_max"].append(latencies[-1] if latencies else None)
            for verdict in ("named", "uct", "tentative"):
                columns[f"tracks_{verdict}"].append(None if s.tracks is None else s.tracks[verdict])
        return columns
