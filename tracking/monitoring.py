"""Model monitoring: is the tracker consistent, is the correlation drifting, is the catalogue old?

Three families of statistics, each kept per sensor over sliding windows of frames:

* **Filter consistency.** The normalised innovation squared (NIS) ``y^T S^-1 y`` of every track
  update, the detection's offset from the track's prediction against the covariance the filter
  expected. For a consistent filter it is chi-square with 2 degrees of freedom, so the sum over
  a window of ``n`` updates is chi-square with ``2n``: :func:`nis_band` gives the band of the
  window mean, widened by :attr:`MonitorSettings.nis_scale_low` / ``nis_scale_high`` because
  the tracker's process noise is deliberately generous (clean simulated runs measure a mean NIS
  of 1.1-1.7, below the 2 of a perfectly tuned filter). Above the band the filter is
  over-confident (innovations larger than it allows: noise underestimated, a timing error
  between frames); below it, under-confident (noise overestimated).
* **Correlation drift.** The UCT rate and the mean along-track (s) and cross-track (arcsec)
  residuals of the associations over the current window against a baseline window just before
  it. Residuals of one object repeat from frame to frame, so a window counts as many
  independent samples as it holds distinct tracks; a mean residual drifts when it moved by
  more than :attr:`MonitorSettings.drift_sigma` standard errors and more than a floor. While a
  drift alert fires the baseline is frozen, so a lasting fault does not become the new normal.
  Causes: a stale catalogue, a sensor pointing or timing error, a breakup or a launch.
* **Catalogue staleness.** The share of correlated objects in the window whose element sets
  are older than :attr:`MonitorSettings.stale_age_days`; and, for the whole service, the time
  since the catalogue was last updated (:func:`catalogue_silence_alert`).

:class:`SensorMonitor` holds one sensor's windows and alert states as plain data
(:meth:`SensorMonitor.to_dict` / :meth:`SensorMonitor.from_dict` round-trip it through JSON) and
turns each frame's statistics into :class:`~orbitlink.tracking.models.Alert` records: one
``firing`` record when a condition starts, one ``resolved`` record once it has been absent for
:attr:`MonitorSettings.clear_after_s`. The tracker computes each update's NIS as it gates
(:attr:`FrameResult.nis <orbitlink.tracking.pipeline.FrameResult.nis>`). Nothing
here knows about Kafka; the stream worker publishes the alerts (``orbitlink.stream.alerts``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from pydantic import Field

from .association import chi_square_quantile
from .models import Alert, AlertKind, Association, Frame
from .settings import Settings
from .times import datetime_from_unix, unix_from_datetime
from .types import Array

__all__ = [
    "FrameStatistics",
    "Monitor",
    "MonitorSettings",
    "SensorMonitor",
    "catalogue_silence_alert",
    "frame_statistics",
    "nis_band",
]

#: Degrees of freedom of one NIS sample: a detection measures two coordinates.
NIS_DOF = 2


class MonitorSettings(Settings):
    """Windows and thresholds of the model monitor (see the module docstring)."""

    nis_window_s: float = Field(
        120.0, gt=0.0, description="Length of the sliding window of the filter-consistency test."
    )
    nis_min_samples: int = Field(
        30, ge=1, description="Track updates the NIS window needs before it is judged."
    )
    nis_band_probability: float = Field(
        0.999,
        gt=0.0,
        lt=1.0,
        description="Two-sided probability of the chi-square band of the window's mean NIS.",
    )
    nis_scale_low: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="The band's lower end is scaled by this: the tracker's process noise is "
        "generous, so a clean run sits below the consistent mean of 2 (measured 1.1-1.7).",
    )
    nis_scale_high: float = Field(
        1.0,
        ge=1.0,
        description="The band's upper end is scaled by this (1: the chi-square band itself; "
        "clean runs measure window means up to 1.9 against bands from 2.6 up).",
    )
    drift_window_s: float = Field(
        90.0, gt=0.0, description="Length of the current window of the correlation-drift tests."
    )
    baseline_s: float = Field(
        180.0,
        gt=0.0,
        description="Length of the baseline window, just before the current one; drift is "
        "judged once the sensor has been monitored for both windows.",
    )
    min_tracks: int = Field(
        8,
        ge=1,
        description="Distinct tracks each window needs before a drift is judged.",
    )
    drift_sigma: float = Field(
        4.0,
        gt=0.0,
        description="A drift is judged significant beyond this many standard errors.",
    )
    along_track_floor_s: float = Field(
        0.5, ge=0.0, description="...and by more than this along-track, s."
    )
    cross_track_floor_arcsec: float = Field(
        3.0, ge=0.0, description="...and by more than this cross-track, arcsec."
    )
    uct_excess: float = Field(
        5.0,
        gt=0.0,
        description="UCT tracks beyond the baseline's expectation that raise an alert at the "
        "least (also more than ``drift_sigma`` Poisson sigmas).",
    )
    stale_age_days: float = Field(
        7.0, gt=0.0, description="Element sets older than this (days) count as stale."
    )
    stale_fraction: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Share of the window's correlated objects on stale element sets that "
        "raises an alert.",
    )
    stale_window_s: float = Field(
        60.0, gt=0.0, description="Length of the sliding window of the staleness test."
    )
    stale_min_samples: int = Field(
        5, ge=1, description="Correlated associations the staleness window needs."
    )
    clear_after_s: float = Field(
        60.0,
        ge=0.0,
        description="A firing alert resolves once its condition has been absent this long "
        "(frame time), so a statistic hovering at its threshold does not flap.",
    )
    catalogue_silence_s: float = Field(
        86400.0,
        gt=0.0,
        description="The service alerts when the catalogue has not been updated for this "
        "long (s): element sets are published daily.",
    )


def nis_band(n_samples: int, probability: float) -> tuple[float, float]:
    """Two-sided ``probability`` band of the mean of ``n_samples`` NIS values of a consistent
    filter (2 dof each): ``chi2(2 n).ppf(tails) / n``."""
    dof = NIS_DOF * n_samples
    tail = 0.5 * (1.0 - probability)
    low, high = chi_square_quantile([tail, 1.0 - tail], dof)
    return float(low) / n_samples, float(high) / n_samples


@dataclass(frozen=True)
class FrameStatistics:
    """What one frame contributes to a sensor's windows (sums, so windows add and subtract).

    ``track_ids`` are the tracks with an association this frame, and ``uct_flags``,
    ``along_values``, ``cross_values`` their verdicts and residuals, in the same order.
    """

    time_s: float
    nis_count: int = 0
    nis_sum: float = 0.0
    associations: int = 0
    ucts: int = 0
    along_n: int = 0
    along_sum: float = 0.0
    along_sq: float = 0.0
    cross_n: int = 0
    cross_sum: float = 0.0
    cross_sq: float = 0.0
    correlated: int = 0
    stale: int = 0
    track_ids: tuple[str, ...] = ()
    uct_flags: tuple[bool, ...] = ()
    along_values: tuple[float, ...] = ()  # NaN where an association has none
    cross_values: tuple[float, ...] = ()


def frame_statistics(
    time_s: float,
    nis: Array,
    associations: Sequence[Association],
    settings: MonitorSettings,
) -> FrameStatistics:
    """One frame's :class:`FrameStatistics` from its NIS values and associations."""
    along = np.array([a.along_track_s for a in associations if a.along_track_s is not None])
    cross = np.array(
        [a.cross_track_arcsec for a in associations if a.cross_track_arcsec is not None]
    )
    ages = np.array([a.element_age_days for a in associations if a.element_age_days is not None])
    finite = nis[np.isfinite(nis)]
    return FrameStatistics(
        time_s=time_s,
        nis_count=len(finite),
        nis_sum=float(finite.sum()),
        associations=len(associations),
        ucts=sum(a.uct for a in associations),
        along_n=len(along),
        along_sum=float(along.sum()),
        along_sq=float((along**2).sum()),
        cross_n=len(cross),
        cross_sum=float(cross.sum()),
        cross_sq=float((cross**2).sum()),
        correlated=len(ages),
        stale=int(np.count_nonzero(np.abs(ages) > settings.stale_age_days)),
        track_ids=tuple(a.track_id for a in associations),
        uct_flags=tuple(a.uct for a in associations),
        along_values=tuple(_nan_for_none(a.along_track_s) for a in associations),
        cross_values=tuple(_nan_for_none(a.cross_track_arcsec) for a in associations),
    )


def _nan_for_none(value: float | None) -> float:
    return float("nan") if value is None else value


_SUMS = (
    "nis_count",
    "nis_sum",
    "associations",
    "ucts",
    "along_n",
    "along_sum",
    "along_sq",
    "cross_n",
    "cross_sum",
    "cross_sq",
    "correlated",
    "stale",
)


@dataclass
class _Window:
    """Frames of a sliding window with the running sums of their statistics, and per track
    of the window: ``[associations, ucts, along_n, along_sum, cross_n, cross_sum]``."""

    frames: deque[FrameStatistics] = field(default_factory=deque)
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0.0))
    tracks: dict[str, list[float]] = field(default_factory=dict)

    def push(self, stats: FrameStatistics) -> None:
        self.frames.append(stats)
        for name in _SUMS:
            self.sums[name] += getattr(stats, name)
        self._add_tracks(stats, 1.0)

    def pop(self) -> FrameStatistics:
        stats = self.frames.popleft()
        for name in _SUMS:
            self.sums[name] -= getattr(stats, name)
        self._add_tracks(stats, -1.0)
        if not self.frames:  # no rounding residue once empty
            self.sums = dict.fromkeys(_SUMS, 0.0)
        return stats

    def _add_tracks(self, stats: FrameStatistics, sign: float) -> None:
        for track_id, uct, along, cross in zip(
            stats.track_ids, stats.uct_flags, stats.along_values, stats.cross_values
        ):
            row = self.tracks.get(track_id)
            if row is None:
                row = self.tracks[track_id] = [0.0] * 6
            row[0] += sign
            row[1] += sign * uct
            if along == along:  # not NaN
                row[2] += sign
                row[3] += sign * along
            if cross == cross:
                row[4] += sign
                row[5] += sign * cross
            if row[0] < 0.5:
                del self.tracks[track_id]

    def track_means(self, name: str) -> dict[str, float]:
        """Mean residual ``name`` (``along``/``cross``) of each track of the window that has
        one."""
        column = 2 if name == "along" else 4
        return {
            t: row[column + 1] / row[column] for t, row in self.tracks.items() if row[column] > 0.5
        }

    def uct_tracks(self) -> int:
        """Distinct tracks of the window that were UCTs at least once in it."""
        return sum(row[1] > 0.5 for row in self.tracks.values())

    def __len__(self) -> int:
        return len(self.frames)

    def mean_and_spread(self, name: str) -> tuple[float, float, int]:
        """Mean and standard deviation of the residual ``name`` (``along``/``cross``) over the
        window's associations, and their number."""
        n = int(round(self.sums[f"{name}_n"]))
        if n == 0:
            return float("nan"), float("nan"), 0
        mean = self.sums[f"{name}_sum"] / n
        var = max(self.sums[f"{name}_sq"] / n - mean * mean, 0.0)
        return mean, float(np.sqrt(var)), n


@dataclass
class _Firing:
    """A firing alert: when it started, its latest values, and since when it is clean."""

    first_time_s: float
    last_time_s: float
    statistic: float
    threshold: float
    clean_since_s: float | None = None


@dataclass(frozen=True)
class _Check:
    """One condition evaluated at a frame: ``active`` None means not enough data to judge."""

    kind: AlertKind
    active: bool | None
    statistic_name: str
    statistic: float
    threshold: float
    window_frames: int
    window_samples: int
    message: str
    baseline: float | None = None


class SensorMonitor:
    """One sensor's monitoring windows and alert states (see the module docstring).

    Feed it every processed frame in order with :meth:`observe`; it returns the alert records
    to publish for that frame.
    """

    def __init__(self, sensor_id: str, settings: MonitorSettings = MonitorSettings()) -> None:
        self.sensor_id = sensor_id
        self.settings = settings
        self._nis = _Window()
        self._stale = _Window()
        self._current = _Window()
        self._baseline = _Window()
        self._firing: dict[AlertKind, _Firing] = {}
        self._start_s: float | None = None

    @property
    def firing(self) -> dict[str, float]:
        """Kinds of the alerts firing now, with the time (Unix s) each started."""
        return {kind: f.first_time_s for kind, f in self._firing.items()}

    def observe(self, stats: FrameStatistics) -> list[Alert]:
        """Add one frame's statistics to the windows; the alerts that start or end with it."""
        s, now = self.settings, stats.time_s
        if self._start_s is None:
            self._start_s = now
        self._slide(self._nis, stats, now - s.nis_window_s)
        self._slide(self._stale, stats, now - s.stale_window_s)
        self._current.push(stats)
        drifting = any(kind in self._firing for kind in _DRIFT_KINDS)
        while self._current.frames[0].time_s <= now - s.drift_window_s:
            left = self._current.pop()
            if not drifting:  # frozen while a drift alert fires
                self._slide(self._baseline, left, now - s.drift_window_s - s.baseline_s)
        ready = now - self._start_s >= s.drift_window_s + s.baseline_s
        checks = [*self._nis_checks(), *self._drift_checks(ready), self._stale_check()]
        return [a for check in checks if (a := self._transition(check, now))]

    @staticmethod
    def _slide(window: _Window, stats: FrameStatistics, older_than_s: float) -> None:
        """Add ``stats`` and drop the frames at or before ``older_than_s``."""
        window.push(stats)
        while window.frames[0].time_s <= older_than_s:
            window.pop()

    # -- the conditions ---------------------------------------------------------------------

    def _nis_checks(self) -> list[_Check]:
        s, w = self.settings, self._nis
        n = int(round(w.sums["nis_count"]))
        if n < s.nis_min_samples:
            return [
                _Check(kind, None, "mean_nis", float("nan"), float("nan"), len(w), n, "")
                for kind in ("filter_overconfident", "filter_underconfident")
            ]
        mean = w.sums["nis_sum"] / n
        low, high = nis_band(n, s.nis_band_probability)
        low, high = low * s.nis_scale_low, high * s.nis_scale_high
        where = f"over the last {len(w)} frames ({n} track updates)"
        return [
            _Check(
                "filter_overconfident",
                mean > high,
                "mean_nis",
                mean,
                high,
                len(w),
                n,
                f"mean NIS {mean:.2f} above {high:.2f} {where}: detections fall further from "
                "the predictions than the filter allows (noise underestimated, timing error)",
            ),
            _Check(
                "filter_underconfident",
                mean < low,
                "mean_nis",
                mean,
                low,
                len(w),
                n,
                f"mean NIS {mean:.2f} below {low:.2f} {where}: the filter expects far more "
                "noise than it sees (noise overestimated)",
            ),
        ]

    def _drift_checks(self, ready: bool) -> list[_Check]:
        s, cur, base = self.settings, self._current, self._baseline
        frames = len(cur)
        # New objects: distinct UCT tracks in the current window against the number the
        # baseline's rate predicts for a window of this length (a Poisson count).
        ucts = cur.uct_tracks()
        base_ucts = base.uct_tracks()
        expected = base_ucts * s.drift_window_s / s.baseline_s
        judged = ready and len(base.tracks) >= s.min_tracks
        threshold = expected + max(s.uct_excess, s.drift_sigma * np.sqrt(max(expected, 1.0)))
        n = cur.sums["associations"]
        rate = cur.sums["ucts"] / n if n else float("nan")
        checks = [
            _Check(
                "uct_rate_jump",
                bool(ucts > threshold) if judged else None,
                "uct_tracks",
                float(ucts),
                threshold,
                frames,
                int(n),
                f"{ucts} UCT tracks over the last {frames} frames (UCT rate {rate:.0%}) where "
                f"the baseline predicts {expected:.1f}: many tracks match no catalogue object "
                f"(new objects: a breakup or a launch; or a stale catalogue, a pointing or "
                f"timing error)",
                expected,
            )
        ]
        for name, kind, floor, unit in (
            ("along", "along_track_drift", s.along_track_floor_s, "s"),
            ("cross", "cross_track_drift", s.cross_track_floor_arcsec, "arcsec"),
        ):
            shift, error, samples = _residual_shift(cur, base, name, s.min_tracks)
            judged = ready and samples > 0
            threshold = max(floor, s.drift_sigma * error) if judged else float("nan")
            checks.append(
                _Check(
                    kind,
                    bool(abs(shift) > threshold) if judged else None,
                    f"{name}_track_shift_{unit}",
                    shift,
                    threshold,
                    frames,
                    samples,
                    f"the mean {name}-track residual moved by {shift:+.2f} {unit} over the "
                    f"last {frames} frames against the baseline (allowed {threshold:.2f} "
                    f"{unit}): a sensor timing or pointing error, or a stale catalogue",
                )
            )
        return checks

    def _stale_check(self) -> _Check:
        s, w = self.settings, self._stale
        n = int(round(w.sums["correlated"]))
        share = w.sums["stale"] / n if n else float("nan")
        return _Check(
            "stale_elements",
            (share >= s.stale_fraction) if n >= s.stale_min_samples else None,
            "stale_share",
            share,
            s.stale_fraction,
            len(w),
            n,
            f"{share:.0%} of the objects correlated over the last {len(w)} frames are "
            f"predicted from element sets older than {s.stale_age_days:g} days",
        )

    # -- alert life cycle -------------------------------------------------------------------

    def _transition(self, check: _Check, time_s: float) -> Alert | None:
        firing = self._firing.get(check.kind)
        if check.active is None:
            return None
        if check.active:
            if firing is None:
                self._firing[check.kind] = _Firing(time_s, time_s, check.statistic, check.threshold)
                return self._alert(check, "firing", time_s, time_s)
            firing.last_time_s, firing.clean_since_s = time_s, None
            firing.statistic, firing.threshold = check.statistic, check.threshold
            return None
        if firing is None:
            return None
        if firing.clean_since_s is None:
            firing.clean_since_s = time_s
        if time_s - firing.clean_since_s < self.settings.clear_after_s:
            return None
        del self._firing[check.kind]
        return self._alert(check, "resolved", firing.first_time_s, time_s)

    def _alert(self, check: _Check, state: str, first_s: float, last_s: float) -> Alert:
        return Alert(
            kind=check.kind,
            sensor_id=self.sensor_id,
            state=state,
            statistic_name=check.statistic_name,
            statistic=check.statistic,
            threshold=check.threshold,
            baseline=check.baseline,
            window_frames=check.window_frames,
            window_samples=check.window_samples,
            message=check.message if state == "firing" else f"cleared: {check.message}",
            first_time=datetime_from_unix(first_s),
            last_time=datetime_from_unix(last_s),
        )

    # -- state ------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The whole state as JSON-able data (:meth:`from_dict` restores it)."""

        def frames(window: _Window) -> list[dict]:
            return [
                {k: v if not isinstance(v, tuple) else list(v) for k, v in vars(f).items()}
                for f in window.frames
            ]

        return {
            "sensor_id": self.sensor_id,
            "nis": frames(self._nis),
            "stale": frames(self._stale),
            "current": frames(self._current),
            "baseline": frames(self._baseline),
            "firing": {kind: vars(f) for kind, f in self._firing.items()},
            "start_s": self._start_s,
        }

    @classmethod
    def from_dict(cls, data: dict, settings: MonitorSettings = MonitorSettings()) -> SensorMonitor:
        monitor = cls(data["sensor_id"], settings)
        for name in ("nis", "stale", "current", "baseline"):
            window = getattr(monitor, f"_{name}")
            for f in data[name]:
                window.push(
                    FrameStatistics(
                        **{k: tuple(v) if isinstance(v, list) else v for k, v in f.items()}
                    )
                )
        monitor._firing = {kind: _Firing(**f) for kind, f in data["firing"].items()}
        monitor._start_s = data["start_s"]
        return monitor


_DRIFT_KINDS: tuple[AlertKind, ...] = ("uct_rate_jump", "along_track_drift", "cross_track_drift")


def _residual_shift(
    current: _Window, baseline: _Window, name: str, min_tracks: int
) -> tuple[float, float, int]:
    """How far the mean residual ``name`` moved from the baseline to the current window, its
    standard error and the number of tracks it rests on; ``(nan, nan, 0)`` when there are too
    few.

    Tracks seen in both windows are compared with themselves (the mean of their changes), which
    cancels each object's own catalogue error; with fewer than three such tracks the two
    windows' means are compared, each window counting its distinct tracks as its samples.
    """
    now, before = current.track_means(name), baseline.track_means(name)
    both = [now[t] - before[t] for t in now.keys() & before.keys()]
    if len(both) >= 3:
        change = np.array(both)
        return float(change.mean()), float(change.std(ddof=1) / np.sqrt(len(change))), len(both)
    if min(len(now), len(before)) < min_tracks:
        return float("nan"), float("nan"), 0
    a, b = np.array(list(now.values())), np.array(list(before.values()))
    error = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(a.mean() - b.mean()), float(error), len(a)


def catalogue_silence_alert(
    last_update: datetime,
    now: datetime,
    settings: MonitorSettings,
    *,
    firing_since: datetime | None,
) -> Alert | None:
    """The service-wide alert on the catalogue's age: ``firing`` when it was last updated more
    than :attr:`MonitorSettings.catalogue_silence_s` before ``now`` and no such alert fires yet
    (``firing_since`` is None), ``resolved`` when it was updated again while one fired, else
    None."""
    silent_s = (now - last_update).total_seconds()
    limit = settings.catalogue_silence_s
    active = silent_s > limit
    if active == (firing_since is not None):
        return None
    message = (
        f"the catalogue was last updated {silent_s / 3600:.1f} h ago (limit {limit / 3600:g} h)"
    )
    return Alert(
        kind="catalogue_silent",
        sensor_id=None,
        state="firing" if active else "resolved",
        statistic_name="catalogue_silence_s",
        statistic=silent_s,
        threshold=limit,
        window_frames=0,
        window_samples=0,
        message=message if active else f"cleared: {message}",
        first_time=now if active else firing_since,
        last_time=now,
    )


class Monitor:
    """The monitors of every sensor, fed with each processed frame's NIS and associations."""

    def __init__(self, settings: MonitorSettings = MonitorSettings()) -> None:
        self.settings = settings
        self.sensors: dict[str, SensorMonitor] = {}

    def observe(
        self, frame: Frame, nis: Sequence[float], associations: Sequence[Association]
    ) -> list[Alert]:
        """The alerts the frame raises or clears, from its tracks' NIS (the pipeline's
        :attr:`FrameResult.nis <orbitlink.tracking.pipeline.FrameResult.nis>` values) and its
        associations."""
        monitor = self.sensors.get(frame.sensor_id)
        if monitor is None:
            monitor = self.sensors[frame.sensor_id] = SensorMonitor(frame.sensor_id, self.settings)
        values = np.asarray(list(nis), dtype=float)
        time_s = unix_from_datetime(frame.time)
        stats = frame_statistics(time_s, values, associations, self.settings)
        return monitor.observe(stats)
