"""Tracker states in the state table, in pieces when one record cannot hold them.

A sensor's tracker state is one value of the state table, and so one record of its compacted
changelog. A crowded sensor's state can outgrow the largest record the broker takes (four
frames of 20,000 detections make 33 MB), and a changelog write the producer cannot send
crashed the worker and left the local store holding a state the changelog never got. So
:class:`SensorStates` writes a state over ``piece_bytes`` as numbered pieces plus a small
manifest under the sensor's own key, and never writes a state over ``max_state_bytes`` at
all (:class:`StateTooLarge`: the worker dead-letters the frame that would have made it).

Pieces go to two alternating generations and the manifest, naming its generation, the piece
count and the SHA-256 of the whole, is written after its pieces. A changelog read up to any
point, compacted or not, therefore holds every piece of the manifest it ends with: all of a
sensor's keys are written in order to one partition, and the next write uses the other
generation. A state that fits in one piece is stored plain, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping

__all__ = ["MANIFEST_MAGIC", "SensorStates", "StateTooLarge"]

#: First bytes of a manifest (a tracker state starts ``ORBITLINK-TRACKER-``).
MANIFEST_MAGIC = b"ORBITLINK-PIECES-1\n"


class StateTooLarge(ValueError):
    """A state over the ``max_state_bytes`` bound; nothing was written."""


def _piece_key(sensor_id: bytes, generation: int, index: int) -> bytes:
    # Sensor state keys never start with a NUL byte, so piece keys cannot collide with them.
    return b"\x00piece:%d:%d:" % (generation, index) + sensor_id


class SensorStates:
    """Sensor id -> tracker state over a table of bytes (see the module docstring)."""

    def __init__(
        self, table: MutableMapping[bytes, bytes], *, piece_bytes: int, max_state_bytes: int
    ) -> None:
        if not 0 < piece_bytes <= max_state_bytes:
            raise ValueError("SensorStates needs 0 < piece_bytes <= max_state_bytes")
        self.table = table
        self.piece_bytes = piece_bytes
        self.max_state_bytes = max_state_bytes

    def get(self, sensor_id: str) -> bytes | None:
        """The sensor's state, or None. Raises ``ValueError`` when pieces are missing or do
        not match their manifest (a table that is not this class's writing)."""
        key = sensor_id.encode()
        value = self.table.get(key)
        if value is None or not value.startswith(MANIFEST_MAGIC):
            return value
        manifest = json.loads(value[len(MANIFEST_MAGIC) :])
        parts = []
        for index in range(manifest["pieces"]):
            piece = self.table.get(_piece_key(key, manifest["generation"], index))
            if piece is None:
                raise ValueError(f"state of sensor {sensor_id!r}: piece {index} is missing")
            parts.append(piece)
        state = b"".join(parts)
        if (
            len(state) != manifest["bytes"]
            or hashlib.sha256(state).hexdigest() != manifest["sha256"]
        ):
            raise ValueError(f"state of sensor {sensor_id!r}: pieces do not match the manifest")
        return state

    def check_size(self, sensor_id: str, state: bytes) -> None:
        """Raise :class:`StateTooLarge` when ``state`` may not be stored."""
        if len(state) > self.max_state_bytes:
            raise StateTooLarge(
                f"too large: the tracker state of sensor {sensor_id!r} would grow to "
                f"{len(state) / 1e6:,.1f} MB, over the {self.max_state_bytes / 1e6:,.1f} MB "
                f"bound (max_state_bytes)"
            )

    def put(self, sensor_id: str, state: bytes) -> None:
        """Store the sensor's state: plain, or as pieces and a manifest."""
        self.check_size(sensor_id, state)
        key = sensor_id.encode()
        old = self._manifest(key)
        if len(state) <= self.piece_bytes:
            self.table[key] = state
            if old is not None:
                self._delete(key, old["generation"], 0, old["pieces"])
                self._delete(key, 1 - old["generation"], 0, old["previous_pieces"])
            return
        generation = 0 if old is None else 1 - old["generation"]
        leftover = 0 if old is None else old["previous_pieces"]
        pieces = [
            state[start : start + self.piece_bytes]
            for start in range(0, len(state), self.piece_bytes)
        ]
        for index, piece in enumerate(pieces):
            self.table[_piece_key(key, generation, index)] = piece
        self._delete(key, generation, len(pieces), leftover)
        manifest = {
            "generation": generation,
            "pieces": len(pieces),
            "previous_pieces": 0 if old is None else old["pieces"],
            "bytes": len(state),
            "sha256": hashlib.sha256(state).hexdigest(),
        }
        self.table[key] = MANIFEST_MAGIC + json.dumps(manifest, sort_keys=True).encode()

    def _manifest(self, key: bytes) -> dict | None:
        value = self.table.get(key)
        if value is None or not value.startswith(MANIFEST_MAGIC):
            return None
        return json.loads(value[len(MANIFEST_MAGIC) :])

    def _delete(self, key: bytes, generation: int, start: int, stop: int) -> None:
        for index in range(start, stop):
            piece_key = _piece_key(key, generation, index)
            if self.table.get(piece_key) is not None:
                del self.table[piece_key]
