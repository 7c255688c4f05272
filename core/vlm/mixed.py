"""bfloat16 models on CPU: what torch computes slowly in bfloat16 there, computed in float32.

:func:`float32_decoding_attention` (every CPU): the attention of each decoded token.

:func:`bfloat16_products`: each decoded token's products through torch's own kernel (every CPU), and
the products of many rows in float32 (CPUs without native bfloat16, below).

A CPU with AVX2 but no AVX-512 BF16 multiplies bfloat16 matrices of many rows several times slower
than float32 (2 cores, emulated AVX2: 19 against 41-80 GFLOPS), so a bfloat16 model reads a photo
3-4 times slower there. Yet torch multiplies a bfloat16 matrix by a single row (each decoded token)
with a kernel of its own that reads half the bytes float32 does, and every weight of the CPU default
is stored in bfloat16 anyway. So on such a CPU SeeSay keeps the model in bfloat16 (2 GB, one copy,
mapped from the checkpoint, where float32 would be 4.1 GB) and computes each product of more than one
row (the photo, the question: the prefill) in float32 from the bfloat16 weights, one layer at a time.

The arithmetic is what a CPU with native bfloat16 does (bfloat16 in, float32 sums, bfloat16 out), so
answers match those of the CPUs with native bfloat16 (docs/bench/precision.md measures it against
float32). Measured on the CPU default's shape (2 cores, emulated AVX2): reading a photo 6.5 s against
float32's 6.0 and bfloat16's 24.5 s; decoding 15 tokens/s against float32's 8.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["bfloat16_products", "float32_decoding_attention", "ATTENTION", "FEW_ROWS"]

#: the attention implementation :func:`float32_decoding_attention` registers with transformers
ATTENTION = "seesay_cpu_sdpa"
#: queries of at most this many tokens (decoding steps) get their attention in float32
FEW_ROWS = 16


def bfloat16_products(model: Any, *, native: bool) -> int:
    """Make ``model``'s Linear layers (and, without native bfloat16, its Conv2d layers) compute their
    products the fast way on this CPU (weights stay as they are); returns how many layers were changed.

    Every CPU: a product of one row (each decoded token) runs through torch's own kernel, which reads
    the weights at the memory's speed (41-46 GB/s on 2 cores), not oneDNN's (24-27 GB/s on a CPU with
    native bfloat16): the CPU default decoded 18 tokens/s instead of 13. Without native bfloat16, the
    products of several rows are computed in float32 from the bfloat16 weights.
    """
    import torch.nn as nn

    decoding, wide_linear, wide_conv = _classes()
    changed = 0
    for module in model.modules():
        if type(module) is nn.Linear:
            module.__class__ = decoding if native else wide_linear
        elif type(module) is nn.Conv2d and not native:
            module.__class__ = wide_conv
        else:
            continue
        changed += 1
    return changed


def float32_decoding_attention(model: Any) -> bool:
    """Make ``model`` (bfloat16, on CPU) compute the attention of decoding steps in float32; True if set.

    torch's CPU attention kernel takes 0.8 ms for one bfloat16 query over 1100 keys and values (16 heads
    of 64, 2 cores, with or without native bfloat16) against 0.1 ms in float32: widening the keys and
    values first and attending in float32 takes 0.19 ms. For the CPU default that is 24 layers x 0.6 ms
    = 15 ms of every decoded token. Prefills (many queries) keep bfloat16, where the kernel is fast.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, _attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)  # the same masks as torch's sdpa
    try:
        model.set_attn_implementation(ATTENTION)
    except (ValueError, AttributeError):  # a model that does not dispatch through AttentionInterface
        return False
    return getattr(model.config, "_attn_implementation", None) == ATTENTION


def _attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> tuple:
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.dtype != torch.bfloat16 or query.shape[-2] > FEW_ROWS:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    out, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask,
                                          **kwargs)
    return out.to(query.dtype), weights


@lru_cache(maxsize=1)
def _classes() -> tuple:
    """The layer classes, defined on first use (torch is imported only here)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def wide(t: Any) -> Any:
        return None if t is None else t.float()

    class DecodingLinear(nn.Linear):
        """One row of bfloat16 through torch's own kernel; anything else as nn.Linear does."""

        def forward(self, x):
            if x.numel() != x.shape[-1] or x.dtype != self.weight.dtype or not torch.backends.mkldnn.enabled:
                return F.linear(x, self.weight, self.bias)
            # oneDNN is switched off around this one product only. The switch is process-wide: a product
            # another thread makes meanwhile would run without oneDNN too (slower, never wrong); on the
            # engine's lock only this generation runs on the model.
            torch.backends.mkldnn.enabled = False
            try:
                return F.linear(x, self.weight, self.bias)
            finally:
                torch.backends.mkldnn.enabled = True

    class Float32Linear(DecodingLinear):
        """bfloat16 weights; one row (a decoded token) in bfloat16, several rows in float32."""

        def forward(self, x):
            if x.numel() <= x.shape[-1] or x.dtype != self.weight.dtype:
                return super().forward(x)
            return F.linear(x.float(), self.weight.float(), wide(self.bias)).to(x.dtype)

    class Float32Conv2d(nn.Conv2d):
        """bfloat16 weights, computed in float32 (the vision tower's patches)."""

        def forward(self, x):
            if x.dtype != self.weight.dtype:
                return super().forward(x)
            return self._conv_forward(x.float(), self.weight.float(), wide(self.bias)).to(x.dtype)

    return DecodingLinear, Float32Linear, Float32Conv2d
