"""The engines, loaded once per process and shared by every session.

Each engine has its own ``st.cache_resource`` factory, so one that fails (no Whisper model, say)
leaves the others working. A factory never raises: it caches an :class:`Outcome`, the engine or
the :class:`~core.errors.SeeSayError` that stopped it, so a missing model is not retried on every
rerun; :func:`retry` forgets a failure. The public functions return the engine or raise that
error. Engines are never changed after their factory returns: every session uses the same objects.

``LOADS`` counts the factory runs by engine, so tests can prove models load once per process.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from core.errors import ModelUnavailableError, SeeSayError

__all__ = ["LOADS", "Outcome", "settings", "vlm", "stt", "tts", "turns", "tried", "retry"]

log = logging.getLogger(__name__)

#: how many times each factory ran in this process: "settings", "vlm", "stt", ("tts", name, private)
LOADS: collections.Counter = collections.Counter()
_LOADS_LOCK = threading.Lock()
#: engines whose factory has run in this process, successfully or not (a page says "loading"
#: before the long first load, and only then)
_TRIED: set = set()


@dataclass(frozen=True)
class Outcome:
    """What a factory produced: an engine, or the error that explains why there is none."""

    value: Any = None
    error: SeeSayError | None = None
    seconds: float = 0.0

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def _count(key: Any) -> None:
    with _LOADS_LOCK:
        LOADS[key] += 1


def _attempt(key: Any, what: str, load: Callable[[], Any]) -> Outcome:
    import time

    _count(key)
    t = time.perf_counter()
    try:
        outcome = Outcome(value=load())
    except SeeSayError as error:
        log.warning("%s unavailable: %s", what, error.message)
        outcome = Outcome(error=error)
    except Exception:  # a bug or an unexpected library failure: say so, log the details
        log.exception("%s failed to load", what)
        outcome = Outcome(error=ModelUnavailableError(
            f"The {what} could not be started because of an unexpected problem.",
            "Whoever runs SeeSay can find the details in its log.",
        ))
    outcome = Outcome(outcome.value, outcome.error, time.perf_counter() - t)
    if outcome.error is None:
        log.info("%s ready in %.1fs", what, outcome.seconds)
    _TRIED.add(key if isinstance(key, str) else key[0])
    return outcome


# --- factories (the only st.cache_resource in SeeSay) -------------------------------------------

@st.cache_resource(show_spinner=False)
def _settings() -> Outcome:
    from core.config import load_settings

    return _attempt("settings", "settings", load_settings)


@st.cache_resource(show_spinner=False)
def _vlm() -> Outcome:
    from core.vlm import load_vlm

    conf = _settings().get()
    return _attempt("vlm", "vision-language model", lambda: load_vlm(
        conf.llava(), device=conf.resolved_device(), quantization=conf.quantization(), dtype=conf.dtype(),
        compile=conf.compile()))


@st.cache_resource(show_spinner=False)
def _stt() -> Outcome:
    from core.stt import load_stt

    conf = _settings().get()
    return _attempt("stt", "speech recognition model",
                    lambda: load_stt(conf.stt_engine, conf.whisper(), conf.resolved_device(),
                                     timeout=conf.network_timeout))


@st.cache_resource(show_spinner=False)
def _tts(name: str, private: bool) -> Outcome:
    from core.tts import load_tts

    conf = _settings().get()
    return _attempt(("tts", name, private), f"{name} voice", lambda: load_tts(
        name, private=private, timeout=conf.network_timeout, piper_voice=conf.piper_voice))


@st.cache_resource(show_spinner=False)
def _turns():
    from core.turns import TurnLock

    _count("turns")
    return TurnLock()


# --- what the pages call ------------------------------------------------------------------------

def settings():
    """The validated :class:`core.config.Settings`; raises ConfigError."""
    return _settings().get()


def vlm():
    """The shared vision-language model; raises ModelUnavailableError (or ConfigError)."""
    return _vlm().get()


def stt():
    """The shared speech recogniser; raises ModelUnavailableError (or ConfigError)."""
    return _stt().get()


def tts(name: str, private: bool):
    """The voice ``name`` (a core.tts engine name); raises ModelUnavailableError or ConfigError."""
    return _tts(name, bool(private)).get()


def tried(which: str) -> bool:
    """True when engine ``which`` ("vlm", "stt", "tts") was loaded, or failed to, in this process."""
    return which in _TRIED


def turns():
    """The one TurnLock of this process: one answer at a time on the shared model."""
    return _turns()


def retry(which: str) -> None:
    """Forget a failed load so the next call tries again ("settings", "vlm", "stt" or "tts")."""
    factory = {"settings": _settings, "vlm": _vlm, "stt": _stt, "tts": _tts}[which]
    factory.clear()
    _TRIED.discard(which)
    if which == "settings":  # everything was built from the old settings
        for other in (_vlm, _stt, _tts):
            other.clear()
        _TRIED.clear()
