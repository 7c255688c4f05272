"""Settings, plus one visitor's choices -> the engines and the options of a question. The one place.

The app, the command line and the benchmarks all build their engines here:

* :func:`load_vlm`, :func:`load_stt`, :func:`load_voice` turn the settings into one engine each;
* :class:`Models` holds the engines of one process: each is loaded once, on first use, and shared by
  every visitor; a failure is kept (and said again) until :meth:`Models.retry`;
* :class:`Choices` are one visitor's own: voice, private mode, answer length, answer language, and
  whether answers are spoken;
* :meth:`Models.engines` and :func:`ask_options` turn choices and settings into what
  :func:`core.pipeline.ask` takes.

The voice rule lives here, once: the visitor's chosen voice, and the offline voice whenever the chosen
one cannot be loaded or cannot speak.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .errors import ModelUnavailableError, SeeSayError
from .turns import TurnLock

if TYPE_CHECKING:
    from .config import Settings
    from .ocr import TextReader
    from .stt import SpeechToText
    from .tts import TextToSpeech
    from .vlm import VisionLanguageModel

__all__ = ["Choices", "Engines", "AskOptions", "Models", "VOICES", "LENGTHS", "STAGES", "load_vlm", "load_stt",
           "load_voice", "load_ocr", "voice_name", "is_private", "answer_tokens", "ask_options"]

log = logging.getLogger(__name__)

#: a visitor's voice choice: automatic (the operator's SEESAY_TTS_ENGINE), Google's, or the offline voice
VOICES = ("automatic", "gtts", "offline")
#: a visitor's answer length
LENGTHS = ("short", "normal", "detailed")
#: the engines of a process, by stage, with what a person is told while they load
STAGES = {"vlm": "vision-language model", "stt": "speech recognition model", "voice": "voice",
          "ocr": "text reader"}
_OFFLINE_VOICES = ("offline", "piper", "espeak")


@dataclass(frozen=True)
class Choices:
    """One visitor's own choices (the Settings page); the operator's settings set the defaults."""

    voice: str = "automatic"  # one of VOICES
    private: bool = False  # nothing leaves the machine: the offline voice only
    length: str = "normal"  # one of LENGTHS
    language: str = ""  # ISO 639-1 code answers are given in; "" = the question's language
    speak: bool = True  # answers are spoken as they are written; off: only when asked for


@dataclass
class Engines:
    """The engines one question uses. The model, speech recognition and the lock are shared by everyone."""

    vlm: VisionLanguageModel
    stt: SpeechToText | None = None  # None: typed questions only
    tts: TextToSpeech | None = None  # None: answers are not spoken
    lock: TurnLock = field(default_factory=TurnLock)  # questions take turns on the shared model, in order


@dataclass(frozen=True)
class AskOptions:
    """How one question is answered."""

    max_new_tokens: int = 200  # answer length limit
    min_new_tokens: int = 0  # benchmarks force a length; 0 for people
    speak: bool = True  # synthesize speech for the answer as it is written
    language: str | None = None  # answer language; None: the question's language
    max_audio_seconds: float = 60.0
    min_audio_seconds: float = 0.5
    max_question_chars: int = 2000
    samples: int = 0  # answers written again with sampling, to measure agreement (the confidence)
    log_content: bool = False  # SEESAY_DEBUG: logs may hold the question and the answer


# --- settings -> one engine ---------------------------------------------------------------------

def load_vlm(settings: Settings) -> VisionLanguageModel:
    """The answering model: in this process, or (SEESAY_VLM_ENGINE=openai) a server's, with no torch here."""
    from . import vlm

    if settings.vlm_engine == "openai":
        from .vlm.remote import RemoteOptions

        return vlm.load_vlm(settings.vlm_model_name(), engine="openai", url=settings.vlm_url,
                            api_key=settings.vlm_api_key,
                            options=RemoteOptions(connect_seconds=settings.network_timeout))
    return vlm.load_vlm(settings.llava(), device=settings.resolved_device(), quantization=settings.quantization(),
                        dtype=settings.dtype(), compile=settings.compile())


def load_stt(settings: Settings) -> SpeechToText:
    from . import stt

    return stt.load_stt(settings.stt_engine, settings.whisper(), settings.resolved_device(),
                        timeout=settings.network_timeout)


def load_voice(settings: Settings, name: str, private: bool) -> TextToSpeech:
    from . import tts

    return tts.load_tts(name, private=private, timeout=settings.network_timeout, piper_voice=settings.piper_voice)


def load_ocr(settings: Settings) -> TextReader:
    from . import ocr

    return ocr.load_ocr(settings.ocr_engine)


# --- a visitor's choices ------------------------------------------------------------------------

def is_private(settings: Settings, choices: Choices) -> bool:
    return choices.private or settings.private


def voice_name(settings: Settings, choices: Choices) -> str:
    """The :mod:`core.tts` engine for this visitor's voice choice."""
    offline = settings.tts_engine if settings.tts_engine in _OFFLINE_VOICES[1:] else "offline"
    if is_private(settings, choices) or choices.voice == "offline":
        return offline
    if choices.voice == "gtts":
        return "gtts"
    return settings.tts_engine


def answer_tokens(settings: Settings, choices: Choices, *, detail: bool = False) -> int:
    """The answer length limit: the operator's settings, scaled by the visitor's answer length."""
    if detail or choices.length == "detailed":
        return settings.detail_answer_tokens
    if choices.length == "short":
        return max(1, settings.max_answer_tokens // 2)
    return settings.max_answer_tokens


def ask_options(settings: Settings, choices: Choices = Choices(), *, detail: bool = False,
                max_tokens: int | None = None, min_tokens: int = 0, samples: int | None = None) -> AskOptions:
    """The options of one question: ``detail`` asks for a long answer, ``max_tokens`` sets the limit."""
    return AskOptions(
        max_new_tokens=max_tokens or answer_tokens(settings, choices, detail=detail),
        min_new_tokens=min_tokens,
        # Speech is made only to be heard: with automatic speech off, "Speak this answer" makes it when
        # asked, so nothing goes to a voice service unasked and the voice does not take the processor
        # from the model while it writes.
        speak=choices.speak,
        language=choices.language or None,
        max_audio_seconds=settings.max_audio_seconds,
        min_audio_seconds=settings.min_audio_seconds,
        max_question_chars=settings.max_question_chars,
        samples=settings.confidence_samples if samples is None else samples,
        log_content=settings.debug,
    )


# --- the engines of one process -----------------------------------------------------------------

@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: Any = None
    error: SeeSayError | None = None


class Models:
    """The engines of one process: each loaded once, on first use, and shared by every visitor.

    A load that fails is remembered with the error that explains it, so a missing model is not
    tried again on every question; :meth:`retry` forgets it. Engines are never changed after they
    are loaded. Several visitors asking at once wait for the one load.
    """

    def __init__(self, settings: Settings) -> None:
        from .vlm import answers_at_once

        self.settings = settings
        # questions take turns on the model: one at a time in this process, many at once on a model server
        self.lock = TurnLock(slots=answers_at_once(settings.vlm_engine))
        self._slots: dict[tuple, _Slot] = {}
        self._slots_lock = threading.Lock()

    def vlm(self) -> VisionLanguageModel:
        """The vision-language model; raises ModelUnavailableError (or ConfigError)."""
        return self._get(("vlm",), lambda: load_vlm(self.settings))

    def stt(self) -> SpeechToText:
        """Speech recognition; raises ModelUnavailableError (or ConfigError)."""
        return self._get(("stt",), lambda: load_stt(self.settings))

    def ocr(self) -> TextReader:
        """The text reader; raises ModelUnavailableError (or ConfigError)."""
        return self._get(("ocr",), lambda: load_ocr(self.settings))

    def voice(self, name: str, private: bool) -> TextToSpeech:
        """The voice engine ``name``; raises ModelUnavailableError or ConfigError."""
        private = bool(private)
        return self._get(("voice", name, private), lambda: load_voice(self.settings, name, private))

    def voice_for(self, choices: Choices) -> tuple[TextToSpeech | None, str]:
        """This visitor's voice, with the offline voice standing in when it cannot be loaded or cannot
        speak; or None and what to tell the person when no voice can be had."""
        from .tts import FallbackVoice

        name = voice_name(self.settings, choices)
        problem = ""
        try:
            voice = self.voice(name, is_private(self.settings, choices))
        except SeeSayError as error:
            voice, problem = None, error.spoken
        if name in _OFFLINE_VOICES:
            return voice, problem
        try:
            offline = self.voice("offline", True)
        except SeeSayError:
            offline = None
        if voice is None:
            return offline, "" if offline is not None else problem
        if offline is None or name == "auto":  # auto falls back to the offline voice by itself
            return voice, ""
        return FallbackVoice(voice, offline), ""

    def engines(self, choices: Choices, *, spoken: bool) -> tuple[Engines, str]:
        """The engines for one question, and what to tell the person if no voice can speak the answer.

        Raises the error that keeps the model (or, for a spoken question, speech recognition) away.
        """
        vlm = self.vlm()
        stt = self.stt() if spoken else None
        voice, problem = self.voice_for(choices)
        return Engines(vlm=vlm, stt=stt, tts=voice, lock=self.lock), problem

    def unloaded(self, choices: Choices, *, spoken: bool, speak: bool) -> list[str]:
        """The stages a question with these choices would wait for, because they are not loaded yet."""
        keys = [("vlm",), ("ocr",)] + ([("stt",)] if spoken else [])
        if speak:
            keys.append(("voice", voice_name(self.settings, choices), is_private(self.settings, choices)))
        return [key[0] for key in keys if not self.tried(key)]

    def preload(self, choices: Choices, *, spoken: bool, speak: bool) -> None:
        """Load what such a question would need; a failure is kept, and said when the question needs it."""
        for stage in self.unloaded(choices, spoken=spoken, speak=speak):
            try:
                if stage == "voice":
                    self.voice_for(choices)
                else:
                    getattr(self, stage)()
            except SeeSayError:
                pass

    def tried(self, key: tuple) -> bool:
        """True once the engine ``key`` (``("vlm",)``, ``("voice", name, private)``) is loaded or has failed."""
        slot = self._slots.get(key)
        return slot is not None and slot.done

    def retry(self, stage: str | None = None) -> None:
        """Forget failed loads of ``stage`` ("vlm", "stt", "voice"; None: every stage), to try again."""
        with self._slots_lock:
            for key in [k for k, slot in self._slots.items() if slot.error is not None]:
                if stage is None or key[0] == stage:
                    del self._slots[key]

    def _get(self, key: tuple, load: Callable[[], Any]) -> Any:
        with self._slots_lock:
            slot = self._slots.setdefault(key, _Slot())
        with slot.lock:  # a second visitor waits for the first one's load instead of loading again
            if not slot.done:
                slot.value, slot.error = _attempt(STAGES[key[0]], load)
                slot.done = True
        if slot.error is not None:
            raise slot.error
        return slot.value


def _attempt(what: str, load: Callable[[], Any]) -> tuple[Any, SeeSayError | None]:
    t = time.perf_counter()
    try:
        value = load()
    except SeeSayError as error:
        log.warning("%s unavailable: %s", what, error.message)
        return None, error
    except Exception:  # a bug or an unexpected library failure: say so, log the details
        log.exception("%s failed to load", what)
        return None, ModelUnavailableError(
            f"The {what} could not be started because of an unexpected problem.",
            "Whoever runs SeeSay can find the details in its log.")
    log.info("%s ready in %.1fs", what, time.perf_counter() - t)
    return value, None
