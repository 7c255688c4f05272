"""What the text reader gets right and what it costs (``python -m bench.ocr``): writes docs/bench/ocr.md.

* word error rate per category of core.testmodels.labels (rendered labels, receipts, letters, signs,
  newsletters; clean, rotated, tilted, in perspective, blurred, in low contrast, small), strict
  (case and punctuation count) and as heard (lower case, punctuation aside);
* rapidocr's own decoding beside SeeSay's on the same photos: the spaces between words;
* the time to read a 1344-pixel label and a 12-megapixel photo (median of ``--runs``);
* small print in a 12-megapixel photo read at full size and at the 1344 pixels core.images keeps;
* held out: the spacing and framing thresholds were set on Pillow renders in DejaVu and Liberation
  fonts (core.testmodels.labels); here they are checked on pages drawn by other renderers in other
  fonts (core.testmodels.pages) and on a real photograph of print (scikit-image's book page), beside
  the same figures on the renders they were set from.
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

import contextlib  # noqa: E402
import unicodedata  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

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


# --- held out: the spacing and framing thresholds on text they were not set from ---------------------------

@dataclass
class Gaps:
    """The space decisions between pairs of characters of correctly read pieces of text."""

    between: list[float] = field(default_factory=list)  # evidence between two words
    within: list[float] = field(default_factory=list)  # evidence between two characters of a word
    missed: int = 0  # a space in the truth, none read
    false: int = 0  # a space read inside a word
    pieces: int = 0  # pieces of text read exactly (spaces aside): the ones counted
    unread: int = 0  # pieces read with other characters than the truth's (not counted)


@contextlib.contextmanager
def recording():
    """Every line the recogniser decodes while inside, as (its columns' probabilities, the decoding)."""
    from core.ocr import rapid

    seen = []
    real = rapid.decode

    def decode(probs, alphabet, **kwargs):
        decoded = real(probs, alphabet, **kwargs)
        seen.append((probs[:kwargs.get("columns")] if kwargs.get("columns") else probs, len(alphabet) - 1, decoded))
        return decoded

    rapid.decode = decode
    try:
        yield seen
    finally:
        rapid.decode = real


def count_gaps(gaps: Gaps, seen, truth: str) -> None:
    """Add the gaps of the pieces read exactly (spaces aside) to ``gaps``; punctuation and numbers,
    where a space needs more than the threshold (spacing.rarely_spaced), are left out."""
    from core.ocr.spacing import gap_evidence, rarely_spaced

    lines = []
    for line in unicodedata.normalize("NFKC", truth).split("\n"):
        chars, spaces = "", set()
        for word in line.split():
            if chars:
                spaces.add(len(chars))
            chars += word
        lines.append((chars, spaces))
    for probs, space, decoded in seen:
        chars = "".join(g.char for g in decoded.glyphs)
        if len(chars) < 2:
            continue
        where = next(((at, spaces) for line, spaces in lines if (at := line.find(chars)) >= 0), None)
        if where is None:
            gaps.unread += 1
            continue
        gaps.pieces += 1
        at, spaces = where
        for i in range(1, len(decoded.glyphs)):
            if rarely_spaced(list(decoded.glyphs[:i]), decoded.glyphs[i].char):
                continue
            evidence = gap_evidence(probs, decoded.glyphs[i - 1], decoded.glyphs[i].start, space)
            is_space, read = (at + i) in spaces, i in decoded.spaces
            (gaps.between if is_space else gaps.within).append(evidence)
            gaps.missed += is_space and not read
            gaps.false += read and not is_space


def held_out_texts():
    """(name, image, truth) of the held-out text: the pages other renderers drew (as rendered, as a
    JPEG, as a scan, and slightly blurred) and the real photograph of a book page."""
    from PIL import ImageFilter

    from core.testmodels.pages import pages, real_text_photos

    out = []
    for page in pages(("held out",)):
        if page.truth:
            out.append((page.name, page.image, page.truth))
            if page.how == "rendered":
                out.append((page.name.replace("rendered", "blurred 1 px"), page.image.filter(ImageFilter.GaussianBlur(1.0)),
                            page.truth))
    out += [(photo.name, photo.image, photo.truth) for photo in real_text_photos() if photo.printed]
    return out


def tuning_texts():
    """(name, image, truth) of renders like those the thresholds were set on (Pillow; DejaVu, Liberation)."""
    return [(s.name, s.image, s.truth) for s in labels.samples(["clean", "blurred", "small-print"])]


def spacing_check(reader, texts) -> tuple[Gaps, list[tuple[str, float]]]:
    """The space decisions on ``texts`` and each text's word error rate."""
    gaps, rates = Gaps(), []
    for name, image, truth in texts:
        with recording() as seen:
            reading = reader.read(image)
        count_gaps(gaps, seen, truth)
        rates.append((name, labels.word_error_rate(truth, reading.text)))
    return gaps, rates


def framing_check(reader, pages_) -> list[tuple[str, str, str]]:
    """(page, expected advice, advice given first) for each held-out document cut at each edge, shrunk
    until its body text is about 7 pixels high, and as it is (well framed: no advice)."""
    from PIL import Image

    from core.ocr import framing

    out = []
    for page in pages_:
        sample = labels.Sample(page.name, "clean", page.kind, page.image, page.truth)
        advice = framing(reader.read(page.image))
        out.append((page.name, "none", advice[0].kind if advice else "none"))
        for edge in ("left", "right", "top", "bottom"):
            advice = framing(reader.read(labels.cut(sample, edge)))
            out.append((page.name, f"off-{edge}", advice[0].kind if advice else "none"))
        small = page.image.resize((page.image.width // 3, page.image.height // 3), Image.Resampling.LANCZOS)
        photo = Image.new("RGB", (1344, 1008), labels.TABLE)
        photo.paste(small, ((1344 - small.width) // 2, (1008 - small.height) // 2))
        advice = framing(reader.read(photo))
        out.append((page.name, "too-small", advice[0].kind if advice else "none"))
    return out


def framing_pages():
    """The held-out documents framing is checked on: body text of 20 to 22 pixels, as rendered."""
    from core.testmodels.pages import pages

    return [p for p in pages(("held out",)) if p.how == "rendered" and p.kind in ("letter", "notice", "receipt")]


def _gap_line(name: str, gaps: Gaps) -> str:
    from core.ocr.spacing import SPACE_THRESHOLD

    within = sorted(gaps.within)
    p99 = within[int(0.99 * (len(within) - 1))] if within else float("nan")
    return (f"| {name} | {gaps.pieces} ({gaps.unread} misread, not counted) | {len(gaps.between)} | "
            f"{min(gaps.between, default=float('nan')):.3f} | {gaps.missed} | {len(gaps.within)} | {p99:.4f} | "
            f"{max(within, default=float('nan')):.3f} | {gaps.false} | {SPACE_THRESHOLD:g} |")


def held_out_lines(reader) -> list[str]:
    """The held-out section of docs/bench/ocr.md."""
    tuning, tuning_rates = spacing_check(reader, tuning_texts())
    held, held_rates = spacing_check(reader, held_out_texts())
    frames = framing_check(reader, framing_pages())
    right = sum(expected == given for _, expected, given in frames)
    lines = [
        "## Held out: the spacing and framing thresholds on text they were not set from", "",
        "The space threshold (`core/ocr/spacing.py`) and the framing thresholds (`core/ocr/framing.py`) were "
        "measured on Pillow renders in DejaVu and Liberation fonts. Held out: pages drawn by matplotlib (STIX "
        "General, Computer Modern), by OpenCV's own text renderer and by Pillow in Liberation Mono "
        "(`core/testmodels/pages.py`), as rendered, as a JPEG, as a scan and blurred by 1 px, and a real "
        "photograph of a book page (`skimage.data.page()`, transcribed by looking at it). Spaces: for every "
        "piece of text read with exactly the truth's characters, each gap between two characters (not before "
        "punctuation or inside a number) is a word gap or not, and the evidence the threshold is compared with "
        "is recorded.", "",
        "| text | pieces counted | word gaps | least evidence in a word gap | spaces missed | gaps in words | "
        "99% of them under | most | false spaces | threshold |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _gap_line("tuning renders (Pillow; DejaVu, Liberation)", tuning),
        _gap_line("held out (other renderers and fonts, a real photo)", held), "",
        "Word error rate, held out:", "",
        "| text | WER |", "| --- | ---: |",
        *[f"| {name} | {rate:.3f} |" for name, rate in held_rates], "",
        f"Tuning renders: WER {statistics.mean(r for _, r in tuning_rates):.3f} on average over {len(tuning_rates)} photos.", "",
        f"Framing on the held-out documents (cut at each edge, shrunk to 7-pixel text, and as rendered): "
        f"{right} of {len(frames)} got the expected advice first.", "",
        "| page | expected | given first |", "| --- | --- | --- |",
        *[f"| {name} | {expected} | {given} |" for name, expected, given in frames], "",
    ]
    from core.ocr import framing
    from core.testmodels.pages import real_text_photos

    for photo in real_text_photos():
        reading = reader.read(photo.image)
        lines.append(f"Real photograph `{photo.name}` ({'printed' if photo.printed else 'handwritten'}, "
                     f"{photo.image.width} x {photo.image.height}): read {reading.text.count(chr(10)) + bool(reading.text)} "
                     f"lines, WER {labels.word_error_rate(photo.truth, reading.text):.3f}; framing advice: "
                     f"{', '.join(a.kind for a in framing(reading)) or 'none'} (text runs off: {', '.join(photo.cut)}).")
        lines.append("")
    return lines


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
    held = held_out_lines(reader)
    say("\n".join(held))
    write(args.out, command, loaded, rows, (len(blank), false_text), timing, resolution, load_before, held)
    say(f"wrote {args.out}")
    return 0


def write(out: Path, command, loaded, rows, blank, timing, resolution, load_before, held) -> None:
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
    lines += ["", *held]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
