"""Photos' kept state within a memory budget, for every visitor of one process (SEESAY_MEMORY_BUDGET_MB).

What SeeSay keeps of a photo so that its questions are quick, the model's prefix (about 100 MB of keys
and values on the CPU default) and the text read in it, is what grows with the number of people using
one app. :class:`MemoryBudget` accounts for it, whoever it belongs to, and before a new photo's prefix is
computed makes room for it: while the process's resident memory with the new photo would pass the
budget, the oldest kept state is freed first. Freeing loses nothing a person gave: a freed prefix (or
reading) is computed again if its photo is asked about again, which takes as long as a new photo.

State of a photo whose work is going on (being prepared, read, or asked about, or with a question
waiting its turn: :meth:`MemoryBudget.in_use`) is never freed, so no visitor loses what another's photo
needs. When even then the new photo cannot fit, it is refused with :data:`NO_ROOM`, said to the person
like any other error; their photo and question stay, to try again.

The budget is not a hard cap on the process: it is checked before a photo's state is made, against the
memory resident then, and working memory (an answer being written, speech being recognised) comes and
goes beside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import GenerationError
from ..i18n import N_

__all__ = ["MemoryBudget", "NO_ROOM", "no_room"]

log = logging.getLogger(__name__)

MB = 1024 * 1024

#: what a person is told when their photo cannot fit now (message, hint)
NO_ROOM = (N_("SeeSay is helping other people and has no room for your photo right now."),
           N_("Please try again in a minute."))


def no_room() -> GenerationError:
    return GenerationError(*NO_ROOM)


@dataclass
class _Kept:
    size: int  # bytes
    free: Callable[[], object]  # frees it (its owner forgets it)


def _resident() -> int:
    """The process's resident memory now, in bytes (0 where /proc is not there: no budget can be kept)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class MemoryBudget:
    """The kept state of every photo in one process, freed oldest first to stay within ``limit`` bytes
    of resident memory (0: no limit; the state is still accounted)."""

    def __init__(self, limit: int = 0, *, resident: Callable[[], int] = _resident,
                 settle_seconds: float = 2.0, give_back: Callable[[], object] | None = None) -> None:
        from ..memory import give_back as trim

        self.limit = max(0, int(limit))
        self._resident = resident
        # memory of other work (a recording being transcribed, a photo's text being read) comes and goes:
        # before refusing a photo, wait this long for it to go
        self.settle_seconds = settle_seconds
        self._give_back = give_back or trim
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()  # (photo key, kind), oldest first
        self._busy: Counter[str] = Counter()  # photo keys whose work is going on
        self._lock = threading.RLock()
        self.freed = 0  # bytes freed to make room, since the start
        self.refused = 0  # photos refused

    @classmethod
    def from_mb(cls, mb: int, **kwargs) -> MemoryBudget:
        return cls(int(mb) * MB, **kwargs)

    # -- what is kept -----------------------------------------------------------------------------
    def keep(self, key: str, kind: str, size: int, free: Callable[[], object]) -> None:
        """Account ``size`` bytes of ``kind`` ("prefix", "reading") kept for the photo ``key``; ``free``
        frees it (and must not call back into the budget with its lock held elsewhere)."""
        with self._lock:
            self._kept[(key, kind)] = _Kept(int(size), free)
            self._kept.move_to_end((key, kind))

    def used(self, key: str, kind: str) -> None:
        """The photo's ``kind`` was just used: it is the newest now."""
        with self._lock:
            if (key, kind) in self._kept:
                self._kept.move_to_end((key, kind))

    def forget(self, key: str, kind: str) -> None:
        """Its owner has freed it."""
        with self._lock:
            self._kept.pop((key, kind), None)

    def kept_bytes(self) -> int:
        with self._lock:
            return sum(k.size for k in self._kept.values())

    def kept(self) -> list[tuple[str, str]]:
        """(photo key, kind) of what is kept, oldest first."""
        with self._lock:
            return list(self._kept)

    # -- work going on ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def in_use(self, key: str) -> Iterator[None]:
        """While inside, nothing kept for the photo ``key`` is freed (its work is going on)."""
        with self._lock:
            self._busy[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[key] -= 1
                if self._busy[key] <= 0:
                    del self._busy[key]

    def busy(self, key: str) -> bool:
        with self._lock:
            return self._busy[key] > 0

    # -- room -------------------------------------------------------------------------------------
    def make_room(self, need: int, key: str) -> int:
        """Make room for ``need`` more bytes for the photo ``key``: free the oldest kept state of photos
        whose work is not going on until the resident memory plus ``need`` is within the limit. Returns
        the bytes freed; raises GenerationError (:data:`NO_ROOM`) when it cannot be made."""
        if not self.limit:
            return 0
        freed = 0
        deadline = time.monotonic() + self.settle_seconds
        while True:
            over = self._resident() + need - self.limit
            if over <= 0:
                return freed
            with self._lock:
                idle = [k for k in self._kept if k[0] != key and not self._busy[k[0]]]
                chosen, size = [], 0
                for k in idle:  # oldest first, only as much as is over
                    if size >= over:
                        break
                    chosen.append((k, self._kept.pop(k)))
                    size += chosen[-1][1].size
            for (photo, kind), kept in chosen:
                kept.free()
                log.info("memory budget: freed a photo's %s (%d MB) to make room", kind, kept.size // MB)
            freed += size
            self.freed += size
            if chosen:
                self._give_back()
                continue  # measured again: what was freed is gone from the resident memory now
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)  # nothing more can be freed: other work's memory may still go
        self.refused += 1
        log.warning("memory budget: no room for a new photo (%d MB resident, %d MB needed, budget %d MB, "
                    "%d MB kept for photos in use)", self._resident() // MB, need // MB, self.limit // MB,
                    self.kept_bytes() // MB)
        raise no_room()
