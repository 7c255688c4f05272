"""The transformers engine's helpers for generation: its one generation thread, and forking a kept cache."""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Worker", "fork_cache"]


def fork_cache(cache: Any) -> Any:
    """A cache that starts with ``cache``'s tokens and grows on its own, leaving ``cache`` as it is.

    generate() extends the cache it is given. A plain DynamicLayer grows by concatenating into new
    tensors and never writes into the ones it holds, so layer objects of its own sharing the prefix's
    tensors are enough (a deep copy costs ~0.1-0.4 s per question for the CPU default's 1000-token
    prefix). Any other kind of layer gets a deep copy.
    """
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return copy.deepcopy(cache)
    if not all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None])):
        return copy.deepcopy(cache)
    fork = copy.copy(cache)
    fork.layers = [copy.copy(layer) for layer in cache.layers]
    return fork


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
