"""Settings, plus one visitor's choices -> the engines of a question. The one place.

The app, the command line and the benchmarks all get their engines here:

* :func:`build_vlm`, :func:`build_stt`, :func:`build_voice`, :func:`build_ocr` turn the settings into one
  engine each;
* :class:`Models` holds the engines of one process: each is loaded once, on first use, and shared by
  every visitor; a failure is kept (and said again) until :meth:`Models.retry`. :class:`Loaders` lets
  tests and benchmarks hand it engines of their own (scripted models, timing probes) instead;
* :class:`Choices` are one visitor's own: voice, private mode, answer length, answer language, and
  whether answers are spoken;
* :meth:`Models.engines` turns choices into the :class:`Engines` one question uses, and
  :meth:`Models.load` loads what a piece of work needs, saying so first (``Loading``).

The voice rule lives here, once: the visitor's chosen voice, and the offline voice whenever the chosen
one cannot be loaded or cannot speak.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .errors import ModelUnavailableError, SeeSayError
from .i18n import N_, Phrase, words_language
from .events import Loading
from .turns import TurnLock

if TYPE_CHECKING:
    from .config import Settings
    from .ocr import TextReader
    from .stt import SpeechToText
    from .tts import TextToSpeech
    from .vlm import VisionLanguageModel
    from .vlm.budget import MemoryBudget

__all__ = ["Choices", "Engines", "Loaders", "Models", "VOICES", "LENGTHS", "STAGES", "build_vlm", "build_stt",
           "build_voice", "build_ocr", "voice_name", "is_private", "answer_tokens"]

log = logging.getLogger(__name__)

#: a visitor's voice choice: automatic (the operator's SEESAY_TTS_ENGINE), Google's, or the offline voice
VOICES = ("automatic", "gtts", "offline")
#: a visitor's answer length
LENGTHS = ("short", "normal", "detailed")
#: the engines of a process, by stage, with what a person is told while they load
STAGES = {"vlm": N_("vision-language model"), "stt": N_("speech recognition model"), "voice": N_("voice"),
          "ocr": N_("text reader")}
_OFFLINE_VOICES = ("offline", "piper", "espeak")


@dataclass(frozen=True)
class Choices:
    """One visitor's own choices (the Settings page); the operator's settings set the defaults."""

    voice: str = "automatic"  # one of VOICES
    private: bool = False  # nothing leaves the machine: the offline voice only
    length: str = "normal"  # one of LENGTHS
    language: str = ""  # ISO 639-1 code answers are given in; "" = the question's language
    speak: bool = True  # answers are spoken as they are written; off: only when asked for
    # the language of SeeSay's own words until a question says otherwise (core.i18n.choose): the app passes
    # the language of the person's last question, else their browser's; "" = English
    ui_language: str = ""


@dataclass
class Engines:
    """The engines one question uses. The model, speech recognition and the lock are shared by everyone."""

    vlm: VisionLanguageModel | None = None  # None: the question needs no model ("Read the text")
    stt: SpeechToText | None = None  # None: typed questions only
    voice: TextToSpeech | None = None  # the visitor's voice; None: answers are not spoken
    no_voice: str = ""  # when there is no voice although answers are spoken: why, said with the answer
    lock: TurnLock = field(default_factory=TurnLock)  # questions take turns on the shared model, in order


# --- settings -> one engine ---------------------------------------------------------------------

def build_vlm(settings: Settings, budget: MemoryBudget | None = None) -> VisionLanguageModel:
    """The answering model: in this process, or (SEESAY_VLM_ENGINE=openai) a server's, with no torch here;
    ``budget``: the process's memory budget for photos' kept state (:class:`Models` gives its own)."""
    from . import vlm

    if settings.vlm_engine == "openai":
        from .vlm.remote import RemoteOptions

        return vlm.load_vlm(settings.vlm_model_name(), engine="openai", url=settings.vlm_url,
                            api_key=settings.vlm_api_key,
                            options=RemoteOptions(connect_seconds=settings.network_timeout))
    return vlm.load_vlm(settings.llava(), device=settings.resolved_device(), quantization=settings.quantization(),
                        dtype=settings.dtype(), compile=settings.compile(), budget=budget)


def build_stt(settings: Settings) -> SpeechToText:
    from . import stt

    return stt.load_stt(settings.stt_engine, settings.whisper(), settings.resolved_device(),
                        timeout=settings.network_timeout)


def build_voice(settings: Settings, name: str, private: bool) -> TextToSpeech:
    from . import tts

    return tts.load_tts(name, private=private, timeout=settings.network_timeout, piper_voice=settings.piper_voice)


def build_ocr(settings: Settings) -> TextReader:
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


# --- the engines of one process -----------------------------------------------------------------

@dataclass(frozen=True)
class Loaders:
    """How :class:`Models` makes each engine; None: from the settings, as SeeSay does (:func:`build_vlm`, ...).

    Tests and benchmarks give their own (scripted engines, timing probes), and everything above the engines
    (loading once, the voice rule, the pipeline) then runs as it does in the app.
    """

    vlm: Callable[[Settings], VisionLanguageModel] | None = None
    stt: Callable[[Settings], SpeechToText] | None = None
    voice: Callable[[Settings, str, bool], TextToSpeech] | None = None  # (settings, voice name, private)
    ocr: Callable[[Settings], TextReader] | None = None

    @classmethod
    def given(cls, *, vlm: Any = None, stt: Any = None, voice: Any = None, ocr: Any = None) -> Loaders:
        """Loaders that hand out engines made already (``voice`` for every voice name); the others are
        made from the settings."""
        return cls(vlm=None if vlm is None else lambda settings: vlm,
                   stt=None if stt is None else lambda settings: stt,
                   voice=None if voice is None else lambda settings, name, private: voice,
                   ocr=None if ocr is None else lambda settings: ocr)


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    begun: bool = False  # someone is loading it (or has said that they will): nobody else says Loading
    done: bool = False
    value: Any = None
    error: SeeSayError | None = None


class Models:
    """The engines of one process: each loaded once, on first use, and shared by every visitor.

    A load that fails is remembered with the error that explains it, so a missing model is not
    tried again on every question; :meth:`retry` forgets it. Engines are never changed after they
    are loaded. Several visitors asking at once wait for the one load.
    """

    def __init__(self, settings: Settings, loaders: Loaders = Loaders()) -> None:
        from .vlm import answers_at_once
        from .vlm.budget import MemoryBudget

        self.settings = settings
        # photos' kept state (the model's prefixes, the readings) of every visitor, within SEESAY_MEMORY_BUDGET_MB
        self.budget = MemoryBudget.from_mb(settings.memory_budget_mb)
        self.loaders = loaders
        # questions take turns on the model: one at a time in this process, many at once on a model server
        self.lock = TurnLock(slots=answers_at_once(settings.vlm_engine))
        self._slots: dict[tuple, _Slot] = {}
        self._slots_lock = threading.Lock()

    def vlm(self) -> VisionLanguageModel:
        """The vision-language model; raises ModelUnavailableError (or ConfigError)."""
        return self._get(("vlm",), lambda: self.loaders.vlm(self.settings) if self.loaders.vlm
                         else build_vlm(self.settings, self.budget))

    def stt(self) -> SpeechToText:
        """Speech recognition; raises ModelUnavailableError (or ConfigError)."""
        return self._get(("stt",), lambda: (self.loaders.stt or build_stt)(self.settings))

    def ocr(self) -> TextReader:
        """The text reader; raises ModelUnavailableError (or ConfigError)."""
        return self._get(("ocr",), lambda: (self.loaders.ocr or build_ocr)(self.settings))

    def voice(self, name: str, private: bool) -> TextToSpeech:
        """The voice engine ``name``; raises ModelUnavailableError or ConfigError."""
        private = bool(private)
        return self._get(("voice", name, private),
                         lambda: (self.loaders.voice or build_voice)(self.settings, name, private))

    def voice_for(self, choices: Choices) -> tuple[TextToSpeech | None, str]:
        """This visitor's voice, with the offline voice standing in when it cannot be loaded or cannot
        speak; or None and what to tell the person (in their language) when no voice can be had."""
        from .tts import FallbackVoice

        name = voice_name(self.settings, choices)
        problem = ""
        try:
            voice = self.voice(name, is_private(self.settings, choices))
        except SeeSayError as error:  # said in the person's language, as the speaker says its errors
            voice, problem = None, error.spoken_in(words_language(choices))
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

    def engines(self, choices: Choices, *, spoken: bool, model: bool = True) -> Engines:
        """The engines for one question: the model (unless ``model`` is False), speech recognition for a
        ``spoken`` one, the visitor's voice when answers are spoken. Raises the error that keeps the model
        (or, for a spoken question, speech recognition) away; a voice that cannot speak is said with the answer.
        """
        vlm = self.vlm() if model else None
        stt = self.stt() if spoken else None
        voice, no_voice = self.voice_for(choices) if choices.speak else (None, "")
        return Engines(vlm=vlm, stt=stt, voice=voice, no_voice=no_voice, lock=self.lock)

    def load(self, choices: Choices, *, spoken: bool, model: bool = True) -> Iterator[Loading]:
        """Load now what such work needs (the model unless ``model`` is False; the text reader; speech
        recognition when questions may be ``spoken``; the voice when answers are spoken), first saying
        ``Loading(stages)`` for those this call is the first to load. A failure is kept, and said when the
        work needs the engine; a load another visitor began is waited for, not said again."""
        keys = ([("vlm",)] if model else []) + [("ocr",)] + ([("stt",)] if spoken else [])
        if choices.speak:
            keys.append(("voice", voice_name(self.settings, choices), is_private(self.settings, choices)))
        with self._slots_lock:
            begun = [key for key in keys if self._begin(key)]
        if begun:
            yield Loading(tuple(key[0] for key in begun))
        loads: dict[str, Callable[[], Any]] = {"vlm": self.vlm, "stt": self.stt, "ocr": self.ocr,
                                               "voice": lambda: self.voice_for(choices)}
        for key in keys:
            try:
                loads[key[0]]()
            except SeeSayError:
                pass  # kept in its slot, raised when the work needs it

    def retry(self, stage: str | None = None) -> None:
        """Forget failed loads of ``stage`` ("vlm", "stt", "voice", "ocr"; None: every stage), to try again."""
        with self._slots_lock:
            for key in [k for k, slot in self._slots.items() if slot.error is not None]:
                if stage is None or key[0] == stage:
                    del self._slots[key]

    def _begin(self, key: tuple) -> bool:
        """Mark ``key``'s load as begun; False when it was begun (or done) already. Under ``_slots_lock``."""
        slot = self._slots.setdefault(key, _Slot())
        begun, slot.begun = slot.begun, True
        return not begun

    def _get(self, key: tuple, load: Callable[[], Any]) -> Any:
        with self._slots_lock:
            self._begin(key)
            slot = self._slots[key]
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
            N_("The {what} could not be started because of an unexpected problem."),
            N_("Whoever runs SeeSay can find the details in its log."), what=Phrase(what))
    log.info("%s ready in %.1fs", what, time.perf_counter() - t)
    # An engine lives as long as the process, and with it the ~450,000 objects its libraries made. Out of
    # the collector's way: Streamlit collects garbage after every script run, and each full collection
    # scanned them all, 0.5-0.7 s holding the GIL on 2 cores, against 0 ms once frozen (measured with the
    # tiny models, Whisper, the text reader and Piper loaded). Reference counting still frees them.
    gc.freeze()
    return value, None
