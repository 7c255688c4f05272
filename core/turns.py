"""A first-come, first-served lock for one shared model, that can say how many are waiting.

A hosted SeeSay serves many people from one model object. Generation runs one at a time; the
others wait their turn and are told how many questions are ahead of them. A ticket that is given
up (the person left the page) leaves the queue, so nobody behind it waits for nothing.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque

__all__ = ["TurnLock"]


class TurnLock:
    """A fair lock: holders are served in the order they took a ticket.

    Use ``take()``, then ``wait(ticket, ahead)`` until it returns 0 (it returns the number ahead each
    time it changes), and always ``release(ticket)`` in a ``finally``, also when giving up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._numbers = itertools.count()
        self._queue: deque[int] = deque()  # head holds the lock

    def take(self) -> int:
        with self._cond:
            ticket = next(self._numbers)
            self._queue.append(ticket)
            return ticket

    def ahead(self, ticket: int) -> int:
        """How many are before ``ticket`` (the one running included)."""
        with self._cond:
            return self._queue.index(ticket)

    def wait(self, ticket: int, known: int | None = None, timeout: float = 1.0) -> int:
        """Wait until the number ahead differs from ``known`` (the last one told), or ``timeout``.

        Returns the number ahead. Comparing with what was last told, not with the position at the
        time of the call, means no change is missed between two calls.
        """
        with self._cond:
            if known is None:
                known = self._queue.index(ticket)
            if known:
                self._cond.wait_for(lambda: self._queue.index(ticket) != known, timeout)
            return self._queue.index(ticket)

    def release(self, ticket: int) -> None:
        """Give the turn (or the place in the queue) back."""
        with self._cond:
            if ticket in self._queue:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def __len__(self) -> int:
        """Questions waiting or running."""
        with self._cond:
            return len(self._queue)
