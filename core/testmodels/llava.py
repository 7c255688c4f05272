"""Random-weight LLaVA folders built offline, loadable with the ordinary ``from_pretrained``.

* :func:`build_tiny_llava`: a miniature of the CPU default (LLaVA-Interleave: SigLIP vision tower with
  the "full" feature strategy, Qwen2 text model, ChatML template with a system role).
* :func:`build_tiny_llava_next`: a miniature LLaVA-NeXT (CLIP + Llama, anyres tiling, so the number of
  image tokens depends on the photo's size) with a Vicuna-style template that has no system role.
* :func:`build_cpu_default_shaped`: the real size and shape of ``llava-hf/llava-interleave-qwen-0.5b-hf``
  with random weights, for benchmarks only (about 2 GB on disk; never built by the tests).

Between them the two tiny models exercise both ways SeeSay passes its instructions (system turn, or
prepended to the first question) and both LLaVA classes. Every Linear layer that bitsandbytes would
quantize has ``in_features >= 64``: smaller ones make 4-bit generation fail on CPU.

A folder is built into a temporary sibling and renamed when complete, so an interrupted build never
leaves a half-written model behind; a complete folder is reused as it is.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["build_cpu_default_shaped", "build_tiny_llava", "build_tiny_llava_next"]

log = logging.getLogger(__name__)

SEED = 0
_DONE = ".seesay-complete"  # written last: marks a folder as fully built

# ChatML, the format of LLaVA-Interleave's Qwen text model; it has a system role.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Vicuna style, as LLaVA 1.5 and LLaVA-NeXT (Vicuna) use: only USER and ASSISTANT, no system role.
# A system message would come out as an ASSISTANT turn, which SeeSay detects and avoids.
VICUNA_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

# A few sentences to train the byte-level BPE tokenizers on; any text would do.
_CORPUS = [
    "What color is the car in this picture? The car is red.",
    "Is there a person in the image? Yes, a person is crossing the street.",
    "Read the text on the sign. The sign says stop. The label says best before May.",
    "Describe the scene for me please. A kitchen with a table, two chairs and a window.",
    "How much money is this? It is a twenty euro note. Where is the door? On the left.",
    "You describe photos for a person who is blind. Say the most important thing first.",
    "¿Qué dice el cartel? Dice salida. Qu'est-ce que c'est? C'est une tasse de café.",
    "Was steht auf der Packung? Milch, ein Liter. 0123456789 + - = % ! ?",
] * 10


def build_tiny_llava(out_dir: Path | str) -> Path:
    """Tiny LLaVA-Interleave look-alike (``LlavaForConditionalGeneration``), ~0.2 M parameters."""
    return _build_once(Path(out_dir), _write_tiny_llava)


def build_tiny_llava_next(out_dir: Path | str) -> Path:
    """Tiny LLaVA-NeXT (``LlavaNextForConditionalGeneration``), ~0.2 M parameters."""
    return _build_once(Path(out_dir), _write_tiny_llava_next)


def build_cpu_default_shaped(out_dir: Path | str) -> Path:
    """Random weights in the exact shape of the CPU default model (~1 B parameters, ~2 GB).

    For benchmarks: speed does not depend on weight values. Takes a minute or two and ~6 GB of RAM.
    """
    return _build_once(Path(out_dir), _write_cpu_default_shaped)


# --- building blocks -------------------------------------------------------------------------


def _build_once(out: Path, write: Callable[[Path], None]) -> Path:
    if (out / _DONE).exists():
        return out
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        # A private RNG state: the same folder every time, and the caller's RNG is left alone.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            write(tmp)
        (tmp / _DONE).write_text("ok\n", encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it private; the model is not secret
        if out.exists():  # an incomplete earlier build
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("built %s", out)
    return out


def _tokenizer(specials: list[str], *, bos: str | None, eos: str, pad: str, vocab_size: int = 400,
               pad_vocab_to: int = 0):
    """A byte-level BPE tokenizer trained on :data:`_CORPUS`.

    ``pad_vocab_to`` appends filler tokens (short letter strings that are never produced by encoding)
    so that every id a model of that vocabulary size can generate decodes to text.
    """
    import json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_CORPUS, trainer)
    if pad_vocab_to:
        spec = json.loads(bpe.to_str())
        vocab = spec["model"]["vocab"]
        letters = "abcdefghijklmnopqrstuvwxyz"
        i = 0
        while len(vocab) < pad_vocab_to:
            word, n = "", i
            while True:  # bijective base 26: a, b, ..., z, aa, ab, ...
                word = letters[n % 26] + word
                n = n // 26 - 1
                if n < 0:
                    break
            i += 1
            token = "Ġ" + word  # "Ġ" is the byte-level form of a leading space
            if token not in vocab:
                vocab[token] = len(vocab)
        bpe = Tokenizer.from_str(json.dumps(spec))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=bos, eos_token=eos, pad_token=pad,
                                  padding_side="left")
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return tok


def _finish_llava(model, tok, processor, out: Path) -> None:
    gen = model.generation_config
    gen.pad_token_id = tok.pad_token_id
    gen.eos_token_id = tok.eos_token_id
    gen.bos_token_id = tok.bos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _chatml_tokenizer(**kwargs):
    return _tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"],
                      bos=None, eos="<|im_end|>", pad="<|endoftext|>", **kwargs)


def _write_tiny_llava(out: Path) -> None:
    image, patch = 32, 8  # 4 x 4 = 16 image tokens ("full": SigLIP has no CLS token)
    _write_interleave_like(
        out, _chatml_tokenizer(),
        vision=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                    image_size=image, patch_size=patch, vision_use_head=False),
        text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=False),
        image_seq_length=(image // patch) ** 2)


def _write_interleave_like(out: Path, tok, *, vision: dict, text: dict, image_seq_length: int,
                           dtype=None) -> None:
    """A LLaVA-Interleave look-alike: SigLIP + projector + Qwen2 with the ChatML template, all
    patches as image tokens ("full"), written to ``out``. ``text`` without a vocabulary size gets
    the tokenizer's."""
    from transformers import (
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        Qwen2Config,
        SiglipImageProcessorPil,
        SiglipVisionConfig,
    )

    vision_config = SiglipVisionConfig(**vision)
    text_config = Qwen2Config(**{"vocab_size": len(tok), **text}, eos_token_id=tok.eos_token_id,
                              pad_token_id=tok.pad_token_id)
    config = LlavaConfig(vision_config=vision_config, text_config=text_config,
                         image_token_index=tok.convert_tokens_to_ids("<image>"),
                         image_seq_length=image_seq_length, projector_hidden_act="gelu",
                         vision_feature_select_strategy="full", vision_feature_layer=-1,
                         tie_word_embeddings=False)
    model = LlavaForConditionalGeneration(config).eval()
    if dtype is not None:
        model = model.to(dtype)
    size = vision["image_size"]
    processor = LlavaProcessor(
        image_processor=SiglipImageProcessorPil(size={"height": size, "width": size}),
        tokenizer=tok, patch_size=vision["patch_size"], vision_feature_select_strategy="full",
        num_additional_image_tokens=0, chat_template=CHATML_TEMPLATE, image_token="<image>")
    _finish_llava(model, tok, processor, out)


PINPOINTS = [[32, 32], [32, 64], [64, 32], [64, 64]]


def _write_tiny_llava_next(out: Path) -> None:
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessorPil,
        LlavaNextProcessor,
    )

    tok = _tokenizer(["<unk>", "<s>", "</s>", "<pad>", "<image>"], bos="<s>", eos="</s>", pad="<pad>")
    image, patch = 32, 8
    vision = CLIPVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                              num_attention_heads=2, image_size=image, patch_size=patch, projection_dim=64)
    text = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                       pad_token_id=tok.pad_token_id)
    config = LlavaNextConfig(vision_config=vision, text_config=text,
                             image_token_index=tok.convert_tokens_to_ids("<image>"),
                             image_grid_pinpoints=PINPOINTS, vision_feature_select_strategy="default",
                             vision_feature_layer=-2, image_seq_length=(image // patch) ** 2)
    model = LlavaNextForConditionalGeneration(config).eval()
    processor = LlavaNextProcessor(
        image_processor=LlavaNextImageProcessorPil(size={"shortest_edge": image},
                                                   crop_size={"height": image, "width": image},
                                                   image_grid_pinpoints=PINPOINTS),
        tokenizer=tok, patch_size=patch, vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        chat_template=VICUNA_TEMPLATE, image_token="<image>")
    _finish_llava(model, tok, processor, out)


# The shape of llava-hf/llava-interleave-qwen-0.5b-hf, taken from the public configs:
# * vision: SigLIP so400m-patch14-384 (hidden 1152, 16 heads, MLP 4304, 729 patches of 14 px at 384 px)
#   with its last layer removed, as LLaVA-NeXT does (27 -> 26 layers; features from the new last layer,
#   all 729 patches: vision_feature_layer -1, strategy "full"), no pooling head;
# * projector: Linear 1152 -> 1024, GELU, Linear 1024 -> 1024;
# * text: Qwen1.5-0.5B-Chat, the base LLM of the LLaVA-NeXT-Interleave 0.5B model (hidden 1024,
#   24 layers, 16 heads, 16 key/value heads, MLP 2816, rope theta 1e6), vocabulary padded to 152000,
#   separate lm_head.
# About 1.02 B parameters in all; the lm_head over 152000 tokens costs what it costs in the real model.
INTERLEAVE_05B = {
    "vision": dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=26, num_attention_heads=16,
                   image_size=384, patch_size=14, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6,
                   vision_use_head=False),
    "text": dict(vocab_size=152000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=24,
                 num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=32768,
                 rope_theta=1_000_000.0, rms_norm_eps=1e-6, hidden_act="silu", tie_word_embeddings=False,
                 use_sliding_window=False),
    "image_seq_length": 729,
}


def _write_cpu_default_shaped(out: Path) -> None:
    import torch

    shape = INTERLEAVE_05B
    tok = _chatml_tokenizer(vocab_size=2000, pad_vocab_to=shape["text"]["vocab_size"])
    _write_interleave_like(out, tok, vision=shape["vision"], text=shape["text"],
                           image_seq_length=shape["image_seq_length"],
                           dtype=torch.bfloat16)  # as the hub ships it
