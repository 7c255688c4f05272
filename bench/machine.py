"""The machine a benchmark runs on: which kind of CPU it is (or stands in for), its memory bandwidth,
its matrix-product speed, and the process's own peak memory.

SeeSay's CPU targets hold on two kinds of CPU: with native bfloat16 (AVX-512 BF16 or AMX) and without
(AVX2 only). A machine of the first kind stands in for the second with :func:`emulate_avx2`, which keeps
every library that picks its kernels by the CPU's features to AVX2 (torch's own kernels, oneDNN, MKL,
fbgemm, CTranslate2). onnxruntime (the voice, the text reader) has no such switch and keeps its AVX-512
kernels: the report says so. :func:`describe` checks that the switch took effect (torch's kernel level,
and bfloat16 matrix products several times slower than float32, as on a real AVX2 CPU).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["AVX2_ENV", "emulate_avx2", "describe", "bandwidth", "matmul_gflops", "reset_peak", "peak_bytes"]

#: environment that keeps each library to AVX2 (read when the library first runs: set before importing them)
AVX2_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (bfloat16 matrix products, convolutions)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # MKL (float32 matrix products)
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",  # fbgemm (int8 quantized products)
    "CT2_FORCE_CPU_ISA": "AVX2",  # CTranslate2 (faster-whisper)
}


def emulate_avx2() -> None:
    """Stand in for a CPU without native bfloat16: must run before torch or CTranslate2 is imported."""
    loaded = [m for m in ("torch", "ctranslate2", "faster_whisper") if m in sys.modules]
    if loaded:
        raise RuntimeError(f"emulate_avx2() must run before {', '.join(loaded)} is imported")
    os.environ.update(AVX2_ENV)


def emulating() -> bool:
    return all(os.environ.get(k) == v for k, v in AVX2_ENV.items())


def describe() -> dict[str, Any]:
    """What kind of CPU the run measures, with the evidence; raises when an emulation did not take."""
    import torch

    from core.config import cpu_has_native_bf16

    flags = _flags()
    capability = torch.backends.cpu.get_cpu_capability()
    fp32, bf16 = matmul_gflops(torch.float32), matmul_gflops(torch.bfloat16)
    if emulating():
        if capability != "AVX2" or cpu_has_native_bf16():
            raise RuntimeError(f"the AVX2 stand-in did not take: torch uses {capability}")
        kind = ("without native bfloat16 (AVX2 only), emulated on a CPU with "
                + ("avx512_bf16" if "avx512_bf16" in flags else "AVX-512"))
    elif cpu_has_native_bf16():
        kind = "native bfloat16 (" + ", ".join(f for f in ("avx512_bf16", "amx_bf16", "bf16") if f in flags) + ")"
    else:
        kind = "without native bfloat16 (" + ("AVX2" if "avx2" in flags else "no AVX2") + ")"
    return {"cpu_kind": kind, "emulated_avx2": emulating(), "torch_capability": capability,
            "gflops_float32": fp32, "gflops_bfloat16": bf16,
            "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "amx")) or f == "bf16")}


def _flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def matmul_gflops(dtype: Any, n: int = 1024, repeats: int = 5) -> float:
    """Best of ``repeats`` products of two n x n matrices of ``dtype``, in GFLOPS (all of torch's threads)."""
    import torch

    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def bandwidth(gib: float = 1.0, repeats: int = 5) -> dict[str, float]:
    """Memory bandwidth in GB/s (10^9 bytes), best of ``repeats``: ``read``, summing a ``gib`` GiB
    bfloat16 tensor with torch (what decoding does: read every weight once); ``copy``, numpy copying
    half as much (bytes read plus bytes written)."""
    import numpy as np
    import torch

    size = int(gib * 2**30)
    weights = torch.ones(size // 2, dtype=torch.bfloat16)
    source = np.ones(size // 2, dtype=np.uint8)
    target = np.empty_like(source)
    read = copy = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        weights.sum()
        read = max(read, size / (time.perf_counter() - t) / 1e9)
        t = time.perf_counter()
        np.copyto(target, source)
        copy = max(copy, 2 * source.nbytes / (time.perf_counter() - t) / 1e9)
    return {"read": read, "copy": copy}


def reset_peak() -> bool:
    """Start the kernel's record of this process's peak memory (VmHWM) afresh (Linux); False if it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def peak_bytes() -> int:
    """The process's peak resident memory since it started or since :func:`reset_peak` (Linux; 0 elsewhere)."""
    from .probes import high_water_bytes

    return high_water_bytes()
