"""Giving freed memory back to the system after the big pieces of work.

Reading a photo's text (onnxruntime), encoding a photo and writing an answer (torch) each allocate
and free tens to hundreds of megabytes of working memory, on threads of their own. glibc keeps what
they free in per-thread heaps for reuse, so the process's resident memory creeps up with every photo
even though nothing more is alive; on the CPU default this was 150-250 MB after a few questions
(bench/e2e.py, 2 cores), against a 3 GB budget for the whole process. :func:`give_back` asks glibc to
return those free pages now (``malloc_trim``: a few milliseconds, done after the work, not during it).
Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

__all__ = ["give_back"]



@lru_cache(maxsize=1)
def _trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # musl and other C libraries have no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def give_back() -> bool:
    """Return the C heap's free memory to the system; True when the C library could be asked."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
