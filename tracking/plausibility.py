"""Is a frame's time believable? One bad clock must not silence a sensor.

A sensor's tracker refuses every frame older than its last one (``out_of_order``), so a single
frame dated 2200-01-01 would make every later, genuine frame of that sensor out of order, and
that state survives restarts. :class:`FrameClock` is asked before a frame reaches the tracker;
a frame it finds implausible is refused (the stream worker dead-letters it) and does not move
the sensor's clock. A time is implausible when it is

* before the first artificial satellite (Sputnik 1, 1957-10-04): year 0001, say;
* more than ``max_ahead_s`` after the present (the wall clock): detections cannot come from
  the future;
* more than ``max_jump_s`` after the sensor's last frame, for recorded (not live) data, until
  ``jump_confirm_frames`` frames in a row agree on the new time: a sensor really back after a
  long pause is then followed, one stray frame is not. A live frame (within ``max_ahead_s`` of
  the present) may always move on: the wall clock vouches for it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from .constants import SECONDS_PER_DAY
from .models import format_time
from .times import datetime_from_unix

__all__ = ["SPUTNIK_1_UNIX_S", "FrameClock"]

#: Launch of Sputnik 1, 1957-10-04 19:28:34 UTC: no optical sensor saw a satellite before it.
SPUTNIK_1_UNIX_S = datetime(1957, 10, 4, 19, 28, 34, tzinfo=UTC).timestamp()


def _shown(time_s: float) -> str:
    try:
        return format_time(datetime_from_unix(time_s))
    except (OverflowError, ValueError, OSError):
        return f"{time_s:.0f} s after 1970"


class FrameClock:
    """Judges frame times per sensor (see the module docstring). Only the jumps being
    confirmed are remembered, in memory: after a restart a jump is confirmed afresh."""

    def __init__(self, *, max_ahead_s: float, max_jump_s: float, jump_confirm_frames: int):
        if not (max_ahead_s > 0 and max_jump_s > 0 and jump_confirm_frames >= 1):
            raise ValueError("FrameClock needs max_ahead_s > 0, max_jump_s > 0, confirm >= 1")
        self.max_ahead_s = max_ahead_s
        self.max_jump_s = max_jump_s
        self.jump_confirm_frames = jump_confirm_frames
        self._jumps: dict[str, list[float]] = {}

    def problem(
        self, sensor_id: str, time_s: float, *, last_time_s: float, now_s: float
    ) -> str | None:
        """Why a frame of ``sensor_id`` at ``time_s`` is implausible, or None to take it.
        ``last_time_s`` is the sensor's last processed frame (NaN if none), ``now_s`` the
        present (Unix seconds)."""
        if time_s < SPUTNIK_1_UNIX_S:
            return (
                f"implausible time: {_shown(time_s)} is before the first artificial "
                f"satellite (1957-10-04)"
            )
        ahead_s = time_s - now_s
        if ahead_s > self.max_ahead_s:
            return (
                f"implausible time: {_shown(time_s)} is {ahead_s / SECONDS_PER_DAY:,.1f} days "
                f"in the future (at most {self.max_ahead_s:g} s allowed)"
            )
        live = ahead_s >= -self.max_ahead_s
        jump_s = time_s - last_time_s
        if live or not math.isfinite(jump_s) or jump_s <= self.max_jump_s:
            self._jumps.pop(sensor_id, None)
            return None
        seen = self._jumps.setdefault(sensor_id, [])
        if seen and not (0.0 <= time_s - seen[-1] <= self.max_jump_s):
            seen.clear()  # frames beyond the jump disagree with each other: start again
        seen.append(time_s)
        if len(seen) >= self.jump_confirm_frames:
            del self._jumps[sensor_id]
            return None
        return (
            f"implausible time: {_shown(time_s)} is {jump_s / SECONDS_PER_DAY:,.1f} days after "
            f"the sensor's last frame ({_shown(last_time_s)}; at most {self.max_jump_s:g} s at "
            f"once, unless {self.jump_confirm_frames} frames in a row agree)"
        )
