"""``python -m bench.quality``: the photo-quality check (core.quality) on its labelled set, and its speed.

Prints markdown and writes it to docs/bench/quality.md (``--out`` elsewhere, ``--no-write`` to only
print). The labelled set is built offline from real photographs (core.testmodels.photos) and split by
source photograph: the thresholds were set from the tuning part, and the figures that count are the
held-out part's. The tables say, per kind of degradation, how many photos the check flagged with the
right kind first, with another kind first, or not at all; and how many untouched photos it flagged.
Then the measures' ranges beside their thresholds; pages (documents, scans, screenshots:
core.testmodels.pages), which must not be called too bright; SeeSay's own screenshots and real
photographs of text; and the time the check takes on a 12-megapixel photo.
"""

from __future__ import annotations

import argparse
import collections
import functools
import io
import os
import re
import shlex
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "bench" / "quality.md"


@dataclass
class Tally:
    """How the check did on one group of photos."""

    n: int = 0  # photos in the group
    right: int = 0  # the expected kind came first (untouched: nothing was flagged)
    wrong: collections.Counter = field(default_factory=collections.Counter)  # another kind came first: by kind
    missed: int = 0  # nothing flagged although something was done to the photo

    def add(self, expected: str | None, first: str | None) -> None:
        self.n += 1
        if first == expected:
            self.right += 1
        elif first is None:
            self.missed += 1
        else:
            self.wrong[first] += 1


@dataclass
class Score:
    """The labelled set's figures."""

    groups: dict[tuple[str, str], Tally]  # (kind or "untouched", degradation) -> tally
    measures: list[tuple[str | None, str, dict[str, float]]]  # (expected kind, degradation, measures) per photo

    def kind(self, kind: str | None) -> Tally:
        """All groups of one expected kind together (None: the untouched photos)."""
        total = Tally()
        for (k, _), t in self.groups.items():
            if k == (kind or "untouched"):
                total.n += t.n
                total.right += t.right
                total.missed += t.missed
                total.wrong.update(t.wrong)
        return total

    @property
    def degraded(self) -> Tally:
        total = Tally()
        for kind in ("small", "dark", "bright", "featureless", "blurred"):
            t = self.kind(kind)
            total.n, total.right, total.missed = total.n + t.n, total.right + t.right, total.missed + t.missed
            total.wrong.update(t.wrong)
        return total


def group_name(degradation: str) -> str:
    """"camera shake 12 px at 45 degrees" -> "camera shake 12 px": one group whatever the direction."""
    return re.sub(r" at \d+ degrees$", "", degradation)


def score(photos) -> Score:
    """Run the check on every photo of a labelled set and tally the first finding against the label."""
    from core.quality import check_quality

    groups: dict[tuple[str, str], Tally] = {}
    measures = []
    for photo in photos:
        quality = check_quality(photo.image, photo.original_size)
        first = quality.findings[0].kind if quality.findings else None
        key = (photo.kind or "untouched", group_name(photo.degradation) if photo.kind else
               ("as shipped" if not photo.degradation else "crops"))
        groups.setdefault(key, Tally()).add(photo.kind, first)
        measures.append((photo.kind, photo.degradation, quality.measures))
    return Score(groups, measures)


# --- the report ----------------------------------------------------------------------------------


def _wrong(t: Tally) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(t.wrong.items())) or "0"


def _percent(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def labelled_table(s: Score) -> list[str]:
    lines = ["| photos | what was done | n | flagged right | flagged as another kind first | missed |",
             "| --- | --- | ---: | ---: | --- | ---: |"]
    order = {k: i for i, k in enumerate(("untouched", "small", "dark", "bright", "featureless", "blurred"))}
    for (kind, what), t in sorted(s.groups.items(), key=lambda item: order[item[0][0]]):
        if kind == "untouched":
            flagged = sum(t.wrong.values())
            lines.append(f"| untouched | {what} | {t.n} | {t.n - flagged} not flagged | {_wrong(t)} | - |")
        else:
            lines.append(f"| {kind} | {what} | {t.n} | {t.right} | {_wrong(t)} | {t.missed} |")
    lines.append("")
    lines.append("| kind | n | flagged right | as another kind first | missed |")
    lines.append("| --- | ---: | ---: | --- | ---: |")
    for kind in ("small", "dark", "bright", "featureless", "blurred"):
        t = s.kind(kind)
        lines.append(f"| {kind} | {t.n} | {t.right} ({_percent(t.right, t.n)}) | {_wrong(t)} | {t.missed} |")
    d, u = s.degraded, s.kind(None)
    flagged = sum(u.wrong.values())
    lines.append(f"| **all degraded** | {d.n} | **{d.right} ({_percent(d.right, d.n)})** | {_wrong(d)} | {d.missed} |")
    lines.append(f"| **untouched** | {u.n} | **{flagged} flagged ({_percent(flagged, u.n)})** | {_wrong(u)} | - |")
    return lines


def measure_table(s: Score) -> list[str]:
    """Each threshold beside the range of its measure on the untouched photos and on the photos degraded
    into that kind (the side that faces the threshold is what the margin is measured on)."""
    from core.quality import FEATURELESS_DETAIL, THRESHOLDS

    rows = [("small", "megapixels", "<", None), ("dark", "brightest", "<", None),
            ("bright", "clipped", ">=", "exposure"), ("bright", "darkest", ">", "glare veil"),
            ("featureless", "detail", "<", None), ("blurred", "blur", ">", None)]
    lines = ["| kind | measure | flagged when | untouched photos | degraded into this kind |",
             "| --- | --- | --- | --- | --- |"]
    for kind, name, op, only in rows:
        untouched = [m[name] for k, _, m in s.measures if k is None]
        degraded = [m[name] for k, what, m in s.measures if k == kind and (only is None or what.startswith(only))
                    and (name != "blur" or m["detail"] >= FEATURELESS_DETAIL)]
        which = f" ({only} only)" if only else " (where measured: photos with detail)" if name == "blur" else ""
        lines.append(f"| {kind} | {name} | {op} {THRESHOLDS[name]:g} | {_range(untouched)} | "
                     f"{_range(degraded)}{which} |")
    return lines


def _range(values: list[float]) -> str:
    if not values:
        return "-"
    q = statistics.quantiles(values, n=10) if len(values) >= 2 else [values[0]] * 9
    return f"{min(values):.3g} .. {max(values):.3g} (10%-90%: {q[0]:.3g} .. {q[-1]:.3g})"


def split_lines() -> list[str]:
    from core.testmodels.photos import HELD_OUT, TUNING

    return [f"- **tuning** (the thresholds were set from these): {', '.join(TUNING)}",
            f"- **held out** (the figures that count): {', '.join(HELD_OUT)}"]


def page_lines(parts=("tuning", "held out")) -> tuple[list[str], dict[str, tuple[int, int, int]]]:
    """A table of every page's findings, and per part (pages, called too bright, flagged at all)."""
    from core.quality import check_quality
    from core.testmodels.pages import pages

    lines = ["| part | page | as | findings | white_edge | clipped |", "| --- | --- | --- | --- | ---: | ---: |"]
    totals = {part: [0, 0, 0] for part in parts}
    for page in pages(parts):
        quality = check_quality(page.image)
        found = [f.kind for f in quality.findings]
        totals[page.part][0] += 1
        totals[page.part][1] += "bright" in found
        totals[page.part][2] += bool(found)
        _, kind, label, _ = page.name.split("/")
        lines.append(f"| {page.part} | {kind}, {label} | {page.how} | {', '.join(found) or 'none'} | "
                     f"{quality.measures['white_edge']:.2f} | {quality.measures['clipped']:.2f} |")
    return lines, {part: tuple(t) for part, t in totals.items()}


def edge_line(s: Score, part: str) -> str:
    """white_edge on the photos blown out by exposure or glare (clipped past its threshold), against PAGE_EDGE."""
    from core.quality import BRIGHT_CLIPPED, PAGE_EDGE

    edges = sorted(m["white_edge"] for k, _, m in s.measures if k == "bright" and m["clipped"] >= BRIGHT_CLIPPED)
    under = sum(e <= PAGE_EDGE for e in edges)
    return (f"- {part}: the {len(edges)} photos blown out by exposure or glare (clipped >= {BRIGHT_CLIPPED:g}) have "
            f"white_edge {_range(edges)}; {under} at or under {PAGE_EDGE:g} (taken for pages, not flagged)")


def screenshot_lines() -> list[str]:
    """SeeSay's own screenshots, as the browser tests last wrote them (reported, never asserted)."""
    from PIL import Image

    from core.quality import check_quality

    shots = sorted((ROOT / "docs" / "screenshots").glob("*.png"))
    if not shots:
        return ["No screenshots in docs/screenshots (the browser tests write them)."]
    flagged = []
    for path in shots:
        with Image.open(path) as img:
            quality = check_quality(img.convert("RGB"))
        if quality.findings:
            flagged.append(f"{path.name} ({', '.join(f.kind for f in quality.findings)})")
    return [f"{len(shots) - len(flagged)} of the {len(shots)} screenshots in docs/screenshots are not flagged"
            + (f"; flagged: {', '.join(flagged)}." if flagged else ".")]


def text_photo_lines() -> list[str]:
    from core.quality import check_quality
    from core.testmodels.pages import real_text_photos

    lines = ["| photograph | size | findings | white_edge |", "| --- | --- | --- | ---: |"]
    for photo in real_text_photos():
        quality = check_quality(photo.image)
        lines.append(f"| {photo.name} ({'printed' if photo.printed else 'handwritten'}) | "
                     f"{photo.image.width} x {photo.image.height} | "
                     f"{', '.join(f.kind for f in quality.findings) or 'none'} | {quality.measures['white_edge']:.2f} |")
    return lines


def processed_lines() -> list[str]:
    from core.quality import check_quality
    from core.testmodels.photos import PROCESSING, processed_set

    flagged: dict[str, list[str]] = {what: [] for what in PROCESSING}
    counts = collections.Counter()
    for photo in processed_set():
        counts[photo.degradation] += 1
        quality = check_quality(photo.image, photo.original_size)
        if quality.findings:
            flagged[photo.degradation].append(f"{photo.source}, {photo.part} ({quality.findings[0].kind})")
    lines = ["| processing | n | flagged |", "| --- | ---: | --- |"]
    for what in PROCESSING:
        lines.append(f"| {what} | {counts[what]} | {len(flagged[what])}: {', '.join(flagged[what]) or 'none'} |")
    return lines


def real_shake_line() -> str:
    from core.quality import check_quality
    from core.testmodels.photos import real_blurred

    quality = check_quality(real_blurred())
    kinds = ", ".join(f.kind for f in quality.findings) or "nothing"
    return (f"A real photograph blurred by camera movement (`skimage.data.clock()`, not in the set: its "
            f"blur is of no known amount): flagged {kinds}; blur {quality.measures['blur']:.2f}, darkest "
            f"{quality.measures['darkest']:.2f}.")


def speed_lines(runs: int) -> list[str]:
    from PIL import Image

    from core.config import Settings
    from core.images import load_photo
    from core.quality import check_quality
    from core.testmodels.photos import real_photographs

    from .probes import now

    big = real_photographs()["coffee"].resize((4000, 3000), Image.Resampling.LANCZOS)  # 12 megapixels
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    conf = Settings()

    def median_ms(call, n):
        call()  # warm-up
        times = []
        for _ in range(n):
            start = now()
            call()
            times.append(now() - start)
        return 1000 * statistics.median(times), 1000 * max(times)

    load = functools.partial(load_photo, data, max_bytes=conf.max_image_bytes, max_pixels=conf.max_image_pixels,
                             max_side=conf.image_max_side)
    photo = load()
    full_ms, full_max = median_ms(lambda: check_quality(big), runs)
    load_ms, load_max = median_ms(load, max(3, runs // 4))
    small_ms, small_max = median_ms(lambda: check_quality(photo.image, photo.original_size), runs)
    same = [f.kind for f in check_quality(big).findings] == [f.kind for f in check_quality(photo.image).findings]
    return [
        "| what | size | median ms | slowest ms |", "| --- | --- | ---: | ---: |",
        f"| check_quality on a decoded 12-megapixel photo | 4000 x 3000 | {full_ms:.1f} | {full_max:.1f} |",
        f"| load_photo of that photo as a JPEG ({len(data) // 1024} KiB, max side {conf.image_max_side}) | "
        f"4000 x 3000 -> {photo.image.width} x {photo.image.height} | {load_ms:.1f} | {load_max:.1f} |",
        f"| check_quality on the Photo load_photo made | {photo.image.width} x {photo.image.height} | "
        f"{small_ms:.1f} | {small_max:.1f} |",
        "",
        f"Median of {runs} runs after a warm-up ({max(3, runs // 4)} for load_photo). The 4000-pixel photo and "
        f"its {photo.image.width}-pixel Photo get {'the same' if same else 'DIFFERENT'} findings.",
    ]


def machine_line() -> str:
    from .probes import cores, cpu_name

    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        pass
    bf16 = "yes" if " avx512_bf16" in flags else "no"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Machine: {cpu_name()}, {cores()} cores, avx512_bf16: {bf16}; load average (1 min) {load:.1f} "
            "at the start. The machine was shared with other work: times are pessimistic.")


def report(runs: int, command: str) -> str:
    from core.testmodels.photos import labelled_set

    photos = labelled_set()
    held, tuning = (score([p for p in photos if p.part == part]) for part in ("held out", "tuning"))
    pages, totals = page_lines()
    parts = [
        "# Photo quality check (core.quality)", "",
        f"Command: `{command}`", "", machine_line(), "",
        "## The labelled set and its split", "",
        "Real photographs from scikit-image's and matplotlib's wheels, untouched (as shipped, and crops of "
        "them), and degraded by known amounts (see `core/testmodels/photos.py`). \"Flagged right\": the "
        "check's first finding is the kind the photo was degraded into. The set is split by source "
        "photograph, so every copy of a photograph is on one side:", "",
        *split_lines(), "",
        "## Held-out photos: the figures that count", "",
        "Targets: at least 90% of the degraded photos flagged with the right kind first, at most 10% of "
        "the untouched ones flagged (tests/test_quality.py asserts them on this part).", "",
        *labelled_table(held), "",
        "## Tuning photos: what the thresholds were set from", "",
        *labelled_table(tuning), "",
        "## Measures beside their thresholds", "",
        "Each measure is described in `core/quality.py`. Ranges over the tuning part (each threshold sits "
        "between these) and over the held-out part.", "",
        "Tuning part:", "", *measure_table(tuning), "",
        "Held-out part:", "", *measure_table(held), "",
        "## Pages: documents, scans and screenshots", "",
        "White by design: none may be called too bright. From `core/testmodels/pages.py`: the tuning pages are "
        "drawn by Pillow in the fonts the text reader was tuned on, the held-out ones by matplotlib (STIX, "
        "Computer Modern), OpenCV and Pillow in Liberation Mono, and two real screenshots of SeeSay taken by "
        "Chromium; each as rendered, as a JPEG and (documents) as a scan.", "",
        *[f"- {part}: {n} pages, **{bright} called too bright**, {any_} flagged at all"
          for part, (n, bright, any_) in totals.items()], "",
        "A page is told from glare by `white_edge` (at most 0.7: a page): the grey just outside its white.",
        "", edge_line(tuning, "tuning"), edge_line(held, "held out"), "",
        *pages, "",
        *screenshot_lines(), "",
        "## Real photographs of text", "",
        *text_photo_lines(), "",
        "## Ordinary processing (not degraded, not in the targets)", "",
        *processed_lines(), "",
        real_shake_line(), "",
        "## Speed", "",
        *speed_lines(runs), "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of the check (median reported); default 20")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown file to write; default {DEFAULT_OUT}")
    parser.add_argument("--no-write", action="store_true", help="only print")
    args = parser.parse_args(argv)
    command = "python -m bench.quality " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = report(args.runs, command.strip())
    print(text)
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
