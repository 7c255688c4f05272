"""The prompt's kept prefixes: the instructions, encoded once, and each photo's, encoded ahead of its questions.

A prompt about a photo opens with the same instructions whatever the photo (the system prompt, 287
tokens for the CPU default), then the photo's image tokens. The transformers engine keeps the keys
and values of that opening (the *head*) once per engine, and encodes a new photo's prefix from there:
on the CPU default this leaves a photo 730 of its 1017 prefix tokens to encode, about a fifth less
work for the language model on every new photo. Attention is causal, so the head's keys and values
do not depend on what follows them: the photo's prefix is the same as one encoded in one go.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = ["Prefix", "MIN_HEAD_TOKENS", "fork_cache", "encode"]

#: an opening shorter than this is encoded with each photo (keeping it apart would save nothing)
MIN_HEAD_TOKENS = 16


@dataclass
class Prefix:
    """A kept prompt prefix: the instructions' (the head), or a photo's."""

    ids: list[int]  # the prompt's first tokens, image tokens expanded: the part held in ``cache``
    cache: Any  # DynamicCache with the keys and values of ``ids``
    image_tokens: int  # how many image placeholder tokens this photo expands to (0: the head)


def fork_cache(cache: Any) -> Any:
    """A cache that starts with ``cache``'s tokens and grows on its own, leaving ``cache`` as it is.

    generate() extends the cache it is given. A plain DynamicLayer grows by concatenating into new
    tensors and never writes into the ones it holds, so layer objects of its own sharing the prefix's
    tensors are enough (a deep copy costs ~0.1-0.4 s per question for the CPU default's 1000-token
    prefix). Any other kind of layer gets a deep copy.
    """
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return copy.deepcopy(cache)
    if not all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None])):
        return copy.deepcopy(cache)
    fork = copy.copy(cache)
    fork.layers = [copy.copy(layer) for layer in cache.layers]
    return fork


def encode(model: Any, ids: list[int], cache: Any, *, cache_arg: str, device: Any,
           images: dict | None = None) -> None:
    """Run ``model`` over ``ids`` into ``cache``, which may already hold the tokens before them."""
    import torch

    before = cache.get_seq_length()
    with torch.inference_mode():
        model(input_ids=torch.tensor([ids], device=device),
              attention_mask=torch.ones(1, before + len(ids), dtype=torch.long, device=device),
              use_cache=True, logits_to_keep=1, **{cache_arg: cache}, **(images or {}))
