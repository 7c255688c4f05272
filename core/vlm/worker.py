"""The transformers engine's helpers for generation: its one generation thread, stopping when asked,
and recording the probability of each token it chooses.

The engine runs every generation on one thread of its own: compiled CUDA graphs belong to the
thread that recorded them, so a new thread per answer would record them again.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Worker", "record_choices", "stop_when"]


def stop_when(stop: threading.Event) -> Any:
    """A transformers StoppingCriteria that ends the generation at the next token once ``stop`` is set."""
    import torch
    from transformers import StoppingCriteria

    class _StopWhenAsked(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

    return _StopWhenAsked()


def record_choices(chosen: list) -> Any:
    """A transformers LogitsProcessor, last in line, that appends (token id, log-probability) of each
    step's most likely token to ``chosen``, as tensors (no device sync per token): the distribution
    the greedy choice is made from, penalties applied."""
    import torch
    from transformers import LogitsProcessor

    class _Probabilities(LogitsProcessor):
        def __call__(self, input_ids, scores):
            best = torch.log_softmax(scores[0].float(), dim=-1).max(dim=-1)
            chosen.append((best.indices, best.values))
            return scores

    return _Probabilities()


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
