"""Cubic splines, from ``scipy.interpolate`` imported on first use.

``scipy.interpolate`` imports ``scipy.optimize``, which with its own imports is about a third
of a second of start-up on a 2-core machine. A replay or worker that only tracks never draws a
spline, so it should not pay for them; one that correlates pays on its first frame, or before
it, in :func:`load` (what :meth:`~orbitlink.tracking.pipeline.Pipeline.prepare` calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from .types import Array

if TYPE_CHECKING:
    from scipy.interpolate import CubicSpline

__all__ = ["cubic_coefficients", "cubic_spline", "load"]


def load() -> None:
    """Import the spline code now (a worker does this before it says it is ready)."""
    import scipy.interpolate  # noqa: F401


def cubic_spline(x: ArrayLike, y: ArrayLike, axis: int = 0) -> CubicSpline:
    """``scipy.interpolate.CubicSpline(x, y, axis=axis)``: not-a-knot ends."""
    from scipy.interpolate import CubicSpline

    return CubicSpline(x, y, axis=axis)


def cubic_coefficients(x: ArrayLike, y: ArrayLike, axis: int = 0) -> Array:
    """The polynomial coefficients of :func:`cubic_spline`, ``(4, len(x) - 1, ...)``: highest
    power first, in each interval's offset from its left knot."""
    return cubic_spline(x, y, axis).c
