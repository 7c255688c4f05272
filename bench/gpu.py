"""LLaVA-1.5-7B on one CUDA GPU: fp16 against 4-bit NF4, and what raises 4-bit decode speed.

Self-contained (no SeeSay imports, no model hub): the model is built from LLaVA-1.5-7B's
configuration with random weights, directly on the GPU in float16. Speed does not depend on the
weights' values; the answer length is forced (min_new_tokens = max_new_tokens).

    python bench/gpu.py                  # everything, writes docs/bench/gpu.md
    python bench/gpu.py --dry-run        # no GPU needed: the configuration and parameter counts
    python bench/gpu.py --skip-compile   # leave out torch.compile (its warm-up takes minutes)

Measured for each variant: time to first token with one 336 px image (vision tower + prefill of
576 image tokens and a SeeSay-sized text prompt), decode speed over 128 forced tokens, peak GPU
memory (torch.cuda.max_memory_allocated), and decode speed as a share of the memory-bandwidth
limit: (bytes read per token / seconds per token) / the GPU's peak bandwidth. Bytes read per token
= the language model's weights as stored (embedding table excluded: one row is read) + the KV cache
at the mean context length.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "bench" / "gpu.md"

# --- LLaVA-1.5-7B (llava-hf/llava-1.5-7b-hf), from its public config -----------------------------
VISION = dict(  # CLIP ViT-L/14 at 336 px
    hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
    image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu", layer_norm_eps=1e-5,
)
TEXT = dict(  # Vicuna-7B v1.5 = Llama-2-7B shape, vocabulary extended to 32064 (image + pad tokens)
    vocab_size=32064, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096, rms_norm_eps=1e-5,
    rope_theta=10000.0, hidden_act="silu", tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
    pad_token_id=32001,
)
LLAVA = dict(
    image_token_index=32000, image_seq_length=576, vision_feature_layer=-2,
    vision_feature_select_strategy="default", projector_hidden_act="gelu", pad_token_id=32001,
    tie_word_embeddings=False,
)
IMAGE_TOKENS = 576  # (336 / 14)^2; the CLS token is dropped by the "default" strategy
TEXT_TOKENS = 140  # "USER: <image>\n" + SeeSay's instructions + a question + " ASSISTANT:" in Llama tokens
NEW_TOKENS = 128
DEVICE = "cuda"  # a smoke test of this script's logic may set "cpu" with a miniature configuration

# Peak memory bandwidth, bytes/s, by device name (first match wins); --bandwidth overrides.
BANDWIDTH = [
    ("H200", 4.8e12), ("H100 NVL", 3.9e12), ("H100 PCIe", 2.0e12), ("H100", 3.35e12),
    ("A100-SXM4-80GB", 2.039e12), ("A100 80GB PCIe", 1.935e12), ("A100", 1.555e12),
    ("L40S", 0.864e12), ("L40", 0.864e12), ("L4", 0.3e12), ("A10G", 0.6e12), ("A10", 0.6e12),
    ("RTX 4090", 1.008e12), ("RTX 3090", 0.936e12), ("T4", 0.32e12), ("V100", 0.9e12),
]


def llava_config():
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    return LlavaConfig(vision_config=CLIPVisionConfig(**VISION), text_config=LlamaConfig(**TEXT), **LLAVA)


# --- results ---------------------------------------------------------------------------------------


@dataclass
class Result:
    variant: str
    ttft: float = float("nan")  # seconds to the first token
    decode_tps: float = float("nan")  # tokens per second after the first
    memory: int = 0  # peak bytes allocated on the GPU
    bytes_per_token: int = 0  # weights + KV cache read per decode step
    note: str = ""
    failed: str = ""
    samples: dict = field(default_factory=dict)

    def bandwidth_share(self, peak: float) -> float:
        return self.bytes_per_token * self.decode_tps / peak


# --- building ----------------------------------------------------------------------------------


def build_fp16():
    """LLaVA-1.5-7B with random weights, created on the GPU in float16 (no CPU copy, ~20 s)."""
    import torch
    from transformers import LlavaForConditionalGeneration

    torch.manual_seed(0)
    with torch.device(DEVICE):
        model = LlavaForConditionalGeneration._from_config(llava_config(), dtype=torch.float16)
    model.eval().requires_grad_(False)
    model.generation_config.pad_token_id = TEXT["pad_token_id"]
    model.generation_config.eos_token_id = TEXT["eos_token_id"]
    return model


def quantize_nf4(model):
    """Swap every Linear for a 4-bit NF4 one (double quantization, fp16 compute), in place, on the GPU.

    The modules left alone are those transformers leaves alone when it quantizes on load
    (``get_keys_to_not_convert``: the output head); the fp16 weights are freed layer by layer.
    """
    import bitsandbytes as bnb
    import torch

    try:
        from transformers.quantizers.base import get_keys_to_not_convert

        keep = set(get_keys_to_not_convert(model))
    except Exception:  # the helper moved: the output head is what it returns for LLaVA
        keep = {"lm_head"}
    for name, module in list(model.named_modules()):
        if type(module) is not torch.nn.Linear or name in keep or name.split(".")[-1] in keep:
            continue
        new = bnb.nn.Linear4bit(module.in_features, module.out_features, bias=module.bias is not None,
                                compute_dtype=torch.float16, compress_statistics=True, quant_type="nf4",
                                device="meta")
        new.weight = bnb.nn.Params4bit(module.weight.data, requires_grad=False, compress_statistics=True,
                                       quant_type="nf4", module=new).to(DEVICE)  # quantizes here
        if module.bias is not None:
            new.bias = torch.nn.Parameter(module.bias.data, requires_grad=False)
        model.set_submodule(name, new)
    gc.collect()
    _cuda("empty_cache")
    return model


def _cuda(name: str, default=None):
    """torch.cuda.<name>() on a GPU; ``default`` in a CPU smoke test."""
    import torch

    return getattr(torch.cuda, name)() if DEVICE == "cuda" else default


def quantize_nf4_on_load(model, folder: Path):
    """Fallback: save the fp16 model and load it back quantized, as SeeSay's loader does."""
    import torch
    from transformers import BitsAndBytesConfig, LlavaForConditionalGeneration

    model.save_pretrained(folder)
    del model
    gc.collect()
    _cuda("empty_cache")
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                bnb_4bit_compute_dtype=torch.float16)
    return LlavaForConditionalGeneration.from_pretrained(folder, quantization_config=config,
                                                         dtype=torch.float16, device_map=DEVICE).eval()


def bytes_read_per_token(model, context: int) -> int:
    """Language-model weights as stored (without the embedding table) + the KV cache at ``context``."""
    lm = model.model.language_model
    embed = lm.get_input_embeddings()
    total = 0
    for module in list(lm.modules()) + [model.lm_head]:
        if module is embed:
            continue
        for p in module.parameters(recurse=False):
            total += p.numel() * p.element_size()
            state = getattr(p, "quant_state", None)
            while state is not None:  # NF4 scales (double quantization nests a second state)
                total += state.absmax.numel() * state.absmax.element_size()
                state = getattr(state, "state2", None)
    kv = 2 * TEXT["num_hidden_layers"] * TEXT["num_key_value_heads"] * (TEXT["hidden_size"] // TEXT["num_attention_heads"])
    return total + kv * 2 * context  # fp16 keys and values


# --- measuring -----------------------------------------------------------------------------------


def inputs():
    import torch

    g = torch.Generator().manual_seed(0)
    text = torch.randint(3, 32000, (TEXT_TOKENS,), generator=g)
    ids = torch.cat([torch.tensor([TEXT["bos_token_id"]]), text[:8], torch.full((IMAGE_TOKENS,), LLAVA["image_token_index"]),
                     text[8:]]).unsqueeze(0).to(DEVICE)
    pixels = torch.randn(1, 3, VISION["image_size"], VISION["image_size"], generator=g).half().to(DEVICE)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels}


def timed_generate(model, batch, new_tokens: int, **kwargs) -> float:
    import torch

    _cuda("synchronize")
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             **kwargs)
    _cuda("synchronize")
    if out.shape[1] - batch["input_ids"].shape[1] != new_tokens:
        raise RuntimeError("the answer length was not forced: timings would not compare")
    return time.perf_counter() - start


def measure(model, variant: str, repeats: int, note: str = "", **kwargs) -> Result:
    """Time to first token and decode speed of ``model.generate(**kwargs)``, medians of ``repeats``."""
    batch = inputs()
    result = Result(variant, note=note)
    _cuda("reset_peak_memory_stats")
    try:
        timed_generate(model, batch, NEW_TOKENS, **kwargs)  # warm-up (and compilation, if any)
        firsts = [timed_generate(model, batch, 1, **kwargs) for _ in range(repeats)]
        wholes = [timed_generate(model, batch, NEW_TOKENS, **kwargs) for _ in range(repeats)]
    except Exception as exc:  # one variant failing must not lose the others
        result.failed = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        print(f"  {variant}: FAILED {result.failed}", flush=True)
        return result
    result.ttft = statistics.median(firsts)
    result.decode_tps = (NEW_TOKENS - 1) / (statistics.median(wholes) - result.ttft)
    result.memory = _cuda("max_memory_allocated", 0)
    result.bytes_per_token = bytes_read_per_token(model, IMAGE_TOKENS + TEXT_TOKENS + 1 + NEW_TOKENS // 2)
    result.samples = {"first": firsts, "whole": wholes}
    print(f"  {variant}: first token {result.ttft * 1000:.0f} ms, {result.decode_tps:.1f} tokens/s, "
          f"{result.memory / 2**30:.1f} GiB", flush=True)
    return result


@contextlib.contextmanager
def attention(model, implementation: str):
    before = model.config._attn_implementation
    model.set_attn_implementation(implementation)
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def run(args, save=lambda results: None) -> list[Result]:
    results: list[Result] = []

    def add(result: Result) -> None:  # saved after each variant: a run cut short keeps what it measured
        results.append(result)
        save(results)

    print("Building LLaVA-1.5-7B (random weights, fp16, on the GPU)...", flush=True)
    t = time.perf_counter()
    model = build_fp16()
    print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
    plain = dict(disable_compile=True)  # dynamic cache, no compilation
    add(measure(model, "fp16, SDPA attention", args.repeats, **plain))

    print("Quantizing to 4-bit NF4 (double quantization, fp16 compute)...", flush=True)
    t = time.perf_counter()
    how = "in place (bitsandbytes Linear4bit)"
    try:
        model = quantize_nf4(model)
    except Exception as exc:
        print(f"  in-place quantization failed ({type(exc).__name__}: {exc}); saving and loading instead", flush=True)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            model = quantize_nf4_on_load(model, Path(tmp))
        how = "on load (from_pretrained + BitsAndBytesConfig)"
    print(f"  quantized {how} in {time.perf_counter() - t:.1f} s", flush=True)

    add(measure(model, "NF4, SDPA attention", args.repeats, note=how, **plain))
    with attention(model, "eager"):
        add(measure(model, "NF4, eager attention", args.repeats, **plain))
    add(measure(model, "NF4, SDPA, static KV cache", args.repeats,
                           cache_implementation="static", disable_compile=True))
    if not args.skip_compile:
        from transformers import CompileConfig

        # transformers compiles the decoding step itself when the cache is static and the model allows
        # it; models quantized on load by bitsandbytes do not (their quantizer says not compileable).
        quantizer = getattr(model, "hf_quantizer", None)
        note = ("not compiled: transformers does not compile bitsandbytes models loaded this way"
                if quantizer is not None and not quantizer.is_compileable else
                "compiled decode step (the warm-up compiles)")
        add(measure(model, "NF4, SDPA, static KV cache, torch.compile", args.repeats, note=note,
                               cache_implementation="static",
                               compile_config=CompileConfig(fullgraph=False, mode="reduce-overhead")))
        add(measure(model, "NF4, SDPA, static KV cache of 2048, torch.compile", args.repeats,
                    note="SeeSay's setting (SEESAY_LLAVA_COMPILE): one cache size for every conversation",
                    cache_implementation="static", max_cache_len=2048,
                    compile_config=CompileConfig(fullgraph=False, mode="reduce-overhead")))
    return results


# --- report --------------------------------------------------------------------------------------


def peak_bandwidth(name: str, override: float | None) -> tuple[float, str]:
    if override:
        return override * 1e12, "given with --bandwidth"
    for key, value in BANDWIDTH:
        if key.lower() in name.lower():
            return value, f"datasheet value for {key}"
    return float("nan"), "unknown GPU: pass --bandwidth TB/s"


def markdown(results: list[Result], device: str, peak: float, peak_source: str, command: str) -> str:
    import torch
    import transformers

    try:
        import bitsandbytes

        bnb_version = bitsandbytes.__version__
    except ImportError:
        bnb_version = "not installed"
    lines = [
        f"Command: `{command}`",
        "",
        f"GPU: {device}; peak memory bandwidth {peak / 1e12:.2f} TB/s ({peak_source}). torch {torch.__version__}, "
        f"transformers {transformers.__version__}, bitsandbytes {bnb_version}.",
        f"Model: LLaVA-1.5-7B shape (CLIP ViT-L/14-336 + Llama-2-7B, vocabulary 32064), random weights. "
        f"Prompt: {IMAGE_TOKENS} image tokens + {TEXT_TOKENS + 1} text tokens; answer forced to {NEW_TOKENS} "
        "tokens; greedy. Medians of the repeats after one warm-up.",
        "",
        "| variant | first token (ms) | decode (tokens/s) | GPU memory (GiB) | bytes read per token (GB) "
        "| share of bandwidth limit | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        if r.failed:
            lines.append(f"| {r.variant} | - | - | - | - | - | failed: {r.failed} |")
            continue
        lines.append(f"| {r.variant} | {r.ttft * 1000:.0f} | {r.decode_tps:.1f} | {r.memory / 2**30:.2f} | "
                     f"{r.bytes_per_token / 1e9:.2f} | {r.bandwidth_share(peak):.0%} | {r.note} |")
    nf4 = [r for r in results if r.variant.startswith("NF4") and not r.failed]
    if nf4:
        best = max(nf4, key=lambda r: r.decode_tps)
        lines += ["", f"Fastest 4-bit decode: **{best.variant}**, {best.decode_tps:.1f} tokens/s "
                      f"({best.decode_tps / nf4[0].decode_tps:.2f}x the plain NF4 run)."]
    lines += [
        "",
        "Share of the bandwidth limit = bytes read per token x tokens per second / peak bandwidth: how close",
        "decoding comes to the speed at which the GPU can stream the weights once per token. 4-bit reads",
        "about a quarter of fp16's bytes, so the same share means about four times the speed; a low share",
        "means the time goes to kernel launches and dequantization, not to memory.",
    ]
    return "\n".join(lines)


def dry_run() -> int:
    """Build the configuration on the meta device and count parameters: no GPU, no weights."""
    import torch
    from transformers import LlavaForConditionalGeneration

    with torch.device("meta"):
        model = LlavaForConditionalGeneration._from_config(llava_config(), dtype=torch.float16)

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters())

    parts = {
        "vision tower (CLIP ViT-L/14-336)": count(model.model.vision_tower),
        "projector": count(model.model.multi_modal_projector),
        "language model (Llama-2-7B)": count(model.model.language_model),
        "output head": count(model.lm_head),
    }
    total = count(model)
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if type(m) is torch.nn.Linear and n != "lm_head")
    print("LLaVA-1.5-7B configuration (dry run, meta device):")
    for name, n in parts.items():
        print(f"  {name:34s} {n / 1e9:6.3f} B")
    print(f"  {'total':34s} {total / 1e9:6.3f} B parameters")
    nf4_bytes = linear * 0.5 + linear / 64 * (1 + 4 / 256) + (total - linear) * 2  # NF4 + double-quant scales
    print(f"  weights: fp16 {total * 2 / 2**30:.1f} GiB; NF4 (Linear layers but the output head) "
          f"about {nf4_bytes / 2**30:.1f} GiB")
    print(f"  prompt: {IMAGE_TOKENS} image + {TEXT_TOKENS + 1} text tokens; {NEW_TOKENS} forced new tokens")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="Writes a markdown table to docs/bench/gpu.md (see --out).")
    parser.add_argument("--dry-run", action="store_true", help="no GPU: build the config on meta, count parameters")
    parser.add_argument("--repeats", type=int, default=3, help="measured generations per variant; default 3")
    parser.add_argument("--skip-compile", action="store_true", help="leave out the torch.compile variant")
    parser.add_argument("--bandwidth", type=float, default=None,
                        help="peak memory bandwidth in TB/s (default: from the device name, e.g. H100 SXM 3.35)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"markdown output; default {OUT}")
    args = parser.parse_args(argv)
    if args.dry_run:
        return dry_run()

    import torch

    if not torch.cuda.is_available():
        print("No CUDA GPU here. Use --dry-run to check the configuration without one.", file=sys.stderr)
        return 2
    device = torch.cuda.get_device_name(0)
    peak, source = peak_bandwidth(device, args.bandwidth)
    print(f"GPU: {device}", flush=True)
    command = "python bench/gpu.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save(results: list[Result]) -> None:
        text = markdown(results, device, peak, source, command.strip())
        args.out.write_text(f"# LLaVA-1.5-7B on {device}\n\n{text}\n", encoding="utf-8")

    results = run(args, save)
    text = markdown(results, device, peak, source, command.strip())
    print()
    print(text)
    print(f"\nWrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
