"""One option of ``python -m bench precision``, in a process of its own: load, time, compare with float32.

The option's model is loaded through SeeSay's own loader (:func:`core.vlm.loading.load_llava`) and then,
for the options SeeSay does not use, changed layer by layer here (the benchmark's code, not the app's).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .precision import QUESTIONS

DECODE_TOKENS = 32


def run(variant: str, *, folder: Path, reference: Path, tokens: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from core.vlm.llava import TransformersLlava

    from . import machine

    t = time.perf_counter()
    model, processor = load(variant, folder)
    out: dict[str, Any] = {"variant": variant, "load_seconds": time.perf_counter() - t,
                           "peak_loading": machine.peak_bytes(), **_kind()}
    out["weight_bytes"] = sum(x.numel() * x.element_size() for x in [*model.parameters(), *model.buffers()])
    engine = TransformersLlava(model, processor)
    out.update(_speed(engine))
    prompts = _prompts(engine)
    reference.mkdir(exist_ok=True)
    if variant == "float32":  # float32's greedy answers: the path every option follows
        answers = [_greedy(model, inputs, tokens) for inputs in prompts]
        (reference / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
    answers = json.loads((reference / "answers.json").read_text(encoding="utf-8"))
    top1, kl, top_probability = [], [], []
    for i, (inputs, answer) in enumerate(zip(prompts, answers)):
        logprobs = _follow(model, inputs, answer, engine)
        if variant == "float32":
            np.save(reference / f"logprobs-{i}.npy", logprobs.numpy())
        ref = torch.from_numpy(np.load(reference / f"logprobs-{i}.npy"))
        top1 += (logprobs.argmax(-1) == ref.argmax(-1)).tolist()
        kl += (ref.exp() * (ref - logprobs)).sum(-1).tolist()
        top_probability += ref.exp().max(-1).values.tolist()
    out.update(top1=sum(top1) / len(top1), kl_mean=sum(kl) / len(kl), kl_max=max(kl), positions=len(top1),
               prompts=len(prompts), top_probability=sum(top_probability) / len(top_probability),
               vocabulary=model.config.text_config.vocab_size, peak=machine.peak_bytes())
    return out


def _kind() -> dict[str, Any]:
    import torch

    from core.config import cpu_has_native_bf16

    from .machine import emulating

    kind = ("without native bfloat16 (AVX2 only), emulated" if emulating() else
            "native bfloat16" if cpu_has_native_bf16() else "without native bfloat16")
    return {"cpu_kind": kind, "torch_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}


# --- loading each option ----------------------------------------------------------------------------


def load(variant: str, folder: Path) -> tuple[Any, Any]:
    from unittest import mock

    from core.vlm.loading import load_llava

    if variant == "float32":
        model, processor, _ = load_llava(str(folder), device="cpu", quantization="none", dtype="float32")
        return model, processor
    # SeeSay's loader computes prefills in float32 on CPUs without native bf16 (core.vlm.mixed): that is
    # one option of its own; every other one starts from the plain bfloat16 model.
    native = variant != "bfloat16 + float32 prefill"
    with mock.patch("core.config.cpu_has_native_bf16", lambda: native):
        model, processor, _ = load_llava(str(folder), device="cpu", quantization="none", dtype="bfloat16")
    if variant == "bf16 weights + float32 compute":
        _widen(model, _stored)
    elif variant == "int8 weights + float32 compute":
        _widen(model, _int8_rows)
    elif variant.startswith("int8 dynamic"):
        _widen(model, _dynamic(per_channel=variant.endswith("per channel")))
    return model, processor


def _widen(model: Any, linear: Any) -> None:
    """float32 activations: each Linear replaced by ``linear(module)``, embeddings widened when read,
    every other weight (norms, the patch convolution: small) made float32."""
    import torch.nn as nn

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):  # SeeSay's loader may have given it a CPU class of its own
                child.__class__ = nn.Linear
                setattr(parent, name, linear(child))
            elif type(child) is nn.Embedding:
                child.__class__ = _classes()["embedding"]
            elif isinstance(child, nn.Conv2d):
                child.__class__ = nn.Conv2d
    for module in model.modules():
        if not isinstance(module, (nn.Linear, nn.Embedding)) and not type(module).__name__.startswith("_"):
            for key, value in list(module._parameters.items()):
                if value is not None and value.is_floating_point():
                    module._parameters[key] = nn.Parameter(value.float(), requires_grad=False)


def _stored(linear: Any) -> Any:
    linear.__class__ = _classes()["stored"]
    return linear


def _int8_rows(linear: Any) -> Any:
    import torch

    weight = linear.weight.detach().float()
    scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
    del linear.weight
    linear.register_buffer("qweight", torch.round(weight / scale).clamp(-127, 127).to(torch.int8))
    linear.register_buffer("scale", scale)
    linear.__class__ = _classes()["int8"]
    return linear


def _dynamic(per_channel: bool):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    def quantize(linear: Any) -> Any:
        linear.float()
        linear.qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
        return DynamicLinear.from_float(linear)

    return quantize


_CLASSES: dict[str, Any] = {}


def _classes() -> dict[str, Any]:
    if _CLASSES:
        return _CLASSES
    import torch.nn as nn
    import torch.nn.functional as F

    def bias(module):
        return None if module.bias is None else module.bias.float()

    class _Stored(nn.Linear):
        def forward(self, x):
            return F.linear(x.float(), self.weight.float(), bias(self))

    class _Int8(nn.Linear):
        def forward(self, x):
            return F.linear(x.float(), self.qweight.float() * self.scale, bias(self))

    class _Embedding(nn.Embedding):
        def forward(self, ids):
            return super().forward(ids).float()

    _CLASSES.update(stored=_Stored, int8=_Int8, embedding=_Embedding)
    return _CLASSES


# --- prompts, answers, drift --------------------------------------------------------------------------


def _photos() -> list[Any]:
    """The benchmark's station sign, and a real photograph (scikit-image's astronaut) when installed."""
    from PIL import Image

    from .inputs import load_benchmark_photo

    photos = [load_benchmark_photo().image]
    try:
        from skimage import data

        photos.append(Image.fromarray(data.astronaut()).convert("RGB"))
    except ImportError:
        photos.append(photos[0].transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    return photos


def _prompts(engine: Any) -> list[dict]:
    from core.honesty import ANSWERABLE_NOTE
    from core.vlm.prompt import reference_note

    out = []
    for i, image in enumerate(_photos()):
        notes = ([reference_note("EXIT Platform 2 Lifts")] if i == 0 else []) + [ANSWERABLE_NOTE]
        for question in QUESTIONS:
            prompt = engine.prompt([], question, notes)
            out.append(dict(engine.processor(text=prompt, images=image, return_tensors="pt")))
    return out


def _greedy(model: Any, inputs: dict, tokens: int) -> list[int]:
    import torch

    with torch.inference_mode():
        ids = model.generate(**_typed(model, inputs), max_new_tokens=tokens, min_new_tokens=tokens,
                             do_sample=False, repetition_penalty=1.0, num_beams=1)
    return ids[0, inputs["input_ids"].shape[1]:].tolist()


def _follow(model: Any, inputs: dict, answer: list[int], engine: Any) -> Any:
    """Log-probabilities of the next token at each step of ``answer`` (float32, steps x vocabulary), as
    decoding computes them: the prompt prefilled, then one token at a time on the cache."""
    import inspect

    import torch
    from transformers import DynamicCache

    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    cache = DynamicCache(config=model.config)
    length = inputs["input_ids"].shape[1]
    steps = []
    with torch.inference_mode():
        out = model(**_typed(model, inputs), use_cache=True, logits_to_keep=1, **{cache_arg: cache})
        steps.append(out.logits[0, -1])
        for token in answer[:-1]:
            length += 1
            out = model(input_ids=torch.tensor([[token]]), attention_mask=torch.ones(1, length, dtype=torch.long),
                        use_cache=True, logits_to_keep=1, **{cache_arg: cache})
            steps.append(out.logits[0, -1])
    return torch.log_softmax(torch.stack(steps).float(), dim=-1)


def _typed(model: Any, inputs: dict) -> dict:
    """The processor's output with the pixels in the dtype of the model's first weights (as the engine does)."""
    dtype = next(p.dtype for p in model.parameters() if p.is_floating_point())
    return {k: (v.to(dtype) if k == "pixel_values" else v) for k, v in inputs.items()}


def _speed(engine: Any) -> dict[str, float]:
    """A new photo's preparation (the instructions' prefix kept already), then decoding after its prefix."""
    import dataclasses

    from .inputs import load_benchmark_photo

    photo = load_benchmark_photo()
    engine.prepare(dataclasses.replace(photo, key="first"))  # encodes the instructions' prefix too
    second = dataclasses.replace(photo, key="second")
    t = time.perf_counter()
    engine.prepare(second)
    prepare = time.perf_counter() - t
    stamps: list[float] = []
    hook = engine.model.register_forward_hook(lambda *args: stamps.append(time.perf_counter()))
    t = time.perf_counter()
    for _ in engine.stream(second, [], QUESTIONS[0], max_new_tokens=DECODE_TOKENS, min_new_tokens=DECODE_TOKENS):
        pass
    hook.remove()
    return {"prepare_seconds": prepare, "first_token": stamps[0] - t,
            "decode_tps": (len(stamps) - 1) / (stamps[-1] - stamps[0])}
