"""The process heap of a long-running command: what it loaded at start, out of the collector's
sight.

Python's cyclic garbage collector walks every container object it tracks on each full
collection. A worker holds hundreds of thousands of them from start to exit (the catalogue, its
element sets, the libraries' own tables), and a dense frame allocates enough records to trigger
a full collection every few hundred frames: about 70 ms at a time for the objects of the shipped
catalogue, on the frame that happens to be processed then, which was most of the p99 of frame
to association on dense frames. :func:`freeze_long_lived` moves what exists at that moment into
the permanent generation (``gc.freeze``): never walked again, still freed by reference counting
when nothing refers to it, so an element set replaced later by a catalogue update still goes.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived"]


def freeze_long_lived() -> None:
    """Keep every object that exists now out of future collections. Call it once what lives
    as long as the process is loaded.

    No collection first: one costs ~75 ms with the shipped catalogue loaded, on the way to the
    worker's first record, to free the few reference cycles the imports left behind.
    """
    gc.freeze()
