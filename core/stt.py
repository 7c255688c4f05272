"""Speech to text: a spoken question (16 kHz mono float32 samples) -> :class:`Transcript`.

Two engines run the same Whisper models:

* ``openai-whisper``: the reference PyTorch code; reads ``.pt`` checkpoints or downloads a size
  (tiny, base, small, ...) once into whisper's own cache.
* ``faster-whisper``: CTranslate2, int8 on CPU; reads a CTranslate2 folder (``model.bin``) or
  downloads a size from the Hugging Face Hub.

``load_stt("auto", ...)`` picks faster-whisper for a CTranslate2 folder, openai-whisper for a
``.pt`` checkpoint, and for a model name the engine measured faster on that device: faster-whisper
on CPU (tiny.en, 3 s question, 2 cores: 0.65 s against 1.30 s; 21 s of speech: 3.0 s against
10.6 s), openai-whisper on CUDA (not yet measured there). One engine object is shared by every session of the app: ``transcribe`` holds a lock
around the model, so concurrent questions wait their turn instead of corrupting decoder state.

Both engines pad every clip to Whisper's 30-second window, so a short question costs one full
encoder pass whatever its length (tiny.en, 2 CPU cores: 0.45 s, against 0.04 s for 3 s alone);
decoding is the part that grows with the words.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from .errors import ConfigError, ModelUnavailableError
from .i18n import N_

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Transcript", "SpeechToText", "DecodeOptions", "ENGINES", "CHOICES", "load_stt", "is_ct2_folder",
           "resolve_engine", "openai_whisper_file", "download_openai_whisper"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
#: speech recognition engines, by name
ENGINES = ("openai-whisper", "faster-whisper")
#: SEESAY_STT_ENGINE: an engine, or auto (chosen by the model and the device, see load_stt)
CHOICES = ("auto", *ENGINES)


@dataclass(frozen=True)
class Transcript:
    text: str  # what was said, stripped
    language: str  # ISO 639-1 code, detected (multilingual models) or forced ("en" for .en models)
    no_speech_prob: float  # Whisper's probability that the clip holds no speech
    duration: float  # seconds of audio
    engine: str  # name of the engine that transcribed it
    language_probability: float = 1.0  # confidence of the detected language; 1.0 when it was given


class SpeechToText(Protocol):
    name: str

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Transcript: ...


@dataclass(frozen=True)
class DecodeOptions:
    """How Whisper decodes; the defaults suit a short spoken question."""

    # Beam 5 against greedy, tiny.en on 2 CPU cores, five spoken questions: word error rate 0.03
    # against 0.07-0.10 at about the same wall time (openai-whisper 1.3 s, faster-whisper 0.7 s a
    # question); only on a single core does it cost more (+70% openai-whisper, +7% faster-whisper).
    beam_size: int = 5
    # The fallback ladder: a decode that looks wrong (repetitive, unlikely) is retried hotter.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    # One sample per fallback temperature: a garbled clip must not cost five times as much.
    best_of: int = 1
    # faster-whisper's CPU threads (CTranslate2's cpu_threads); 0 = its default. On 2 cores 0, 1 and 2
    # transcribed a 3 s question in the same 0.32-0.33 s (tiny.en), and decoding after it was as fast.
    threads: int = 0


# --- loading --------------------------------------------------------------------------------

def load_stt(engine: str, model: str, device: str, *, options: DecodeOptions = DecodeOptions(),
             timeout: float = 10.0) -> SpeechToText:
    """Load a speech recogniser.

    ``engine``: ``auto``, ``openai-whisper`` or ``faster-whisper``. ``model``: a Whisper size
    (downloaded once, which needs the internet), an openai-whisper ``.pt`` file or a CTranslate2
    folder. ``device``: ``cpu`` or ``cuda``. ``timeout``: seconds a download may wait for the server.
    Raises ConfigError for an unknown engine, ModelUnavailableError when the model cannot be had.
    """
    if not model.strip():
        raise _missing(model)
    if engine == "auto":
        engine = _auto_engine(model, device)
    if engine == "openai-whisper":
        return OpenAIWhisper(model, device, options, timeout)
    if engine == "faster-whisper":
        return FasterWhisper(model, device, options)
    raise ConfigError(
        N_("SeeSay does not know the speech recognition engine {engine}."),
        N_("Set SEESAY_STT_ENGINE to one of: {names}."), engine=repr(engine), names=", ".join(CHOICES),
    )


def resolve_engine(engine: str, model: str, device: str) -> str:
    """The engine :func:`load_stt` uses for ``engine`` (``auto`` chosen by the model and the device)."""
    return _auto_engine(model, device) if engine == "auto" else engine


def _auto_engine(model: str, device: str) -> str:
    if is_ct2_folder(model):
        return "faster-whisper"
    if model.endswith(".pt") or os.path.sep in model:
        return "openai-whisper"
    return "faster-whisper" if device == "cpu" else "openai-whisper"


def is_ct2_folder(model: str) -> bool:
    """True when ``model`` is a CTranslate2 model folder (what faster-whisper reads)."""
    return (Path(model).expanduser() / "model.bin").is_file()


def _missing(model: str) -> ModelUnavailableError:
    log.error("Whisper model not found: %s", model)  # a setting, not user content
    return ModelUnavailableError(
        N_("Speech recognition is not available: the Whisper model named by SEESAY_WHISPER_MODEL "
           "was not found on this machine."),
        N_("Set SEESAY_WHISPER_MODEL to an openai-whisper .pt file, a CTranslate2 folder, or a Whisper "
           "size such as base or small, which is downloaded once and needs the internet for that."),
    )


def _not_downloaded(model: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        N_("Speech recognition is not available: the Whisper model {model} could not be downloaded."),
        N_("Connect this machine to the internet once so the model can be downloaded, or set "
           "SEESAY_WHISPER_MODEL to a model file or folder that is already on this machine."), model=model,
    )


def _broken(model: str, err: Exception) -> ModelUnavailableError:
    log.error("Whisper model %s could not be loaded: %r", model, err)
    return ModelUnavailableError(
        N_("Speech recognition is not available: the Whisper model named by SEESAY_WHISPER_MODEL "
           "could not be loaded."),
        N_("Check that SEESAY_WHISPER_MODEL points to a complete model and that there is enough "
           "memory, or set it to another model."),
    )


# --- openai-whisper -------------------------------------------------------------------------

class OpenAIWhisper:
    """openai-whisper on a numpy array (no ffmpeg needed); fp16 on CUDA only."""

    name = "openai-whisper"

    def __init__(self, model: str, device: str, options: DecodeOptions, timeout: float) -> None:
        import whisper

        path = Path(model).expanduser()
        if model in whisper.available_models():
            source = model
            download_openai_whisper(model, timeout)
        elif path.is_file():
            source = str(path)
        elif is_ct2_folder(model):
            raise ModelUnavailableError(
                N_("Speech recognition is not available: SEESAY_WHISPER_MODEL names a CTranslate2 "
                   "folder, which the openai-whisper engine cannot read."),
                N_("Set SEESAY_STT_ENGINE to faster-whisper or auto, or point SEESAY_WHISPER_MODEL "
                   "to an openai-whisper .pt file."),
            )
        else:
            raise _missing(model)
        started = time.perf_counter()
        try:
            self._model = whisper.load_model(source, device=device)
        except Exception as err:  # any failure here means the weights are unusable
            raise _broken(model, err) from err
        log.info("openai-whisper loaded in %.1f s on %s", time.perf_counter() - started, device)
        self._fp16 = str(device).startswith("cuda")
        self._options = options
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Transcript:
        samples = _as_samples(samples)
        started = time.perf_counter()
        with self._lock:
            probability = 1.0
            if not self._model.is_multilingual:
                language = "en"
            elif language is None:
                language, probability = self._detect_language(samples)
            result = self._model.transcribe(
                samples,
                language=language,
                fp16=self._fp16,
                temperature=self._options.temperatures,
                beam_size=self._options.beam_size,
                best_of=self._options.best_of,
                # a question is one short clip: earlier text would only seed hallucinations
                condition_on_previous_text=False,
                # a question needs no timestamps; predicting them made a 3 s clip 4x slower
                without_timestamps=True,
                verbose=None,  # None: no printing, no progress bar
            )
        segments = result["segments"]
        # Whisper drops windows it judged silent, so no segment at all means nothing was heard.
        no_speech = min((s["no_speech_prob"] for s in segments), default=1.0)
        log.debug("openai-whisper: %.1f s of audio in %.2f s", len(samples) / SAMPLE_RATE,
                  time.perf_counter() - started)
        return Transcript(
            text=result["text"].strip(),
            language=result["language"],
            no_speech_prob=float(no_speech),
            duration=len(samples) / SAMPLE_RATE,
            engine=self.name,
            language_probability=probability,
        )

    def _detect_language(self, samples: np.ndarray) -> tuple[str, float]:
        """Language of the first 30 s, as whisper.transcribe would detect it, with its probability."""
        import torch
        import whisper
        from whisper.audio import N_FRAMES, N_SAMPLES

        mel = whisper.log_mel_spectrogram(samples, self._model.dims.n_mels, padding=N_SAMPLES)
        dtype = torch.float16 if self._fp16 else torch.float32
        segment = whisper.pad_or_trim(mel, N_FRAMES).to(self._model.device).to(dtype)
        _, probs = self._model.detect_language(segment)
        code = max(probs, key=probs.get)
        return code, float(probs[code])


def openai_whisper_file(name: str) -> Path:
    """Where openai-whisper keeps the checkpoint of the size ``name`` (it may not be there yet)."""
    import whisper

    url = whisper._MODELS[name]  # private, but it is where the checksum lives (in the URL)
    return Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper" / url.rsplit("/", 1)[1]


def download_openai_whisper(name: str, timeout: float,
                            progress: Callable[[int, int], None] | None = None) -> None:
    """Put the named checkpoint into whisper's own cache, with a timeout on the network.

    whisper.load_model downloads with no timeout, so a server that never answers would hang
    start-up forever. Once the file is in its cache with the right checksum, load_model uses it.
    ``progress(done, total)`` is called with the bytes received so far after each piece (``total``
    is 0 when the server does not say). Raises ModelUnavailableError.
    """
    import whisper

    url = whisper._MODELS[name]
    expected = url.split("/")[-2]
    target = openai_whisper_file(name)
    cache = target.parent
    if target.is_file() and _sha256(target) == expected:
        return
    log.info("Downloading Whisper %s into %s", name, cache)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if digest.hexdigest() != expected:
            raise OSError("checksum mismatch")
        os.replace(partial, target)
    except OSError as err:  # URLError, timeouts and disk errors are all OSError
        log.error("Whisper %s download failed: %r", name, err)
        raise _not_downloaded(name) from err
    finally:
        partial.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- faster-whisper -------------------------------------------------------------------------

class FasterWhisper:
    """faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA."""

    name = "faster-whisper"

    def __init__(self, model: str, device: str, options: DecodeOptions) -> None:
        from faster_whisper import WhisperModel, available_models

        path = Path(model).expanduser()
        is_repo_id = re.fullmatch(r"[\w-][\w.-]*/[\w.-]+", model) is not None
        from_hub = not path.exists() and (model in available_models() or is_repo_id)
        if path.is_dir():
            source = str(path)
        elif from_hub:
            source = model  # huggingface_hub downloads it, with its own timeouts
        else:
            raise _missing(model)
        cuda = str(device).startswith("cuda")
        started = time.perf_counter()
        try:
            self._model = WhisperModel(source, device="cuda" if cuda else "cpu",
                                       compute_type="float16" if cuda else "int8", cpu_threads=options.threads)
        except Exception as err:  # any failure here means the weights are unusable or unreachable
            if from_hub:
                log.error("Whisper %s could not be fetched: %r", model, err)
                raise _not_downloaded(model) from err
            raise _broken(model, err) from err
        log.info("faster-whisper loaded in %.1f s on %s", time.perf_counter() - started, device)
        self._options = options
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Transcript:
        samples = _as_samples(samples)
        started = time.perf_counter()
        with self._lock:
            segments, info = self._model.transcribe(
                samples,
                language=language,
                beam_size=self._options.beam_size,
                best_of=self._options.best_of,
                temperature=list(self._options.temperatures),
                condition_on_previous_text=False,
                without_timestamps=True,
                # core.audio has already checked for speech; VAD would cut short questions
                vad_filter=False,
            )
            segments = list(segments)  # decoding happens here: consume it under the lock
        no_speech = min((s.no_speech_prob for s in segments), default=1.0)
        log.debug("faster-whisper: %.1f s of audio in %.2f s", info.duration,
                  time.perf_counter() - started)
        return Transcript(
            text="".join(s.text for s in segments).strip(),
            language=info.language,
            no_speech_prob=float(no_speech),
            duration=len(samples) / SAMPLE_RATE,
            engine=self.name,
            language_probability=float(info.language_probability),
        )


def _as_samples(samples: np.ndarray) -> np.ndarray:
    import numpy as np

    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {samples.shape}")
    return samples
