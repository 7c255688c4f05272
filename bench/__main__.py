"""``python -m bench [pipeline|stt|load|render] [options]``: run a benchmark, print markdown, write docs/bench/.

Examples::

    python -m bench                 # baseline vs streaming, CPU default's size (builds it once, ~2 GB)
    python -m bench --cpu avx2      # the same standing in for a CPU without native bfloat16 (docs/bench/cpu-avx2.md)
    python -m bench --quick         # the same on the tiny test models, in under a minute
    python -m bench precision       # float32 against lower precisions: speed, memory, next-token drift
    python -m bench threads         # the thread pools of torch, the voice, Whisper and the text reader
    python -m bench stt             # Whisper: 3 s and 8 s clips, openai-whisper and faster-whisper
    python -m bench load            # 16 people at once: a model server and the in-process engine (bench/load.py)
    python -m bench gpu             # SeeSay's whole GPU path against its targets, on CUDA (bench/gpu_e2e.py)
    python -m bench cloud           # the real app's memory with 1, 3 and 5 visitors in browsers, on 2 cores (bench/cloud.py)
    python -m bench render docs/bench/cpu.json   # redraw the table and plot of an earlier run
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / ".cache" / "bench-models"
DEFAULT_OUT = ROOT / "docs" / "bench"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["load"]:  # options of its own: python -m bench load --help
        from . import load

        return load.main(argv[1:])
    if argv[:1] == ["threads"]:  # options of its own: python -m bench threads --help
        from . import threads

        return threads.main(argv[1:])
    if argv[:1] == ["gpu"]:  # options of its own: python -m bench gpu --help (--miniature runs it on CPU)
        from . import gpu_e2e

        return gpu_e2e.main(argv[1:])
    if argv[:1] == ["cloud"]:  # options of its own: python -m bench cloud --help
        from . import cloud

        return cloud.main(argv[1:])
    if argv[:1] == ["precision"]:  # options of its own: python -m bench precision --help
        from . import precision

        return precision.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="pipeline",
                        choices=("pipeline", "stt", "load", "precision", "threads", "gpu", "cloud", "render"),
                        help="pipeline: baseline vs streaming (default); stt: Whisper engines and sizes; "
                             "load: many people at once (see python -m bench load --help); "
                             "precision: float32 against lower precisions (python -m bench precision --help); "
                             "threads: the engines' thread pools measured (python -m bench threads --help); "
                             "gpu: SeeSay's whole GPU path on CUDA (python -m bench gpu --help); "
                             "cloud: the real app's memory with visitors in browsers (python -m bench cloud --help); "
                             "render: redraw from a saved .json")
    parser.add_argument("json", nargs="?", type=Path, help="render: the .json an earlier pipeline run wrote")
    parser.add_argument("--quick", action="store_true", help="tiny test models instead of the CPU default's size")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per mode (median reported); default 3")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first; default 1")
    parser.add_argument("--lead", type=float, default=3.0,
                        help="seconds between the photo and the end of the question; default 3")
    parser.add_argument("--tokens", type=int, default=60, help="forced answer length in tokens; default 60")
    parser.add_argument("--stt-engine", default="faster-whisper", choices=("openai-whisper", "faster-whisper"),
                        help="speech recogniser for the pipeline benchmark; default faster-whisper")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default=None,
                        help="LLaVA dtype; default: SeeSay's (bfloat16; float32 prefills where the CPU lacks bf16)")
    parser.add_argument("--cpu", choices=("native", "avx2"), default="native",
                        help="avx2: stand in for a CPU without native bfloat16 (torch, oneDNN, MKL, fbgemm and "
                             "CTranslate2 kept to AVX2); default: this CPU as it is")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where built models are kept and reused; default {DEFAULT_CACHE}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder; default {DEFAULT_OUT}")
    parser.add_argument("--name", default="", help="output file name without suffix; default cpu / cpu-quick / stt")
    args = parser.parse_args(argv)
    if args.cpu == "avx2":
        from .machine import emulate_avx2

        emulate_avx2()  # before torch and CTranslate2 are imported

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Nothing may be downloaded: every model is built or shipped locally.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    command = "python -m bench " + " ".join(shlex.quote(a) for a in argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "stt":
        return _stt(args, command.strip())
    if args.what == "render":
        if args.json is None:
            parser.error("render needs the .json file of an earlier run")
        return _render(args)
    return _pipeline(args, command.strip())


def _pipeline(args: argparse.Namespace, command: str) -> int:
    from . import e2e, report

    name = args.name or ("cpu-quick" if args.quick else "cpu") + ("-avx2" if args.cpu == "avx2" else "")
    print(f"Loading models ({'tiny test models' if args.quick else 'CPU default size; first time builds it'})...",
          flush=True)
    setup = e2e.load_setup(quick=args.quick, cache=args.cache, stt_engine=args.stt_engine, dtype=args.dtype)
    print(f"Loaded in {setup.info['load_seconds']:.1f} s. {args.warmup} warm-up and {args.runs} measured "
          "runs per mode:", flush=True)
    results = e2e.benchmark(setup, runs=args.runs, warmup=args.warmup, lead=args.lead,
                            max_new_tokens=args.tokens, progress=lambda line: print(line, flush=True))
    print("SeeSay alone, for its whole process's memory (bench/memory.py, 4 photos)...", flush=True)
    setup.info["seesay_process"] = e2e.seesay_alone(setup, tokens=args.tokens)
    setup.info.update(command=command, lead=args.lead, quick=args.quick)
    report.save_json(results, setup.info, args.out / f"{name}.json")
    _write(results, setup.info, args.out, name)
    return 0


def _render(args: argparse.Namespace) -> int:
    from . import report

    results, info = report.load_json(args.json)
    _write(results, info, args.out, args.name or args.json.stem)
    return 0


def _write(results: dict, info: dict, out: Path, name: str) -> None:
    from . import report

    text = report.markdown(results, info, command=info["command"], lead=info["lead"])
    kind = "CPU without native bf16 (emulated AVX2)" if info.get("emulated_avx2") else "CPU"
    title = ("SeeSay, tiny test models" if info["quick"] else
             f"SeeSay on {kind}, LLaVA-Interleave-0.5B shape ({info['dtype']}), Whisper tiny.en, Piper, PP-OCRv4")
    png = out / f"{name}.png"
    report.plot(results, info, png, lead=info["lead"], title=title)
    md = out / f"{name}.md"
    md.write_text(f"# Speed: {title}\n\n{text}\n![timeline]({png.name})\n", encoding="utf-8")
    print()
    print(text)
    print(f"Wrote {md} and {png}")


def _stt(args: argparse.Namespace, command: str) -> int:
    from . import stt

    name = args.name or "stt"
    text = stt.run(cache=args.cache, runs=args.runs, command=command, progress=lambda line: print(line, flush=True))
    md = args.out / f"{name}.md"
    md.write_text(f"# Speech recognition speed\n\n{text}\n", encoding="utf-8")
    print()
    print(text)
    print(f"Wrote {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
