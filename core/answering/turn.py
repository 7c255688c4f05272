"""The turn stage: questions take turns on the shared model, and the person hears how many are ahead."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from ..events import Event, Queued
from ..turns import TurnLock
from .base import Draft, Question, Rest

__all__ = ["TakeTurn", "in_turn"]


class TakeTurn:
    """The stages after this one run in this question's turn on the shared model (``lock``); until it comes,
    ``Queued(ahead)`` each time the number of questions ahead changes. The turn is given back however the
    stages end: done, failed, or left half-way by the person."""

    def __init__(self, lock: TurnLock) -> None:
        self.lock = lock

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        ticket = self.lock.take()
        try:
            t = time.perf_counter()
            yield from _wait(self.lock, ticket)
            draft.timings["queued"] = time.perf_counter() - t
            yield from rest(question)
        finally:
            self.lock.release(ticket)


def in_turn(lock: TurnLock, work: Callable[[], object]) -> Iterator[Queued]:
    """Do ``work`` on the shared model in its turn (a photo read ahead of its question), saying Queued."""
    ticket = lock.take()
    try:
        yield from _wait(lock, ticket)
        work()
    finally:
        lock.release(ticket)


def _wait(lock: TurnLock, ticket: int) -> Iterator[Queued]:
    ahead = lock.ahead(ticket)
    while ahead:
        yield Queued(ahead)
        ahead = lock.wait(ticket, ahead)
