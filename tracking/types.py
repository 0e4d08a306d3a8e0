"""Type aliases shared by the library: numpy arrays by element type, and small vocabularies."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["Array", "BoolArray", "Disposition", "IntArray", "TrackStatus"]

#: Float arrays (the default for angles, times and covariances).
Array = NDArray[np.float64]
#: Index arrays.
IntArray = NDArray[np.intp]
#: Masks.
BoolArray = NDArray[np.bool_]

#: How a frame was handled: run through the tracker, or recognised and left alone.
Disposition = Literal["processed", "duplicate", "out_of_order"]
#: The life-cycle state a track update reports.
TrackStatus = Literal["tentative", "confirmed", "coasting", "deleted"]
