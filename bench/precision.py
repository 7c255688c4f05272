"""``python -m bench precision``: the CPU default in float32 against lower precisions, side by side.

For each kind of CPU (native bfloat16, and AVX2 only: :mod:`bench.machine`) and each way of storing
and computing the weights, a fresh process loads the CPU default's shape
(:func:`core.testmodels.llava.build_cpu_default_shaped`) and measures:

* memory: the process's peak (VmHWM), loading included, and the weights' bytes;
* speed: preparing a new photo (vision tower and prefix, the instructions' prefix already kept) and
  decoding (tokens/s over 32 forced tokens after the prefix);
* drift: on the same prompts (photos and questions with SeeSay's instructions and notes), float32's
  greedy answer is generated first; then each option is run along that same answer (teacher-forced)
  and its next-token distribution at each step is compared with float32's: top-1 agreement (the
  token it would pick is float32's) and the KL divergence KL(float32 || option), in nats.

The options (``VARIANTS``):

* ``float32``: the reference; 4.1 GB of weights.
* ``bfloat16``: bfloat16 throughout: what SeeSay runs on CPUs with native bfloat16 (on the AVX2
  kind, torch's bfloat16 kernels without hardware support: slow).
* ``bfloat16 + float32 prefill``: bfloat16 weights and activations, products of several rows in
  float32 (:mod:`core.vlm.mixed`): SeeSay's choice on CPUs without native bfloat16.
* ``bf16 weights + float32 compute``: weights stored in bfloat16, every product and activation in
  float32 (each weight widened when used). The checkpoint ships bfloat16, so this is float32 exactly.
* ``int8 weights + float32 compute``: weights stored in int8 with a scale per output row, widened to
  float32 when used (activations float32).
* ``int8 dynamic``: ``torch.ao.quantization.quantize_dynamic`` on every Linear layer (int8 weights,
  activations quantized to int8 on the fly, fbgemm kernels), per-tensor (torch's default) and per-channel.

Random weights are fine for a numerical comparison, but their next-token distributions are much
flatter than a trained model's (the report gives float32's mean top probability), so small
perturbations flip the top token more often: agreement here is a pessimistic estimate for every option.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("What does the sign say, and what color is it?", "Describe this photo for me.")
#: option name -> what it is, as the report says it
VARIANTS = {
    "float32": "float32 weights and compute (the reference)",
    "bfloat16": "bfloat16 weights and compute, as SeeSay runs on a CPU with native bfloat16 (core.vlm.mixed: "
                "each decoded token's products through torch's own kernel, its attention in float32)",
    "bfloat16 + float32 prefill": "the same, with the products of several rows in float32: SeeSay on a CPU "
                                  "without native bfloat16 (core.vlm.mixed)",
    "bf16 weights + float32 compute": "weights stored in bfloat16, widened to float32 when used; float32 activations",
    "int8 weights + float32 compute": "weights stored in int8 (a scale per output row), widened to float32 when "
                                     "used; float32 activations",
    "int8 dynamic": "torch.ao quantize_dynamic on every Linear layer: int8 weights (per tensor) and activations",
    "int8 dynamic per channel": "the same with a scale per output row of the weights",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench precision", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny test model (checks the script, no figures)")
    parser.add_argument("--cpu", choices=("native", "avx2", "both"), default="both",
                        help="which kind of CPU to measure (avx2: emulated, see bench.machine); default both")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated options to measure")
    parser.add_argument("--tokens", type=int, default=48, help="answer tokens compared per prompt; default 48")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench-models")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--name", default="", help="output file name; default precision (precision-quick)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one option, in a process of its own
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.worker:
        from .precision_worker import run

        args.result.write_text(json.dumps(run(args.worker, folder=_folder(args), reference=args.reference,
                                              tokens=args.tokens)) + "\n", encoding="utf-8")
        return 0
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown options {unknown}; known: {', '.join(VARIANTS)}")
    if "float32" not in variants:
        variants.insert(0, "float32")  # the reference comes first
    _folder(args)  # build the model once, here, before the workers load it
    kinds = ("native", "avx2") if args.cpu == "both" else (args.cpu,)
    command = "python -m bench precision " + " ".join(argv if argv is not None else sys.argv[1:])
    results = {"command": command.strip(), "load_average_before": os.getloadavg(), "kinds": {}}
    for kind in kinds:
        results["kinds"][kind] = _measure(kind, variants, args)
    results["load_average_after"] = os.getloadavg()
    name = args.name or ("precision-quick" if args.quick else "precision")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = markdown(results)
    (args.out / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"Wrote {args.out / name}.md and .json")
    return 0


def _folder(args: argparse.Namespace) -> Path:
    from core.testmodels.llava import build_cpu_default_shaped, build_tiny_llava

    if args.quick:
        return build_tiny_llava(args.cache / "tiny-llava")
    return build_cpu_default_shaped(args.cache / "llava-interleave-qwen-0.5b-shaped")


def _measure(kind: str, variants: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Every option on one kind of CPU, each in a process of its own (its peak memory is its own)."""
    from .machine import AVX2_ENV

    env = dict(os.environ)
    for key in AVX2_ENV:
        env.pop(key, None)
    if kind == "avx2":
        env.update(AVX2_ENV)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="seesay-precision-") as tmp:
        reference = Path(tmp) / "reference"
        for variant in variants:
            result = Path(tmp) / "result.json"
            command = [sys.executable, "-m", "bench", "precision", "--worker", variant, "--reference",
                       str(reference), "--result", str(result), "--tokens", str(args.tokens),
                       "--cache", str(args.cache)] + (["--quick"] if args.quick else [])
            print(f"{kind}: {variant}...", flush=True)
            t = time.perf_counter()
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                out[variant] = {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
                continue
            out[variant] = json.loads(result.read_text(encoding="utf-8"))
            r = out[variant]
            print(f"  {time.perf_counter() - t:.0f} s: peak {r['peak'] / 1e9:.2f} GB, prepare "
                  f"{r['prepare_seconds']:.2f} s, decode {r['decode_tps']:.1f} tokens/s, top-1 {r['top1']:.1%}, "
                  f"KL {r['kl_mean']:.2e}", flush=True)
    return out


def markdown(results: dict[str, Any]) -> str:
    """The side-by-side tables, the tolerance and the verdicts."""
    lines = ["# Precision on CPU: float32 against lower precisions", "",
             f"Command: `{results['command']}`. Load average (1, 5, 15 min) before "
             f"{_loads(results['load_average_before'])}, after {_loads(results['load_average_after'])}.", "",
             "The CPU default's shape (SigLIP-384 + Qwen 0.5B, 1.02 B parameters, random weights stored in "
             "bfloat16 as the hub ships the model), 2 cores. Each option in a process of its own. Speed: a new "
             "photo's preparation (vision tower and the photo's prefix; the instructions' prefix already kept) "
             "and decoding 32 forced tokens. Drift: float32's greedy answer to each prompt first; each option then "
             "follows that answer (teacher-forced) and its next-token distribution at every step is compared with "
             "float32's.", ""]
    for kind, rows in results["kinds"].items():
        first = next((r for r in rows.values() if "cpu_kind" in r), {})
        lines += [f"## {first.get('cpu_kind', kind)}", "",
                  f"torch kernels {first.get('torch_capability', '?')}; {first.get('positions', 0)} answer "
                  f"positions over {first.get('prompts', 0)} prompts; float32's mean top probability "
                  f"{first.get('top_probability', 0):.2e} (uniform over the vocabulary: "
                  f"{1 / max(first.get('vocabulary', 1), 1):.2e}): flat, as random weights are.", "",
                  "| option | peak memory, loading included (GB) | weights (GB) | new photo (s) | decode (tokens/s) "
                  "| top-1 agreement with float32 | KL from float32, mean (max) | within tolerance |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        bf16 = rows.get("bfloat16", {})
        for variant, r in rows.items():
            if "error" in r:
                lines.append(f"| {variant} | failed: {r['error']} | | | | | | |")
                continue
            lines.append(f"| {variant} | {r['peak'] / 1e9:.2f} | {r['weight_bytes'] / 1e9:.2f} | "
                         f"{r['prepare_seconds']:.2f} | {r['decode_tps']:.1f} | {r['top1']:.1%} | "
                         f"{r['kl_mean']:.2e} ({r['kl_max']:.2e}) | {verdict(r, bf16, variant)} |")
        lines.append("")
    lines += ["Options: " + "; ".join(f"**{k}**: {v}" for k, v in VARIANTS.items()) + ".", "",
              TOLERANCE, ""]
    return "\n".join(lines)


TOLERANCE = """\
Tolerance: an option keeps the answers the same when it drifts from float32 no more than bfloat16 does:
top-1 agreement at least bfloat16's less two standard errors of the difference (the positions are a
sample), and mean KL divergence at most 1.5 times bfloat16's. bfloat16 is the precision the model is
published in and the one SeeSay already answers in on every CPU with native bfloat16, so an option
within it changes answers no more than those CPUs already do. Random weights give flat next-token
distributions (a trained model's are far more peaked), on which any rounding flips the top token more
often: the agreement figures are pessimistic for every option alike; the comparison between options is
what counts."""


def verdict(row: dict, bf16: dict, variant: str) -> str:
    if variant in ("float32", "bfloat16"):
        return "reference" if variant == "float32" else "the tolerance's measure"
    if "top1" not in bf16:
        return "?"
    n = max(row["positions"], 1)
    spread = 2 * ((row["top1"] * (1 - row["top1"]) + bf16["top1"] * (1 - bf16["top1"])) / n) ** 0.5
    ok = row["top1"] >= bf16["top1"] - spread and row["kl_mean"] <= 1.5 * bf16["kl_mean"]
    return "yes" if ok else "no"


def _loads(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
