"""Loading a LLaVA checkpoint with transformers: the device, 4-bit NF4, the dtype, and what can go wrong.

A missing folder, a hub that cannot be reached, damaged weights, a model of another kind, too little
memory: each becomes a :class:`~core.errors.ModelUnavailableError` whose message can be read aloud and
whose hint names the setting to change. The details go to the log.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelUnavailableError
from ..i18n import N_

__all__ = ["FAMILIES", "load_llava", "compile_decoding", "is_out_of_memory", "release_memory"]

log = logging.getLogger(__name__)

# model_type in the model's config -> transformers class that runs it
FAMILIES = {"llava": "LlavaForConditionalGeneration", "llava_next": "LlavaNextForConditionalGeneration"}

MODEL_HINT = (N_("Point SEESAY_LLAVA_MODEL at a downloaded model folder, "
                 "or connect to the internet for the first start."))


def load_llava(model: str, *, device: str, quantization: str, dtype: str,
               compile: bool = False) -> tuple[Any, Any, str]:
    """(transformers model, processor, device used) for ``model``, a hub id or a local folder.

    ``device``: auto, cuda or cpu; ``quantization`` and ``dtype``: as :data:`core.vlm.QUANTIZATIONS`
    and :data:`core.vlm.DTYPES`. Raises ConfigError or ModelUnavailableError.
    """
    import torch

    from . import DTYPES, QUANTIZATIONS
    from ..config import DEVICES, cpu_has_native_bf16

    device = _check_choice(device, DEVICES, "SEESAY_DEVICE")
    quantization = _check_choice(quantization, QUANTIZATIONS, "SEESAY_LLAVA_QUANTIZATION")
    dtype = _check_choice(dtype, DTYPES, "SEESAY_LLAVA_DTYPE")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(N_("SEESAY_DEVICE is cuda, but SeeSay finds no GPU it can use on this computer."),
                          N_("Set SEESAY_DEVICE to cpu or auto."))
    if compile and device != "cuda":
        raise ConfigError(N_("SEESAY_LLAVA_COMPILE is on, but compiled decoding needs a CUDA GPU."),
                          N_("Set SEESAY_LLAVA_COMPILE to auto or off."))
    if quantization == "auto":
        quantization = "nf4" if device == "cuda" else "none"
    if dtype == "auto":  # on CPU the checkpoints' own bfloat16 (core.vlm.mixed where the CPU lacks it)
        dtype = "float16" if device == "cuda" else "bfloat16"
    torch_dtype = getattr(torch, dtype)

    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise _unavailable(model, None,
                               N_("The answering model's folder is incomplete: it has no settings file."),
                               N_("Download the model again, or point SEESAY_LLAVA_MODEL at a complete "
                                  "model folder."))
        model = str(path)
    elif _looks_like_path(model):
        raise _unavailable(model, None, N_("The answering model's folder is not on this computer."))

    import transformers

    errors = _loading_errors()
    try:
        config = transformers.AutoConfig.from_pretrained(model)
    except errors as exc:
        raise _unavailable(model, exc, N_("The answering model could not be found on this computer "
                                          "or downloaded.")) from exc
    family = config.model_type
    if family not in FAMILIES:
        raise _unavailable(model, None,
                           N_("The answering model is a {family} model, which SeeSay cannot use."),
                           N_("Set SEESAY_LLAVA_MODEL to a LLaVA, LLaVA-NeXT or LLaVA-Interleave model, "
                              "for example llava-hf/llava-interleave-qwen-0.5b-hf."), family=family)
    model_class = getattr(transformers, FAMILIES[family])

    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if device == "cuda":
        kwargs["device_map"] = "auto"  # accelerate places the layers, spilling to CPU only if it must
    if quantization == "nf4":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise _unavailable(model, exc, N_("4-bit loading needs the bitsandbytes package, which is not "
                                              "installed."), N_("Install bitsandbytes, or set "
                                              "SEESAY_LLAVA_QUANTIZATION to none.")) from exc
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            # fp16 on CUDA as the cards compute it fastest; the chosen dtype on CPU
            bnb_4bit_compute_dtype=(torch.float16 if device == "cuda" and dtype == "float32"
                                    else torch_dtype))
    stored = _stored_dtype(config)
    # float32 from a bfloat16 or float16 checkpoint: loaded as stored (mapped from the file, no copy),
    # then widened one tensor at a time, each stored tensor's pages handed back as it goes (_widen).
    widen = device == "cpu" and quantization == "none" and dtype == "float32" and stored in ("bfloat16", "float16")
    if widen:
        kwargs["dtype"] = getattr(torch, stored)
    if device == "cpu":
        from ..memory import limit_heaps

        limit_heaps()  # before the threads that answer start: see core.memory
    t0 = time.perf_counter()
    try:
        vlm = model_class.from_pretrained(model, **kwargs)
        processor = transformers.AutoProcessor.from_pretrained(model)
    except errors as exc:
        if is_out_of_memory(exc):
            release_memory()
            raise _unavailable(model, exc, N_("There is not enough memory to load the answering model."),
                               N_("Close other programs, use 4-bit loading (SEESAY_LLAVA_QUANTIZATION nf4), "
                                  "or point SEESAY_LLAVA_MODEL at a smaller model.")) from exc
        raise _unavailable(model, exc, N_("The answering model's files are missing, damaged or incomplete."),
                           N_("Download the model again, or point SEESAY_LLAVA_MODEL at a complete model "
                              "folder, or connect to the internet for the first start.")) from exc
    vlm.eval()
    if widen:
        _widen(vlm, torch.float32)
    if device == "cpu" and dtype == "bfloat16" and quantization == "none":
        from .mixed import bfloat16_products, float32_decoding_attention

        if not float32_decoding_attention(vlm):
            log.warning("decoding attention stays in bfloat16 (slower): the model does not take another")
        native = cpu_has_native_bf16()
        changed = bfloat16_products(vlm, native=native)
        log.info("bfloat16 on CPU, %s native bfloat16: %d layers changed (core.vlm.mixed)",
                 "with" if native else "without", changed)
    log.info("loaded %s (%s, %s, %s, %s) in %.1fs", model, family, device, quantization, dtype,
             time.perf_counter() - t0)
    return vlm, processor, model


def compile_decoding(model: Any, config: Any, static_cache_tokens: int) -> None:
    """Static KV cache + torch.compile for the decoding step (transformers compiles it in generate()).

    transformers refuses to compile models that bitsandbytes quantized on load (its quantizer says
    "not compileable"), yet bitsandbytes' 4-bit layers compile: on an H100, LLaVA-1.5-7B in NF4 decodes
    123 tokens/s compiled against 31 plain (docs/bench/gpu.md). The check is asked without the quantizer.
    """
    from transformers import CompileConfig

    config.cache_implementation = "static"
    config.max_cache_len = static_cache_tokens
    config.compile_config = CompileConfig(fullgraph=False, mode="reduce-overhead")
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None or quantizer.is_compileable:
        return
    criteria = type(model)._valid_auto_compile_criteria

    def without_quantizer_veto(model_kwargs: dict, generation_config: Any) -> bool:
        model.hf_quantizer = None  # generation holds the engine's lock: nothing else reads it now
        try:
            return criteria(model, model_kwargs, generation_config)
        finally:
            model.hf_quantizer = quantizer

    model._valid_auto_compile_criteria = without_quantizer_veto


def _stored_dtype(config: Any) -> str:
    """The dtype the checkpoint's weights are stored in, as its config says ("" when it does not)."""
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return str(stored).removeprefix("torch.") if stored else ""


def _widen(model: Any, dtype: Any) -> None:
    """Every floating parameter and buffer of ``model`` to ``dtype``, one tensor at a time; each old
    tensor's whole pages are handed back once no other tensor shares its storage (core.memory.drop_pages).

    Loading the CPU default in float32 this way peaked at 4.4 GB instead of 6.4 GB: transformers widens
    while the whole 2 GB bfloat16 file stays mapped (docs/bench/precision.md).
    """
    import torch

    from ..memory import drop_pages

    tensors = [(module, kind, name) for module in model.modules() for kind in ("_parameters", "_buffers")
               for name, t in getattr(module, kind).items() if t is not None and t.is_floating_point()
               and t.dtype != dtype]
    users: dict[int, int] = {}
    for module, kind, name in tensors:
        ptr = getattr(module, kind)[name].untyped_storage().data_ptr()
        users[ptr] = users.get(ptr, 0) + 1
    done: dict[int, Any] = {}  # tied weights: one converted tensor for one stored tensor
    for module, kind, name in tensors:
        old = getattr(module, kind)[name]
        if id(old) not in done:
            data = old.detach().to(dtype)
            done[id(old)] = torch.nn.Parameter(data, requires_grad=False) if kind == "_parameters" else data
        getattr(module, kind)[name] = done[id(old)]
        storage = old.untyped_storage()
        users[storage.data_ptr()] -= 1
        if users[storage.data_ptr()] == 0:  # no tensor left on it: its pages go back
            drop_pages(storage.data_ptr(), storage.nbytes())


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def release_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _check_choice(value: str, choices: tuple[str, ...], variable: str) -> str:
    if value not in choices:
        raise ConfigError(N_("The setting {name} is {value}, which SeeSay does not know."),
                          N_("Use one of: {names}."), name=variable, value=repr(value), names=", ".join(choices))
    return value


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", "\\")) or model.count("/") > 1 or ":" in model[:3]


def _unavailable(model: str, exc: BaseException | None, message: str, hint: str = MODEL_HINT, **params):
    log.error("could not load the LLaVA model %s: %s", model, exc if exc else message,
              exc_info=exc if exc is not None else None)
    return ModelUnavailableError(message, hint, **params)


# What transformers, huggingface_hub and safetensors raise for missing, unreachable or damaged models.
def _loading_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, ValueError, RuntimeError, KeyError, EOFError, MemoryError]
    try:
        from safetensors import SafetensorError
        errors.append(SafetensorError)
    except ImportError:
        pass
    try:
        from huggingface_hub.errors import HfHubHTTPError
        errors.append(HfHubHTTPError)
    except ImportError:
        pass
    return tuple(errors)
