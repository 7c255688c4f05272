"""What the text reader gets right and what it costs (``python -m bench.ocr``): writes docs/bench/ocr.md.

* word error rate per category of core.testmodels.labels (rendered labels, receipts, letters, signs,
  newsletters; clean, rotated, tilted, in perspective, blurred, in low contrast, small), strict
  (case and punctuation count) and as heard (lower case, punctuation aside);
* rapidocr's own decoding beside SeeSay's on the same photos: the spaces between words;
* the time to read a 1344-pixel label and a 12-megapixel photo (median of ``--runs``);
* small print in a 12-megapixel photo read at full size and at the 1344 pixels core.images keeps.
"""

from __future__ import annotations

import argparse
import io
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.probes import cores, cpu_name  # noqa: E402
from core.images import load_photo  # noqa: E402
from core.ocr import load_ocr  # noqa: E402
from core.testmodels import labels  # noqa: E402

OUT = ROOT / "docs" / "bench" / "ocr.md"
#: body text (em, pixels) of the small-print 12 MP photos; at 1344 pixels they are 3 times smaller
SMALL_PRINT_EM = (24, 30, 36, 45)


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return "unknown"
    return "avx512_bf16" if "avx512_bf16" in flags.split() else ("avx2, no avx512_bf16" if "avx2" in flags else "no avx2")


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def greedy_reader():
    """rapidocr's own pipeline (greedy decoding), for comparison."""
    import numpy as np
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def read(image) -> str:
        result, _ = engine(np.asarray(image.convert("RGB"))[:, :, ::-1])
        return "\n".join(text for _, text, _ in result or [])

    return read


def jpeg(image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def photo(data: bytes, max_side: int):
    return load_photo(data, max_bytes=50 * 1024 * 1024, max_pixels=50_000_000, max_side=max_side).image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed reads per photo (median); default 5")
    parser.add_argument("--out", type=Path, default=OUT, help=f"markdown report; default {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    command = "python -m bench.ocr" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    say = print
    load_before = load_average()

    t0 = time.perf_counter()
    reader = load_ocr()
    loaded = time.perf_counter() - t0
    greedy = greedy_reader()
    say(f"CPU: {cpu_name()}, {cores()} cores ({cpu_flags()}); text reader loaded in {loaded:.2f} s")

    rows = []
    for category in labels.CATEGORIES:
        if category == "no-text":
            continue
        found = {"seesay": [0, 0, 0], "rapidocr": [0, 0, 0]}  # errors, errors as heard, words
        seconds = []
        samples = labels.samples([category])
        for sample in samples:
            reading = reader.read(sample.image)
            seconds.append(reading.seconds)
            for name, text in (("seesay", reading.text), ("rapidocr", greedy(sample.image))):
                e, n = labels.word_errors(sample.truth, text)
                h, _ = labels.word_errors(sample.truth, text, normalise=True)
                found[name] = [found[name][0] + e, found[name][1] + h, found[name][2] + n]
        s, g = found["seesay"], found["rapidocr"]
        rows.append((category, len(samples), s[2], s[0] / s[2], s[1] / s[2], g[0] / g[2], statistics.median(seconds)))
        say(f"{category:13s} {len(samples):3d} photos {s[2]:4d} words  WER {s[0] / s[2]:.3f} (as heard "
            f"{s[1] / s[2]:.3f}); rapidocr's own decoding {g[0] / g[2]:.3f}; median {statistics.median(seconds):.2f} s")
    blank = labels.samples(["no-text"])
    false_text = [s.name for s in blank if reader.read(s.image).has_text]
    say(f"no text: {len(blank) - len(false_text)} of {len(blank)} photos read as having none {false_text or ''}")

    label = next(s for s in labels.samples(["clean"]) if s.kind == "label")
    big = labels.shrink(label, 90, canvas=(4032, 3024))  # a label filling a 12 MP photo
    timing = []
    for name, image in (("1344 x 1008 label (as core.images gives it)", label.image),
                        ("4032 x 3024 photo (12 MP) of the same label", big)):
        reader.read(image)  # warm-up
        times = [reader.read(image).seconds for _ in range(args.runs)]
        timing.append((name, statistics.median(times), min(times), max(times)))
        say(f"{name}: median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f})")

    resolution = []
    for em in SMALL_PRINT_EM:
        for sample in [s for s in labels.samples(["clean"]) if s.kind in ("label", "letter") and "Serif/" in s.name]:
            data = jpeg(labels.shrink(sample, em, canvas=(4032, 3024)))
            full = reader.read(photo(data, 4032))
            small = reader.read(photo(data, 1344))
            resolution.append((em, sample.name, labels.word_error_rate(sample.truth, full.text),
                               labels.word_error_rate(sample.truth, small.text), full.seconds, small.seconds))
            say(f"small print {em} px em at 12 MP ({em / 3:.0f} px at 1344), {sample.name}: WER full size "
                f"{resolution[-1][2]:.3f}, at 1344 px {resolution[-1][3]:.3f}")
    write(args.out, command, loaded, rows, (len(blank), false_text), timing, resolution, load_before)
    say(f"wrote {args.out}")
    return 0


def write(out: Path, command, loaded, rows, blank, timing, resolution, load_before) -> None:
    lines = [
        "# Text reading (PP-OCRv4 through rapidocr-onnxruntime)", "",
        f"Command: `{command}`", "",
        f"Machine: {cpu_name()}, {cores()} cores ({cpu_flags()}); shared with other work (load average "
        f"{load_before} before, {load_average()} after), so times are pessimistic. Text reader loaded "
        f"in {loaded:.2f} s.", "",
        "## Word error rate", "",
        "Photos from `core.testmodels.labels` (a medicine label, a receipt, a letter, a sign, a two-column",
        "newsletter; 6 fonts), 1344 pixels on the longer side as `core.images` gives them. Strict: every",
        "character counts; as heard: case and punctuation aside. The last column reads the same photos",
        "with rapidocr's own pipeline (greedy decoding: spaces between words are dropped). Rendered photos",
        "are easier than real ones (no glare, curled paper, focus that varies across the photo): read",
        "these figures as an upper bound.", "",
        "| category | photos | words | WER | WER as heard | rapidocr's own decoding | median read (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {c} | {n} | {w} | {a:.3f} | {b:.3f} | {g:.3f} | {t:.2f} |" for c, n, w, a, b, g, t in rows]
    lines += ["", f"Photos with no text (real photographs and plain surfaces): {blank[0] - len(blank[1])} of "
              f"{blank[0]} read as having none." + (f" Text found in: {', '.join(blank[1])}." if blank[1] else ""),
              "", "## Time to read", "", "| photo | median (s) | min | max |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {m:.2f} | {lo:.2f} | {hi:.2f} |" for name, m, lo, hi in timing]
    lines += ["", "The detector sees at most 2000 pixels on the longer side; each line is cut from the photo",
              "at the size it is given, so a 12 MP photo costs more in detection resizing and recognition.", "",
              "## Small print: full size or 1344 pixels", "",
              "A label and a letter (serif fonts) photographed at 12 MP with small print, saved as JPEG, then",
              "opened by `core.images.load_photo` at full size and at 1344 pixels (the default `max_side`).", "",
              "| body text (em) at 12 MP | at 1344 px | document | WER full size | WER at 1344 px | s full | s 1344 |",
              "| ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {em} | {em / 3:.0f} | {name} | {a:.3f} | {b:.3f} | {ta:.2f} | {tb:.2f} |"
              for em, name, a, b, ta, tb in resolution]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
