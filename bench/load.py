"""``python -m bench.load``: many people at once, through SeeSay's pipeline, on a model server and in-process.

Each simulated person (a thread) has a photo of their own and two questions of their own: a question, then
a follow-up with the first answer as the conversation so far. They go through :class:`core.pipeline.Pipeline`,
as the app's visitors do, against two answering engines in one run, one after the other:

* **server**: the ``openai`` engine against an OpenAI-compatible server. By default a real
  ``transformers serve`` that this script starts on loopback with the tiny test LLaVA; ``--url`` points it
  at any other server (vLLM on a GPU box: ``--url http://gpu-box:8000/v1 --model llava-hf/llava-1.5-7b-hf``;
  a key, if the server wants one, is read from SEESAY_VLM_API_KEY);
* **in-process**: the ``transformers`` engine with the tiny test LLaVA in this process (the app's default).

For each engine every person first asks alone, one after another (the reference), then all of them at
once. Reported: p50 and p95 of the time to the first piece of the answer and to the whole answer (from the
moment the question is asked, waiting in line included), and a check that every person got exactly their
own answers: decoding is greedy, so each answer given under load must be the very answer the same photo and
question got alone. Random weights give real timings and meaningless words.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import platform
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / ".cache" / "bench-models"
DEFAULT_OUT = ROOT / "docs" / "bench"
TARGETS = ("server", "in-process")

SUBJECTS = ["mug", "sign", "door", "bus", "letter", "plant", "bottle", "phone", "shelf", "coat", "ticket",
            "label", "cake", "lamp", "bag", "clock", "map", "shoe", "menu", "bike"]


@dataclass(frozen=True)
class Asked:
    """One question one person asked, and what they got."""

    person: int
    turn: int  # 0: the question, 1: the follow-up
    first_token: float  # seconds from asking to the first piece of the answer (waiting in line included)
    total: float  # seconds from asking to the whole answer
    answer: str


@dataclass
class Result:
    """One engine's run: everyone alone, then everyone at once."""

    target: str  # "server" or "in-process"
    engine: str  # what answered, in words
    alone: list[Asked] = field(default_factory=list)
    together: list[Asked] = field(default_factory=list)
    wall: float = 0.0  # seconds from the start of the concurrent run to its last answer
    wrong: list[str] = field(default_factory=list)  # people whose answers under load differ from alone
    errors: list[str] = field(default_factory=list)  # what people heard instead of an answer


def person_photo(person: int) -> bytes:
    """A JPEG of its own for each person: noise and shapes from the person's own seed."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(1000 + person)
    pixels = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = int(rng.integers(0, 260)), int(rng.integers(0, 180))
        draw.rectangle([x, y, x + 60, y + 60], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def questions(person: int) -> tuple[str, str]:
    subject = SUBJECTS[person % len(SUBJECTS)]
    return (f"Is there a {subject} in this photo, and where is it?",
            f"What colour is the {subject}, and what is next to it? (person {person + 1})")


def ask_all(pipeline, person: int, tokens: int, start: threading.Barrier | None = None) -> list[Asked]:
    """One person's visit: the photo, a question, then a follow-up about the same photo."""
    from core.engines import Choices
    from core.pipeline import Done, PhotoTaken, Turn

    choices = Choices(speak=False, private=True)
    if start is not None:
        start.wait()
    photo = [e.photo for e in pipeline.take_photo(person_photo(person), choices, spoken=False)
             if isinstance(e, PhotoTaken)][0]  # all of it: the in-process engine prepares the photo here
    history: list[Turn] = []
    asked = []
    for turn, question in enumerate(questions(person)):
        done = [e for e in pipeline.ask(photo, question, history, choices, max_tokens=tokens, min_tokens=tokens)
                if isinstance(e, Done)][-1]
        timings = done.answer.timings
        asked.append(Asked(person, turn, timings["first_token"], timings["total"], done.answer.text))
        history.append(Turn(question, done.answer.text))
    return asked


def run(target: str, engine: str, pipeline, *, people: int, tokens: int, progress=print) -> Result:
    """Everyone alone, one after another; then everyone at once; then the check."""
    from core.errors import SeeSayError

    result = Result(target, engine)
    progress(f"[{target}] warming up, then {people} people one after another...")
    ask_all(pipeline, people, tokens)  # someone who is not measured: first-use costs are paid here
    for person in range(people):
        result.alone += ask_all(pipeline, person, tokens)
    progress(f"[{target}] {people} people at once...")
    start = threading.Barrier(people)
    lock = threading.Lock()

    def visit(person: int) -> None:
        try:
            got = ask_all(pipeline, person, tokens, start)
        except SeeSayError as error:
            with lock:
                result.errors.append(f"person {person + 1}: {error.spoken}")
            return
        with lock:
            result.together += got

    threads = [threading.Thread(target=visit, args=(p,), name=f"person-{p + 1}") for p in range(people)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall = time.perf_counter() - t
    alone = {(a.person, a.turn): a.answer for a in result.alone}
    for a in sorted(result.together, key=lambda a: (a.person, a.turn)):
        if a.answer != alone[(a.person, a.turn)]:
            result.wrong.append(f"person {a.person + 1}, {'follow-up' if a.turn else 'question'}")
    return result


def percentile(values: list[float], p: float) -> float:
    import numpy as np

    return float(np.percentile(values, p)) if values else float("nan")


def summary(result: Result) -> dict[str, float]:
    first = [a.first_token for a in result.together]
    total = [a.total for a in result.together]
    return {
        "alone_first_p50": percentile([a.first_token for a in result.alone], 50),
        "alone_total_p50": percentile([a.total for a in result.alone], 50),
        "first_p50": percentile(first, 50), "first_p95": percentile(first, 95),
        "total_p50": percentile(total, 50), "total_p95": percentile(total, 95),
    }


def markdown(results: list[Result], info: dict) -> str:
    people = info["people"]
    lines = [
        f"Command: `{info['command']}`",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {platform.python_version()}, {sys.platform}. "
        f"Load average (1 min) before {info['load_before']:.1f}, after {info['load_after']:.1f}: the machine "
        "was shared with other work while this ran, so every figure is pessimistic.",
        f"Model: {info['model']}. Each answer forced to {info['tokens']} tokens, greedy.",
        f"{people} people, each with a photo of their own (320x240 JPEG) and two questions of their own: a "
        "question, then a follow-up carrying the first answer. Times are from the moment a question is "
        "asked (waiting in line included), through `core.pipeline.Pipeline`, speech off.",
        "",
        f"| engine | alone: first piece p50 (s) | alone: whole answer p50 (s) | {people} at once: first piece "
        f"p50 / p95 (s) | {people} at once: whole answer p50 / p95 (s) | all {people} done (s) | "
        "everyone got their own answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        s = summary(r)
        count = len(r.together)
        distinct = len({a.answer for a in r.alone})
        check = ("yes" if not r.wrong and not r.errors and count == 2 * people else
                 f"NO: {len(r.wrong)} differ, {len(r.errors)} errors")
        check += f" ({count} answers compared; {distinct} different answers among {len(r.alone)})"
        lines.append(f"| {r.target}: {r.engine} | {s['alone_first_p50']:.2f} | {s['alone_total_p50']:.2f} | "
                     f"{s['first_p50']:.2f} / {s['first_p95']:.2f} | {s['total_p50']:.2f} / {s['total_p95']:.2f} | "
                     f"{r.wall:.1f} | {check} |")
    for r in results:
        for line in r.wrong + r.errors:
            lines.append(f"\n- {r.target}: {line}")
    return "\n".join(lines) + "\n"


def plot(results: list[Result], path: Path, people: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    labels = ["alone p50", f"{people} at once p50", f"{people} at once p95"]
    width = 0.8 / max(1, len(results))
    for ax, (what, title) in zip(axes, [("first", "Time to the first piece of the answer"),
                                        ("total", "Time to the whole answer")]):
        for i, r in enumerate(results):
            s = summary(r)
            values = [s[f"alone_{what}_p50"], s[f"{what}_p50"], s[f"{what}_p95"]]
            xs = [x + (i - (len(results) - 1) / 2) * width for x in range(len(labels))]
            bars = ax.bar(xs, values, width, label=r.target)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_ylabel("seconds")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"{people} people asking at once through SeeSay's pipeline (tiny random LLaVA, shared CPU)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=16, help="simulated people; default 16")
    parser.add_argument("--tokens", type=int, default=32, help="forced answer length in tokens; default 32")
    parser.add_argument("--url", default="", help="an OpenAI-compatible server's base address (e.g. "
                        "http://gpu-box:8000/v1); default: start transformers serve here with the tiny LLaVA")
    parser.add_argument("--model", default="", help="the model's name on --url's server")
    parser.add_argument("--only", choices=TARGETS, help="run one engine only")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"built models; default {DEFAULT_CACHE}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder; default {DEFAULT_OUT}")
    parser.add_argument("--name", default="load", help="output file name without suffix; default load")
    args = parser.parse_args(argv)
    if args.url and not args.model:
        parser.error("--url needs --model, the model's name on that server")
    if args.people < 1 or args.tokens < 1:
        parser.error("--people and --tokens must be at least 1")

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from core.config import Settings
    from core.pipeline import Pipeline
    from core.testmodels.llava import build_tiny_llava
    from core.testmodels.server import ModelServer

    from .probes import cores, cpu_name

    command = "python -m bench.load " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    folder = build_tiny_llava(args.cache / "tiny-llava")
    info = {"command": command.strip(), "cpu": cpu_name(), "cores": cores(), "people": args.people,
            "tokens": args.tokens, "load_before": os.getloadavg()[0],
            "model": "the tiny test LLaVA (SigLIP + Qwen2 look-alike, random weights), float32 on the CPU"}
    if args.url:
        info["model"] = f"server: {args.model} at {args.url}; in-process: {info['model']}"
    results = []
    server = None
    try:
        if args.only != "in-process":
            if args.url:
                url, model, engine = args.url, args.model, f"{args.model} at {args.url}"
            else:
                print("Starting transformers serve with the tiny LLaVA...", flush=True)
                server = ModelServer(folder).start()
                url, model, engine = server.url, server.model, "transformers serve (loopback), openai engine"
            settings = Settings(vlm_engine="openai", vlm_url=url, vlm_model=model,
                                vlm_api_key=os.environ.get("SEESAY_VLM_API_KEY", ""), tts_engine="espeak",
                                private=True)
            results.append(run("server", engine, Pipeline(settings), people=args.people, tokens=args.tokens))
        if server is not None:
            server.stop()  # its threads would otherwise take CPU from the in-process engine
        if args.only != "server":
            settings = Settings(device="cpu", llava_model=str(folder), llava_quantization="none",
                                llava_dtype="float32", tts_engine="espeak", private=True)
            results.append(run("in-process", "transformers engine in SeeSay's process", Pipeline(settings),
                               people=args.people, tokens=args.tokens))
    finally:
        if server is not None:
            server.stop()
    info["load_after"] = os.getloadavg()[0]

    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(results, info)
    png = args.out / f"{args.name}.png"
    plot(results, png, args.people)
    md = args.out / f"{args.name}.md"
    md.write_text(f"# Load: {args.people} people at once\n\n{text}\n![p50 and p95]({png.name})\n\n{NOTES}",
                  encoding="utf-8")
    print()
    print(text)
    print(f"Wrote {md} and {png}")
    return 0 if all(not r.wrong and not r.errors for r in results) else 1


NOTES = """\
How to read it: `transformers serve` does not batch vision-language models (its continuous batching is for
text-only models), so it answers one question at a time, like the in-process engine, and adds HTTP, a
JPEG round trip and a photo encoding per question (no prefix cache) on the same two shared cores. What the
server engine brings is that the model leaves SeeSay's process: an engine made for serving (vLLM, SGLang)
on a GPU writes many answers at once. This run did not use vLLM: there was no GPU. On a CUDA machine with
`vllm serve llava-hf/llava-1.5-7b-hf`, run
`python -m bench.load --url http://gpu-box:8000/v1 --model llava-hf/llava-1.5-7b-hf --only server`.
"""


if __name__ == "__main__":
    sys.exit(main())
