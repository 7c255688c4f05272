"""Giving freed memory back to the system after the big pieces of work.

Reading a photo's text (onnxruntime), encoding a photo and writing an answer (torch) each allocate
and free tens to hundreds of megabytes of working memory, on threads of their own. glibc keeps what
they free in per-thread heaps for reuse, so the process's resident memory creeps up with every photo
even though nothing more is alive; on the CPU default this was 150-250 MB after a few questions
(bench/e2e.py, 2 cores), against a 3 GB budget for the whole process. :func:`give_back` asks glibc to
return those free pages now (``malloc_trim``: a few milliseconds, done after the work, not during it).

Trimming cannot return pages that still hold a live allocation, and every thread that allocates gets a
heap of its own (up to 8 per core): torch's, onnxruntime's and CTranslate2's threads, the generation
thread, each answer's voice thread. :func:`limit_heaps` makes the threads share two heaps: after two
photos and four questions the CPU default held 740 MB of C heap against 980 MB (bench/e2e.py, with
:func:`give_back` after each), at no measurable cost in speed (big tensors get memory of their own).
Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

__all__ = ["give_back", "limit_heaps", "drop_pages"]

#: mallopt's M_ARENA_MAX (glibc's malloc.h)
_ARENA_MAX = -8
#: madvise's MADV_DONTNEED (Linux)
_DONTNEED = 4



@lru_cache(maxsize=1)
def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.madvise.argtypes, libc.madvise.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError):  # musl and other C libraries have neither
        return None
    return libc


def give_back() -> bool:
    """Return the C heap's free memory to the system; True when the C library could be asked."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def limit_heaps(count: int = 2) -> bool:
    """Let threads that have not allocated yet share ``count`` heaps (glibc's M_ARENA_MAX); True if set."""
    libc = _glibc()
    return libc is not None and libc.mallopt(_ARENA_MAX, count) == 1


def drop_pages(address: int, size: int) -> int:
    """Hand the whole pages of ``size`` bytes at ``address`` back to the system (madvise DONTNEED): for
    weights mapped from a checkpoint that have just been converted, so that loading does not hold the
    stored and the converted copy at once. The memory must never be read again: a page of a mapped file
    would be read from the file again, an anonymous one would read as zeros. Returns the bytes dropped."""
    libc = _glibc()
    page = 4096
    start, end = -(-address // page) * page, (address + size) // page * page  # whole pages only
    if libc is None or end <= start or libc.madvise(start, end - start, _DONTNEED) != 0:
        return 0
    return end - start
