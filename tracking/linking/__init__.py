"""From UCT tracklets to provisional objects: linking across passes, a provisional catalogue.

* :mod:`.linker`: :class:`Linker` (``link``, ``identify``, ``expire``, state as bytes),
  :class:`LinkerSettings`, :class:`ProvisionalObject`.
* :mod:`.orbits`: provisional orbits as SGP4 mean elements; the fit over many tracklets and
  the chi-square gate of a new one.
* :mod:`.region`: the search of a one-tracklet object's admissible region for a later
  tracklet; :mod:`.secular`, the fast approximate propagation it uses.
* :mod:`.identify`: matching objects with element sets that arrive later.
* :mod:`.records`: :class:`UctObjectRecord`, the record of ``uct_objects.jsonl`` and of the
  ``orbitlink.uct-objects`` topic.

See ``docs/uct.md``.
"""

from .linker import LinkAttempt, Linker, LinkerSettings, ProvisionalObject
from .records import UctObjectRecord

__all__ = ["LinkAttempt", "Linker", "LinkerSettings", "ProvisionalObject", "UctObjectRecord"]
