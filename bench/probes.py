"""Thin wrappers that watch the engines without changing what they do.

* :class:`ModelTime` collects the wall-clock intervals spent inside model calls: ``stt.transcribe``,
  the VLM's ``prepare`` and its generation (from the stream's first request to its end: the model
  works on its own thread in between, so the whole span is model time), ``tts.synthesize``.
  Calls overlap in the streaming pipeline (speech is synthesized while the model writes), so the
  time inside model calls on the critical path is the length of the *union* of the intervals.
* :class:`TokenClock` stamps the end of every forward pass of the LLaVA model: one pass per token,
  which gives exact token counts and decode speed whatever text the tokens make.
* :class:`TimedOCR` does the same for the text reader.
* :class:`ScriptedVLM` hands on :data:`bench.inputs.ANSWER` in step with the tokens generated.

The benchmarks hand the wrapped engines to SeeSay's own pipeline (``core.engines.Loaders``), so what they
measure is :class:`core.pipeline.Pipeline` as the app runs it.
* :class:`PeakMemory` gives the peak resident memory of each block of work (the kernel's record where
  it can be restarted, else sampled on a thread).
"""

from __future__ import annotations

import math
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

now = time.perf_counter


# --- time inside model calls -----------------------------------------------------------------


class ModelTime:
    """Thread-safe list of (kind, start, end) intervals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.intervals: list[tuple[str, float, float]] = []

    def add(self, kind: str, start: float, end: float) -> None:
        with self._lock:
            self.intervals.append((kind, start, end))

    def clear(self) -> None:
        with self._lock:
            self.intervals.clear()

    def union(self, lo: float, hi: float, kinds: Sequence[str] | None = None) -> float:
        """Seconds within [lo, hi] covered by at least one interval (of ``kinds``, if given)."""
        with self._lock:
            spans = sorted((max(s, lo), min(e, hi)) for k, s, e in self.intervals
                           if (kinds is None or k in kinds) and e > lo and s < hi)
        total, end = 0.0, lo
        for start, stop in spans:
            start = max(start, end)
            if stop > start:
                total += stop - start
                end = stop
        return total

    def inside(self, kind: str, lo: float, hi: float) -> float:
        """Seconds of ``kind`` calls within [lo, hi] (calls of one kind never overlap here)."""
        return self.union(lo, hi, (kind,))


class TimedSTT:
    def __init__(self, inner: Any, times: ModelTime) -> None:
        self.inner, self.times, self.name = inner, times, inner.name

    def transcribe(self, samples, language=None):
        start = now()
        try:
            return self.inner.transcribe(samples, language)
        finally:
            self.times.add("stt", start, now())


class TimedTTS:
    def __init__(self, inner: Any, times: ModelTime) -> None:
        self.inner, self.times, self.name = inner, times, inner.name
        self.sends_text_off_machine = inner.sends_text_off_machine

    def synthesize(self, text: str, language: str = "en"):
        start = now()
        try:
            return self.inner.synthesize(text, language)
        finally:
            self.times.add("tts", start, now())


class TimedOCR:
    def __init__(self, inner: Any, times: ModelTime) -> None:
        self.inner, self.times, self.name = inner, times, inner.name

    def read(self, image):
        start = now()
        try:
            return self.inner.read(image)
        finally:
            self.times.add("ocr", start, now())


class TimedVLM:
    def __init__(self, inner: Any, times: ModelTime, clock: "TokenClock") -> None:
        self.inner, self.times, self.clock, self.name = inner, times, clock, inner.name
        self.can_sample = False  # the benchmarks time one answer, not answers written again (their settings: 0)

    def prepare(self, photo) -> None:
        start = now()
        try:
            with self.clock.ignored():  # its forward pass is not an answer token
                self.inner.prepare(photo)
        finally:
            self.times.add("prepare", start, now())

    def stream(self, photo, history, question, *, max_new_tokens: int, min_new_tokens: int = 0,
               notes: Sequence[str] = (), tokens: list | None = None) -> Iterator[str]:
        start = now()
        self.clock.start()
        try:
            yield from self.inner.stream(photo, history, question, max_new_tokens=max_new_tokens,
                                         min_new_tokens=min_new_tokens, notes=notes, tokens=tokens)
        finally:
            self.times.add("vlm", start, now())


class ScriptedVLM:
    """Passes on the words of ``script`` as the wrapped model generates its tokens.

    After k of ``max_new_tokens`` tokens, the first ceil(k / max_new_tokens * words) words have been
    handed on; the rest follow when the model ends. The model does all its real work; only the text
    changes, so that the voice has real sentences to split and speak.
    """

    def __init__(self, inner: Any, clock: "TokenClock", script: str) -> None:
        self.inner, self.clock, self.name = inner, clock, inner.name
        self.can_sample = False  # random weights: sampled answers would say nothing the script does not
        self.words = script.split()

    def prepare(self, photo) -> None:
        self.inner.prepare(photo)

    def stream(self, photo, history, question, *, max_new_tokens: int, min_new_tokens: int = 0,
               notes: Sequence[str] = (), tokens: list | None = None) -> Iterator[str]:
        sent = 0
        for piece in self.inner.stream(photo, history, question, max_new_tokens=max_new_tokens,
                                       min_new_tokens=min_new_tokens, notes=notes, tokens=tokens):
            if not piece:
                continue
            due = math.ceil(len(self.words) * min(self.clock.tokens, max_new_tokens) / max_new_tokens)
            if due > sent:
                yield ("" if sent == 0 else " ") + " ".join(self.words[sent:due])
                sent = due
        if sent < len(self.words):
            yield ("" if sent == 0 else " ") + " ".join(self.words[sent:])


class Stamps:
    """One time stamp per answer token; what :class:`TokenClock` and ``bench.gpu_build.StreamClock`` share."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.context = 0  # tokens the answer's first token saw (the prompt, its kept prefix included)

    def start(self) -> None:
        self.stamps = []

    @property
    def tokens(self) -> int:
        return len(self.stamps)

    def decode_rate(self) -> float:
        """Tokens per second after the first token (the prefill is not decoding)."""
        stamps = self.stamps
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return float("nan")
        return (len(stamps) - 1) / (stamps[-1] - stamps[0])


class TokenClock(Stamps):
    """Stamps each forward pass of ``model`` made by a generation (not by ``prepare``)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self._local = threading.local()  # per thread, unlike thread ids, which are reused
        model.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs, output) -> None:
        if not getattr(self._local, "ignore", False):
            if not self.stamps:
                self.context = _context(kwargs)
            self.stamps.append(now())

    @contextmanager
    def ignored(self) -> Iterator[None]:
        """Forward passes made by this thread inside the block are not counted."""
        self._local.ignore = True
        try:
            yield
        finally:
            self._local.ignore = False



def _context(kwargs: dict) -> int:
    """Tokens in the cache and the input of a forward pass, once it has run: its last position + 1, or the
    length of the cache it filled."""
    positions = kwargs.get("position_ids")
    if positions is not None and hasattr(positions, "max"):
        return int(positions.max()) + 1
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    return int(cache.get_seq_length()) if hasattr(cache, "get_seq_length") else 0


# --- memory ----------------------------------------------------------------------------------


def rss_bytes() -> int:
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:  # Linux without psutil
        return _status_kib("VmRSS") * 1024


def high_water_bytes() -> int:
    """The kernel's record of the process's peak resident memory (Linux; 0 elsewhere)."""
    return _status_kib("VmHWM") * 1024


def _status_kib(key: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class PeakMemory:
    """The peak resident memory of blocks of work: exact where the kernel's record of the peak (VmHWM) can
    be started afresh (Linux), else sampled every ``interval`` seconds on a daemon thread.

    ``all_time`` keeps the process's peak across windows (the kernel's record restarts with each one).
    """

    interval: float = 0.01
    peak: int = 0
    all_time: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.all_time = high_water_bytes()
        threading.Thread(target=self._run, name="bench-memory", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    @contextmanager
    def window(self) -> Iterator[dict]:
        """``with memory.window() as seen:`` then ``seen["peak"]``: the peak inside the block."""
        from .machine import reset_peak

        self.all_time = max(self.all_time, high_water_bytes())
        exact = reset_peak()
        self.peak = rss_bytes()
        seen: dict = {}
        try:
            yield seen
        finally:
            seen["peak"] = high_water_bytes() if exact else max(self.peak, rss_bytes())
            self.all_time = max(self.all_time, seen["peak"])

    def stop(self) -> None:
        self._stop.set()


def gib(n: float) -> float:
    return n / 2**30


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
