"""``python -m bench.live_camera``: the live camera's figures, measured in Chromium against a running SeeSay.

Prints markdown and writes it to docs/bench/live-camera.md (``--out`` elsewhere, ``--no-write`` to only
print). SeeSay is started on loopback with the offline test models (``--models``, built there if missing),
and Debian's Chromium drives its Ask page. The camera is scripted: the page's ``getUserMedia`` is given
a canvas stream on which the benchmark plays clips of real photographs (:mod:`core.testmodels.aiming`)
and notes, in the page's own clock, the moment each shot first shows; the live region's changes and the
live camera's photos are noted in the same clock. Chromium's CPU is slowed with the DevTools protocol's
``Emulation.setCPUThrottlingRate`` (``--rates``, 1 = this machine unslowed) to stand in for a phone.

* **Scene change to spoken cue**: a shot with one flaw, then a shot with another (too dark, too bright,
  glare, nothing in view, moving, blurred; and text cut off, which waits for the server's text check):
  the time from the second shot's first frame to its cue in the live region. Target: 300 ms at most
  on a phone-class CPU.
* **Good picture to photo**: a blurred shot, then a good one (a photo, and a label with the text check on):
  from the good shot's first frame to the photo taken. Target: 1 s at most.
* **Photos that pass the quality check**: the recorded set (:func:`core.testmodels.aiming.recorded_set`:
  each real photograph aimed at: dark, moving, settling, still); each photo the live camera takes by
  itself is read and checked as SeeSay does (:func:`core.images.load_photo`, :func:`core.quality.check_quality`).
  Beside it, the baseline: a photo taken at a random moment of the same clips, as pressing Take photo
  without guidance does. Target: at least 95% pass.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .app import ROOT, running

DEFAULT_OUT = ROOT / "docs" / "bench" / "live-camera.md"
DEFAULT_MODELS = Path(os.environ.get("SEESAY_TEST_MODELS_DIR") or ROOT / ".cache" / "test-models")
CHROMIUM = os.environ.get("SEESAY_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
PAGE = "Ask_by_voice"  # a photo taken there is prepared and read, not described: less work between trials
LEAD = 3.0  # seconds the first shot of a timed trial shows (its cue said and its moment in the region over)

#: The scripted camera, installed before the page's own scripts. The live camera's request (the back lens as
#: an "ideal") gets a canvas stream that plays window.__clip from its first frame; Streamlit's camera gets a
#: still grey one. Every change of SeeSay's live region and every photo the live camera takes is noted.
SCRIPTED_CAMERA = """
window.__shown = {};   // shot index -> performance.now() of its first frame
window.__said = [];    // [time, text] of each change of the live region
window.__photos = [];  // each photo the live camera took
window.__clip = null;  // {shots: [{frames: [ImageBitmap], seconds}], fps}
window.loadClip = async (shots, fps) => {
  const load = async (url) => createImageBitmap(await (await fetch(url)).blob());
  window.__clip = {fps, shots: await Promise.all(shots.map(async (s) => ({
    seconds: s.seconds, frames: await Promise.all(s.frames.map(load))})))};
};
function play(canvas, clip) {
  const g = canvas.getContext("2d");
  const first = clip.shots[0].frames[0];
  canvas.width = first.width; canvas.height = first.height;
  const started = performance.now();
  const ends = []; let total = 0;
  for (const s of clip.shots) { total += s.seconds; ends.push(total); }
  let tick = 0;
  const draw = () => {
    const t = (performance.now() - started) / 1000;
    let i = ends.findIndex((end) => t < end);
    if (i < 0) { i = clip.shots.length - 1; }  // the last shot stays
    const shot = clip.shots[i];
    g.drawImage(shot.frames[tick % shot.frames.length], 0, 0, canvas.width, canvas.height);
    tick += 1;
    if (window.__shown[i] === undefined) { window.__shown[i] = performance.now(); }
  };
  draw();
  return setInterval(draw, 1000 / clip.fps);
}
navigator.mediaDevices.getUserMedia = async (constraints) => {
  const canvas = document.createElement("canvas");
  const live = constraints && constraints.video && typeof constraints.video.facingMode === "object";
  if (live && window.__clip) {
    const stream = canvas.captureStream(window.__clip.fps);
    play(canvas, window.__clip);
    return stream;
  }
  canvas.width = 320; canvas.height = 240;
  const g = canvas.getContext("2d"); g.fillStyle = "#777"; g.fillRect(0, 0, 320, 240);
  setInterval(() => g.fillRect(0, 0, 1, 1), 200);
  return canvas.captureStream(5);
};
new MutationObserver(() => {
  const region = document.getElementById("seesay-status");
  if (region && region.textContent.trim()) {
    const text = region.textContent.trim();
    const last = window.__said[window.__said.length - 1];
    if (!last || last[1] !== text) { window.__said.push([performance.now(), text]); }
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
document.addEventListener("seesay-live-photo", (event) => {
  const d = event.detail;
  window.__photos.push({at: performance.now(), auto: d.auto, width: d.width, height: d.height, image: d.image});
});
"""


@dataclass
class Trial:
    """One run of a clip: when each shot first showed, what was said when, the photos taken."""

    shown: dict  # shot index -> time (ms, the page's clock)
    said: list  # [time, text]
    photos: list  # {at, auto, width, height, image}


@dataclass
class Figures:
    cues: dict = field(default_factory=dict)  # rate -> kind -> [latency ms, or None: never said]
    capture: dict = field(default_factory=dict)  # rate -> what -> [ms, or None: never taken]
    passed: dict = field(default_factory=dict)  # rate -> [(photograph, shot, passed, findings)]
    baseline: list = field(default_factory=list)  # (photograph, shot, passed)
    text_check: list = field(default_factory=list)  # ms, the server's part alone
    load: list = field(default_factory=list)  # the machine's 1-minute load average, at the start and the end


# --- the app and the browser ----------------------------------------------------------------------------


@contextlib.contextmanager
def serve(models: Path):
    """SeeSay on loopback with the offline test models, as the browser tests run it; yields its address."""
    from core.testmodels import build_all

    built = build_all(models)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEESAY_")}
    env.update(SEESAY_LLAVA_MODEL=str(built.llava), SEESAY_WHISPER_MODEL=str(built.whisper_tiny_en),
               SEESAY_STT_ENGINE="openai-whisper", SEESAY_TTS_ENGINE="offline", SEESAY_DEVICE="cpu",
               SEESAY_MAX_ANSWER_TOKENS="24", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with tempfile.TemporaryDirectory(prefix="seesay-bench-") as logs, \
            running(env, Path(logs) / "app.log") as (url, _process):
        yield url


def _data_url(image) -> str:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def run_clip(browser, url: str, shots, *, rate: float, text: bool, seconds: float, fps: int = 30) -> Trial:
    """Open the live camera on a fresh Ask page and play ``shots``; stop at a photo or after ``seconds``."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        context.add_init_script(SCRIPTED_CAMERA)
        page = context.new_page()
        page.goto(f"{url}/{PAGE}")
        toggle = page.get_by_role("button", name="Live camera")
        toggle.wait_for(timeout=120_000)
        page.wait_for_function("() => !!window.SeeSay && !!window.SeeSayLive", timeout=60_000)
        page.evaluate("([shots, fps]) => window.loadClip(shots, fps)",
                      [[{"frames": [_data_url(f) for f in s.frames], "seconds": s.seconds} for s in shots], fps])
        page.evaluate("(on) => { document.querySelector('.seesay-live-text').checked = on; }", text)
        page.wait_for_timeout(1500)  # the page settles: later reruns would compete with the measured ones
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
        toggle.click()
        page.wait_for_function("(s) => window.__photos.length > 0 || "
                               "(window.__shown[0] !== undefined && performance.now() - window.__shown[0] > s * 1000)",
                               arg=seconds, timeout=(seconds + 60) * 1000 * max(1.0, rate / 2))
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        found = page.evaluate("() => ({shown: window.__shown, said: window.__said, photos: window.__photos})")
        if found["photos"]:  # SeeSay reads the photo now: let it finish before the next trial is timed
            page.wait_for_timeout(1000)
            page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=300_000)
        return Trial({int(k): v for k, v in found["shown"].items()}, found["said"], found["photos"])
    finally:
        context.close()


# --- the figures ----------------------------------------------------------------------------------------


def _scenes():
    """(kind, the shot before, the shot with that flaw, text check on) for the cue trials."""
    from PIL import Image

    from core.testmodels.aiming import Shot, blurred, cut_right, dark, label_scene
    from core.testmodels.photos import real_photographs

    photo = real_photographs()["astronaut"]
    arr = np.asarray(photo, dtype=np.float32)
    glare = Image.fromarray((arr * 0.35 + 0.65 * 242).astype(np.uint8))  # core.testmodels.photos' veil, 65%
    bright = Image.fromarray(np.clip(arr * 4.0, 0, 255).astype(np.uint8))  # 2 stops over, clipped
    wall = Image.new("RGB", photo.size, (178, 168, 150))
    # a steady pan, 3 pixels a frame (90 a second at 30 frames a second: a fifth of the picture's width)
    pan = tuple(photo.crop((3 * i, 0, 3 * i + 440, photo.height)) for i in range(30))
    before, other = Shot("blurred", (blurred(photo, 4.0),), LEAD), Shot("dark", (dark(photo),), LEAD)
    label = label_scene()
    return [
        ("dark", before, Shot("dark", (dark(photo),), 3.0), False),
        ("bright", other, Shot("bright", (bright,), 3.0), False),
        ("glare", other, Shot("glare", (glare,), 3.0), False),
        ("nothing", other, Shot("nothing", (wall,), 3.0), False),
        ("moving", Shot("dark", (dark(pan[0]),), LEAD), Shot("moving", pan, 3.0), False),
        ("blurred", other, Shot("blurred", (blurred(photo, 4.0),), 3.0), False),
        ("off-right", Shot("blurred", (blurred(label, 4.0),), LEAD), Shot("cut", (cut_right(),), 6.0), True),
    ]


def measure_cues(browser, url, rate, repeats) -> dict:
    from core.aiming import CUES

    out: dict = {}
    for kind, before, after, text in _scenes():
        for _ in range(repeats):
            # a text cue waits for the server, which shares this machine: it gets longer to come
            trial = run_clip(browser, url, [before, after], rate=rate, text=text, seconds=LEAD + (6.0 if text else 2.5))
            start = trial.shown.get(1)
            said = [t for t, words in trial.said if words == CUES[kind] and start is not None and t >= start]
            out.setdefault(kind, []).append(said[0] - start if said else None)
    return out


def measure_capture(browser, url, rate, repeats) -> dict:
    from core.testmodels.aiming import Shot, blurred, label_scene
    from core.testmodels.photos import real_photographs

    photo = real_photographs()["coffee"]
    label = label_scene()
    cases = {"a photo, text check off": (photo, False), "a label, text check on": (label, True)}
    out: dict = {}
    for what, (good, text) in cases.items():
        for _ in range(repeats):
            shots = [Shot("blurred", (blurred(good, 4.0),), LEAD), Shot("good", (good,), 6.0)]
            trial = run_clip(browser, url, shots, rate=rate, text=text, seconds=LEAD + 6.0)
            start = trial.shown.get(1)
            taken = [p["at"] for p in trial.photos if p["auto"]]
            out.setdefault(what, []).append(taken[0] - start if taken and start is not None else None)
    return out


def time_text_check(runs: int = 20) -> list[float]:
    """The server's part of the text check, alone, in this process (ms): a 640-pixel frame of the label, through
    Pipeline.guide with the real text reader, as the live camera sends it."""
    from core.config import Settings
    from core.pipeline import Pipeline
    from core.testmodels.aiming import label_scene

    frame = label_scene().resize((640, 480))
    buf = io.BytesIO()
    frame.save(buf, "JPEG", quality=85)
    pipeline = Pipeline(Settings())
    pipeline.guide(buf.getvalue(), 800)  # loads the text reader
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        pipeline.guide(buf.getvalue(), 800)
        times.append(1000 * (time.perf_counter() - started))
    return times


def _check(image_b64: str):
    """What SeeSay's photo path says of a photo: read as an upload is, then the quality check."""
    from core.config import Settings
    from core.images import load_photo
    from core.quality import check_quality

    conf = Settings()
    photo = load_photo(base64.b64decode(image_b64), max_bytes=conf.max_image_bytes,
                       max_pixels=conf.max_image_pixels, max_side=conf.image_max_side)
    return check_quality(photo.image, photo.original_size)


def measure_pass(browser, url, rate, repeats) -> list:
    from core.testmodels.aiming import recorded_set

    out = []
    for name, shots in recorded_set():
        total = sum(s.seconds for s in shots)
        for _ in range(repeats):
            trial = run_clip(browser, url, shots, rate=rate, text=False, seconds=total + 1)
            auto = [p for p in trial.photos if p["auto"]]
            if not auto:
                out.append((name, "(none taken)", False, ("no photo",)))
                continue
            at = auto[0]["at"]
            shot = max((i for i, t in trial.shown.items() if t <= at), default=0)
            quality = _check(auto[0]["image"])
            out.append((name, shots[shot].name, quality.ok, tuple(f.kind for f in quality.findings)))
    return out


def baseline_pass(samples: int = 5) -> list:
    """A photo taken at a random moment of each clip (seeded), as pressing Take photo without guidance."""
    from core.images import load_photo
    from core.quality import check_quality
    from core.testmodels.aiming import recorded_set

    rng = np.random.default_rng(0)
    out = []
    for name, shots in recorded_set():
        total = sum(s.seconds for s in shots)
        for t in rng.uniform(0, total, samples):
            ends = np.cumsum([s.seconds for s in shots])
            shot = shots[int(np.searchsorted(ends, t, side="right"))]
            frame = shot.frames[int(t * 30) % len(shot.frames)]
            buf = io.BytesIO()
            frame.save(buf, "JPEG", quality=92)
            photo = load_photo(buf.getvalue(), max_bytes=10**8, max_pixels=10**8, max_side=1344)
            out.append((name, shot.name, check_quality(photo.image, photo.original_size).ok))
    return out


# --- the report -----------------------------------------------------------------------------------------


def _ms(values) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "never"
    missed = len(values) - len(got)
    text = f"{statistics.median(got):.0f} ({min(got):.0f}-{max(got):.0f})"
    return text + (f", {missed} of {len(values)} never" if missed else "")


def _worst(values) -> float | None:
    got = [v for v in values if v is not None]
    return max(got) if got and len(got) == len(values) else None


def _cpu() -> str:
    model, flags = platform.processor() or "unknown CPU", set()
    with contextlib.suppress(OSError):
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name") and model == (platform.processor() or "unknown CPU"):
                model = row.split(":", 1)[1].strip()
            if row.startswith("flags"):
                flags = set(row.split(":", 1)[1].split())
    return f"{model}, {os.cpu_count()} cores; " + ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16") if f in flags)


def report(fig: Figures, command: str) -> str:
    from core.aiming import LIMITS

    lines = ["# Live camera: figures", "", f"`{command}`", "",
             f"Measured on {_cpu()}, shared with other work (load average {fig.load[0]:.1f} at the start, "
             f"{fig.load[-1]:.1f} at the end: figures are pessimistic and noisy). Chromium "
             "(Debian), headless, software rendering; its CPU slowed with `Emulation.setCPUThrottlingRate` "
             "(rate 1: this machine unslowed; 4 and 6 stand in for phones). Times in ms: median (min-max).", ""]
    lines += ["## Scene change to spoken cue (target: 300 ms at most on a phone-class CPU)", "",
              "| cue | " + " | ".join(f"rate {r:g}" for r in fig.cues) + " |",
              "| --- |" + " ---: |" * len(fig.cues)]
    kinds = list(next(iter(fig.cues.values())).keys()) if fig.cues else []
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(_ms(fig.cues[r][kind]) for r in fig.cues) + " |")
    lines += ["", "\"off-right\" waits for the server's text check: a frame is sent at most every "
              f"{LIMITS.text_every:g} s, one at a time, and only once the picture is otherwise good. The "
              f"server's part alone (Pipeline.guide on a 640-pixel frame, in one process, {len(fig.text_check)} "
              f"runs): {_ms(fig.text_check)} ms; in the trials it also shares the machine with Chromium.", ""]
    lines += ["## Good picture to photo taken (target: 1 s at most)", "",
              "| what | " + " | ".join(f"rate {r:g}" for r in fig.capture) + " |", "| --- |" + " ---: |" * len(fig.capture)]
    whats = list(next(iter(fig.capture.values())).keys()) if fig.capture else []
    for what in whats:
        lines.append(f"| {what} | " + " | ".join(_ms(fig.capture[r][what]) for r in fig.capture) + " |")
    lines += ["", f"The picture must stay good for {LIMITS.hold:g} s first (and, with the text check on, a frame "
              "taken since it became good must come back with all the text in view).", ""]
    lines += ["## Auto-captured photos that pass the quality check (target: at least 95%)", "",
              "| | photos | pass | share |", "| --- | ---: | ---: | ---: |"]
    base = fig.baseline
    lines.append(f"| baseline: taken at a random moment | {len(base)} | {sum(p for _, _, p in base)} | "
                 f"{sum(p for _, _, p in base) / max(1, len(base)):.0%} |")
    for rate, rows in fig.passed.items():
        ok = sum(1 for row in rows if row[2])
        lines.append(f"| live camera, by itself, rate {rate:g} | {len(rows)} | {ok} | {ok / max(1, len(rows)):.0%} |")
    lines += ["", "Each auto-captured photo, with the shot showing when it was taken:", "",
              "| rate | photograph | shot | quality check |", "| ---: | --- | --- | --- |"]
    for rate, rows in fig.passed.items():
        for name, shot, ok, kinds in rows:
            lines.append(f"| {rate:g} | {name} | {shot} | {'passes' if ok else 'flags ' + ', '.join(kinds)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_camera", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1, 4, 6], help="CPU slow-down rates; default 1 4 6")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each timed trial per rate; default 3")
    parser.add_argument("--pass-repeats", type=int, default=2, help="runs of each recorded clip per rate; default 2")
    parser.add_argument("--pass-rates", type=float, nargs="+", default=[1, 4],
                        help="rates the recorded set is run at; default 1 4")
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS,
                        help=f"the offline test models (built there if missing); default {DEFAULT_MODELS}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown written here; default {DEFAULT_OUT}")
    parser.add_argument("--only", nargs="+", choices=("cues", "capture", "pass"), default=["cues", "capture", "pass"],
                        help="which figures to measure; default all three")
    parser.add_argument("--no-write", action="store_true", help="only print")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    fig = Figures(load=[os.getloadavg()[0]])
    fig.baseline = baseline_pass()
    fig.text_check = time_text_check()
    with serve(args.models) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            measure_capture(browser, url, 1, 1)  # unmeasured: the first photo loads SeeSay's models
            for rate in args.rates:
                if "cues" in args.only:
                    print(f"rate {rate:g}: cues", file=sys.stderr, flush=True)
                    fig.cues[rate] = measure_cues(browser, url, rate, args.repeats)
                if "capture" in args.only:
                    print(f"rate {rate:g}: capture", file=sys.stderr, flush=True)
                    fig.capture[rate] = measure_capture(browser, url, rate, args.repeats)
            for rate in args.pass_rates if "pass" in args.only else ():
                print(f"rate {rate:g}: recorded set", file=sys.stderr, flush=True)
                fig.passed[rate] = measure_pass(browser, url, rate, args.pass_repeats)
        finally:
            browser.close()
    fig.load.append(os.getloadavg()[0])
    command = "python -m bench.live_camera " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = report(fig, command.strip())
    print(text)
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
