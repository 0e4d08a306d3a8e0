"""The start of a worker's child process (the linker's, :mod:`.linker`): a lower priority, and
an end with the worker.

A process pool's child does not notice its parent's death by itself: it waits for work on a
queue whose write end it holds too, so a worker killed with SIGKILL (alone, as by the kernel's
out-of-memory killer) would leave its child, and multiprocessing's resource tracker that the
child keeps alive, running for good. The child watches multiprocessing's parent sentinel (a
pipe whose other end only the parent holds) from a thread, and exits when it closes.

This module imports nothing heavy: the initializer runs before the child imports its work,
so the imports already run at the lower priority.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.connection import wait

__all__ = ["EXIT_WITHOUT_PARENT", "start_child"]

#: The exit status of a child whose worker has gone.
EXIT_WITHOUT_PARENT = 3


def start_child(niceness: int) -> None:
    """Initializer of a worker's child process: lower its priority by ``niceness`` and have it
    exit as soon as its parent is gone."""
    os.nice(niceness)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent.sentinel,), name="parent-watch", daemon=True
        ).start()


def _exit_with_parent(sentinel: int) -> None:
    wait([sentinel])
    os._exit(EXIT_WITHOUT_PARENT)  # no cleanup: a link under way has nowhere to go
