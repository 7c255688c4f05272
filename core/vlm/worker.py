"""One daemon thread, started by the first job, that runs the jobs given to it in order.

The transformers engine runs every generation on one such thread of its own: compiled CUDA graphs
belong to the thread that recorded them, so a new thread per answer would record them again.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["Worker"]


class Worker:
    """One daemon thread, started by the first job, that runs the jobs given to it in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, job: Callable[[], None]) -> threading.Event:
        """Queues ``job``; the event is set when it has run."""
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="seesay-generate", daemon=True)
                self._thread.start()
        done = threading.Event()
        self._jobs.put((job, done))
        return done

    def _run(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                job()
            finally:
                done.set()
