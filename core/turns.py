"""A first-come, first-served lock for one shared model, that can say how many are waiting.

A hosted SeeSay serves many people from one model object. Generation runs one at a time (or, on a
model server that batches, a few at a time: ``slots``); the others wait their turn and are told how
many questions are ahead of them. A ticket that is given
up (the person left the page) leaves the queue, so nobody behind it waits for nothing.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque

__all__ = ["TurnLock"]


class TurnLock:
    """A fair lock that ``slots`` can hold at once, served in the order they took a ticket.

    Use ``take()``, then ``wait(ticket, ahead)`` until it returns 0 (it returns the number ahead each
    time it changes), and always ``release(ticket)`` in a ``finally``, also when giving up.
    """

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"a lock needs at least one slot, not {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._numbers = itertools.count()
        self._queue: deque[int] = deque()  # the first ``slots`` hold the lock

    def take(self) -> int:
        with self._cond:
            ticket = next(self._numbers)
            self._queue.append(ticket)
            return ticket

    def ahead(self, ticket: int) -> int:
        """How many must finish before ``ticket`` holds the lock (0: it holds it)."""
        with self._cond:
            return self._ahead(ticket)

    def _ahead(self, ticket: int) -> int:
        return max(0, self._queue.index(ticket) - self.slots + 1)

    def wait(self, ticket: int, known: int | None = None, timeout: float = 1.0) -> int:
        """Wait until the number ahead differs from ``known`` (the last one told), or ``timeout``.

        Returns the number ahead. Comparing with what was last told, not with the position at the
        time of the call, means no change is missed between two calls.
        """
        with self._cond:
            if known is None:
                known = self._ahead(ticket)
            if known:
                self._cond.wait_for(lambda: self._ahead(ticket) != known, timeout)
            return self._ahead(ticket)

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
