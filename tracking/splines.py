"""Cubic splines, from ``scipy.interpolate`` imported on first use.

``scipy.interpolate`` imports ``scipy.optimize``, which with its own imports is about a third
of a second of start-up on a 2-core machine. An offline replay that only tracks never draws a
spline, so it should not pay for them; one that correlates pays on its first frame. A worker
has them already when it starts (the linker's orbit determination imports them), and
:meth:`~orbitlink.tracking.pipeline.Pipeline.prepare` calls :func:`load` so that this stays
true whatever the linker imports.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from .types import Array

__all__ = ["cubic_coefficients", "load"]


def load() -> None:
    """Import the spline code now (a worker does this before it says it is ready)."""
    import scipy.interpolate  # noqa: F401


def cubic_coefficients(x: ArrayLike, y: ArrayLike, axis: int = 0) -> Array:
    """The polynomial coefficients of ``scipy.interpolate.CubicSpline(x, y, axis=axis)``
    (not-a-knot ends), ``(4, len(x) - 1, ...)``: highest power first, in each interval's
    offset from its left knot."""
    from scipy.interpolate import CubicSpline

    return CubicSpline(x, y, axis=axis).c
