"""The prompt's kept prefixes: the instructions, encoded once, and each photo's, encoded ahead of its questions.

A prompt about a photo opens with the same instructions whatever the photo (the system prompt, 287
tokens for the CPU default), then the photo's image tokens. The transformers engine keeps the keys
and values of that opening (the *head*) once per engine, and encodes a new photo's prefix from there:
on the CPU default this leaves a photo 730 of its 1017 prefix tokens to encode, about a fifth less
work for the language model on every new photo. Attention is causal, so the head's keys and values
do not depend on what follows them: the photo's prefix is the same as one encoded in one go.

A question about a kept photo is answered on the photo's own cache, lent to the generation
(:func:`lendable`) and cut back to the photo's tokens once the answer is written (:func:`cut`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = ["Prefix", "MIN_HEAD_TOKENS", "fork_cache", "lendable", "grow_in_place", "cut", "encode", "cache_bytes",
           "expected_bytes"]

#: an opening shorter than this is encoded with each photo (keeping it apart would save nothing)
MIN_HEAD_TOKENS = 16


@dataclass
class Prefix:
    """A kept prompt prefix: the instructions' (the head), or a photo's."""

    ids: list[int]  # the prompt's first tokens, image tokens expanded: the part held in ``cache``
    cache: Any  # DynamicCache with the keys and values of ``ids``
    image_tokens: int  # how many image placeholder tokens this photo expands to (0: the head)


def lendable(cache: Any) -> bool:
    """True when ``cache`` grows by concatenation (plain DynamicLayers), so that a generation can be given
    the kept cache itself and :func:`cut` it back afterwards: the answer then holds one copy of the
    prefix's keys and values, not two (100 MB less at the peak for the CPU default's 1017-token prefix)."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return False
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def grow_in_place(cache: Any, room: int) -> None:
    """Give a lent cache room for ``room`` more tokens, so that the answer writes its keys and values in
    place. A plain DynamicLayer concatenates at every token: it copies the whole cache once per token
    (220 MB of memory traffic per token for the CPU default, against 930 MB of weights) and leaves the
    heap fragmented (50-100 MB more resident after an answer). One layer at a time, so the prefix is
    never held twice."""
    growing = _growing_layer()
    for layer in cache.layers:
        if getattr(layer, "keys", None) is not None and layer.keys.dim() == 4:
            layer.__class__ = growing
            layer.reserve(room)


def cut(cache: Any, length: int) -> None:
    """Cut a lent cache back to its first ``length`` tokens, a plain DynamicLayer again, one layer at a
    time (each layer's longer tensors are freed as the next is cut: never a second copy of the whole)."""
    from transformers.cache_utils import DynamicLayer

    for layer in cache.layers:
        if layer.keys is not None and (layer.keys.shape[-2] > length or type(layer) is not DynamicLayer):
            layer.keys = layer.keys[..., :length, :].clone()
            layer.values = layer.values[..., :length, :].clone()
        layer.__dict__.pop("_room", None)
        layer.__class__ = DynamicLayer


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


def cache_bytes(cache: Any) -> int:
    """Bytes of keys and values ``cache`` holds (what a kept prefix costs: core.vlm.budget)."""
    return sum(t.nbytes for layer in getattr(cache, "layers", ()) for t in (getattr(layer, "keys", None),
               getattr(layer, "values", None)) if t is not None and hasattr(t, "nbytes"))


def expected_bytes(config: Any, dtype: Any) -> int:
    """Bytes of keys and values a photo's prefix will hold in a model of ``config``, before any has been
    computed (the image's tokens and about 300 of instructions)."""
    text = getattr(config, "text_config", config)
    heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    tokens = getattr(config, "image_seq_length", 576) + 300
    return 2 * text.num_hidden_layers * heads * head_dim * tokens * dtype.itemsize


_GROWING: list = []


def _growing_layer() -> type:
    """A DynamicLayer that writes new tokens into room reserved ahead (defined on first use: transformers)."""
    if _GROWING:
        return _GROWING[0]
    import torch
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        def reserve(self, room: int) -> None:
            length = self.keys.shape[-2]
            keys = self.keys.new_empty((*self.keys.shape[:2], length + room, self.keys.shape[-1]))
            values = self.values.new_empty((*self.values.shape[:2], length + room, self.values.shape[-1]))
            keys[..., :length, :] = self.keys
            values[..., :length, :] = self.values
            self._room = (keys, values)
            self.keys, self.values = keys[..., :length, :], values[..., :length, :]

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
            start, add = self.keys.shape[-2], key_states.shape[-2]
            keys, values = self._room
            if start + add > keys.shape[-2]:  # longer than reserved: more room, once
                self.keys, self.values = self.keys.clone(), self.values.clone()
                self.reserve(max(add, start))
                keys, values = self._room
            keys[..., start:start + add, :] = key_states
            values[..., start:start + add, :] = value_states
            self.keys, self.values = keys[..., :start + add, :], values[..., :start + add, :]
            return self.keys, self.values

    _GROWING.append(GrowingLayer)
    return GrowingLayer
