"""bfloat16 models on CPUs without native bfloat16: the products of many rows computed in float32.

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

__all__ = ["float32_products"]


def float32_products(model: Any) -> int:
    """Make ``model``'s Linear and Conv2d layers compute products of several rows in float32 (weights
    stay as they are); returns how many layers were changed."""
    import torch.nn as nn

    linear, conv = _classes()
    changed = 0
    for module in model.modules():
        if type(module) is nn.Linear:
            module.__class__ = linear
        elif type(module) is nn.Conv2d:
            module.__class__ = conv
        else:
            continue
        changed += 1
    return changed


@lru_cache(maxsize=1)
def _classes() -> tuple:
    """The two layer classes, defined on first use (torch is imported only here)."""
    import torch.nn as nn
    import torch.nn.functional as F

    def wide(t: Any) -> Any:
        return None if t is None else t.float()

    class Float32Linear(nn.Linear):
        """bfloat16 weights; one row (a decoded token) in bfloat16, several rows in float32."""

        def forward(self, x):
            if x.numel() <= x.shape[-1] or x.dtype != self.weight.dtype:
                return F.linear(x, self.weight, self.bias)
            return F.linear(x.float(), self.weight.float(), wide(self.bias)).to(x.dtype)

    class Float32Conv2d(nn.Conv2d):
        """bfloat16 weights, computed in float32 (the vision tower's patches)."""

        def forward(self, x):
            if x.dtype != self.weight.dtype:
                return super().forward(x)
            return self._conv_forward(x.float(), self.weight.float(), wide(self.bias)).to(x.dtype)

    return Float32Linear, Float32Conv2d
