"""Test photos with text, rendered with Pillow, each with its ground truth in reading order.

Documents: a medicine label, a shop receipt (items and prices on one row), a letter (wrapped
paragraphs), signs, and a newsletter in two columns under a heading. Each is set in several fonts
(Debian's fonts-dejavu-core and fonts-liberation) and photographed in several ways: clean, on a
table and rotated (90, 180, 270 degrees, a few degrees), in perspective, slightly blurred, in low
contrast, small (body text 14 pixels) and a little blurred. Photos with no text are real photographs shipped in scikit-image's wheel, and plain surfaces. Everything is deterministic: the same samples every run.

``python -m core.testmodels.labels DIR`` writes them as PNG files with their truths, to look at.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["Sample", "FONTS", "CATEGORIES", "samples", "document", "printed", "cut", "shrink", "word_errors",
           "word_error_rate", "no_text_photos"]

_DEJAVU = "/usr/share/fonts/truetype/dejavu/"
_LIBERATION = "/usr/share/fonts/truetype/liberation/"
#: font name -> (regular, bold) files; Debian packages fonts-dejavu-core and fonts-liberation
FONTS = {
    "DejaVu Sans": (_DEJAVU + "DejaVuSans.ttf", _DEJAVU + "DejaVuSans-Bold.ttf"),
    "DejaVu Serif": (_DEJAVU + "DejaVuSerif.ttf", _DEJAVU + "DejaVuSerif-Bold.ttf"),
    "DejaVu Sans Mono": (_DEJAVU + "DejaVuSansMono.ttf", _DEJAVU + "DejaVuSansMono-Bold.ttf"),
    "Liberation Sans": (_LIBERATION + "LiberationSans-Regular.ttf", _LIBERATION + "LiberationSans-Bold.ttf"),
    "Liberation Serif": (_LIBERATION + "LiberationSerif-Regular.ttf", _LIBERATION + "LiberationSerif-Bold.ttf"),
    "Liberation Sans Narrow": (_LIBERATION + "LiberationSansNarrow-Regular.ttf",
                               _LIBERATION + "LiberationSansNarrow-Bold.ttf"),
}
#: every category of :func:`samples`, clean first
CATEGORIES = ("clean", "columns", "rotated", "tilted", "perspective", "blurred", "low-contrast", "small-print",
              "no-text")
#: body text size (em, pixels) of the small-print photos: a label at arm's length
SMALL_PRINT = 14

#: body text size (pixels, the font's em) on the paper as printed; photos show it smaller
BODY = 30
PAPER = (250, 250, 246)
INK = (20, 20, 24)
TABLE = (118, 96, 78)


@dataclass(frozen=True)
class Sample:
    """One test photo."""

    name: str  # unique, e.g. "label/DejaVu Sans/rotated 90"
    category: str  # one of CATEGORIES
    kind: str  # "label", "receipt", "letter", "sign", "newsletter" or "photo" (no text)
    image: Image.Image  # RGB, at most 1344 pixels on its longer side (as core.images gives it)
    truth: str  # the text in reading order, one line per line; "" when there is none


@dataclass(frozen=True)
class _Row:
    text: str
    right: str = ""  # set flush right on the same row (a price)
    scale: float = 1.0  # size relative to the body text
    bold: bool = False
    center: bool = False
    wrap: bool = False  # a paragraph: wrapped to the paper's width, one truth line per printed line
    gap: float = 0.0  # extra space above, in line heights


DOCUMENTS: dict[str, tuple[_Row, ...]] = {
    "label": (
        _Row("IBUPROFEN TABLETS", scale=1.5, bold=True),
        _Row("Ibuprofen 200 mg"),
        _Row("Take 1 or 2 tablets every 4 to 6 hours", gap=0.5),
        _Row("Do not exceed 6 tablets in 24 hours"),
        _Row("Swallow whole with a glass of water"),
        _Row("Keep out of the reach and sight of children"),
        _Row("EXP 03/2027", right="LOT B4729", gap=0.5),
    ),
    "receipt": (
        _Row("GREEN GROCER", scale=1.4, bold=True, center=True),
        _Row("12 High Street, Leeds", center=True),
        _Row("Whole milk 2 L", right="1.89", gap=0.6),
        _Row("Brown bread", right="2.15"),
        _Row("Bananas 1 kg", right="0.99"),
        _Row("Cheddar cheese", right="3.40"),
        _Row("TOTAL", right="8.43", bold=True, gap=0.5),
        _Row("Card payment", right="8.43"),
        _Row("Thank you for shopping with us", center=True, gap=0.6),
    ),
    "letter": (
        _Row("Dear Mrs Smith,"),
        _Row("Thank you for your letter of 4 May. Your next appointment is on Tuesday 14 June at "
             "10:30 in Room 12 on the first floor.", wrap=True, gap=0.5),
        _Row("Please bring a list of the medicines you take and arrive ten minutes early. If you "
             "cannot come, call us on 0113 496 0000.", wrap=True, gap=0.5),
        _Row("Yours sincerely,", gap=0.5),
        _Row("Dr Anna Jones"),
    ),
    "sign": (
        _Row("PLATFORM 3", scale=1.8, bold=True, center=True),
        _Row("Trains to London Bridge", scale=1.2, center=True, gap=0.3),
        _Row("Please mind the gap", center=True, gap=0.3),
    ),
    "newsletter": (),  # two columns: see _newsletter
}
_COLUMNS = (
    "The library opens at nine on weekdays and at ten on Saturdays. Large print books are on the "
    "ground floor near the main desk.",
    "Audio books can be borrowed for four weeks. Ask the staff about the home delivery service "
    "for readers who cannot visit.",
)
_HEADING = "Library News"


def document(kind: str, font: str, body: int = BODY, width: int = 1100,
             paper: tuple[int, int, int] = PAPER) -> tuple[Image.Image, str]:
    """One document printed on paper of colour ``paper`` (white: a scan or a rendered page): the picture
    and its truth."""
    if kind == "newsletter":
        return _newsletter(font, body, width, paper)
    return _print(DOCUMENTS[kind], font, body, width, paper=paper)


def _font(font: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = FONTS[font][1 if bold else 0]
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: install the Debian packages fonts-dejavu-core and "
                                "fonts-liberation (./seesay test does)")
    return _load_font(path, size)


@lru_cache(maxsize=64)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def _print(rows: Sequence[_Row], font: str, body: int, width: int, margin: int | None = None,
           paper: tuple[int, int, int] = PAPER) -> tuple[Image.Image, str]:
    margin = round(body * 1.2) if margin is None else margin
    placed: list[tuple[int, int, str, ImageFont.FreeTypeFont]] = []  # x, y, text, font
    truth: list[str] = []
    y = margin
    for row in rows:
        face = _font(font, round(body * row.scale), row.bold)
        step = round(face.size * 1.45)
        y += round(row.gap * step)
        texts = _wrap(row.text, face, width - 2 * margin) if row.wrap else [row.text]
        for text in texts:
            x = (width - face.getlength(text)) / 2 if row.center else margin
            placed.append((round(x), y, text, face))
            if row.right:
                placed.append((round(width - margin - face.getlength(row.right)), y, row.right, face))
            truth.append(f"{text} {row.right}".strip())
            y += step
    sheet = Image.new("RGB", (width, y + margin), paper)
    draw = ImageDraw.Draw(sheet)
    for x, top, text, face in placed:
        draw.text((x, top), text, fill=INK, font=face)
    return sheet, "\n".join(truth)


def printed(lines: Sequence[str], font: str = "DejaVu Sans", body: int = BODY, width: int = 900) -> Sample:
    """A photo of a card printed with ``lines`` (the first one large and bold), lying on a table:
    for tests that need a label of their own (a banknote's value, an expiry date)."""
    rows = [_Row(lines[0], scale=1.6, bold=True, center=True)] + [_Row(line, center=True, gap=0.3) for line in lines[1:]]
    paper, truth = _print(rows, font, body, width)
    return Sample(f"printed/{lines[0]}", "clean", "label", _on_table(paper, _canvas(paper), 0.9), truth)


def _newsletter(font: str, body: int, width: int, paper: tuple[int, int, int] = PAPER) -> tuple[Image.Image, str]:
    margin, gutter = round(body * 1.2), round(body * 1.6)
    head, head_truth = _print([_Row(_HEADING, scale=1.6, bold=True, center=True)], font, body, width, paper=paper)
    column = (width - 2 * margin - gutter) // 2
    parts = [_print([_Row(text, wrap=True)], font, body, column + 2 * margin, margin, paper) for text in _COLUMNS]
    height = head.height + max(p.height for p, _ in parts)
    sheet = Image.new("RGB", (width, height), paper)
    sheet.paste(head, (0, 0))
    sheet.paste(parts[0][0].crop((margin, 0, margin + column, parts[0][0].height)), (margin, head.height))
    sheet.paste(parts[1][0].crop((margin, 0, margin + column, parts[1][0].height)),
                (margin + column + gutter, head.height))
    return sheet, "\n".join([head_truth, parts[0][1], parts[1][1]])


# --- how the document is photographed ------------------------------------------------------------

def _on_table(paper: Image.Image, canvas: tuple[int, int], fill: float = 0.86,
              background: tuple[int, int, int] = TABLE) -> Image.Image:
    """The paper scaled to ``fill`` of the canvas and centred on it."""
    scale = min(fill * canvas[0] / paper.width, fill * canvas[1] / paper.height)
    small = paper.resize((round(paper.width * scale), round(paper.height * scale)), Image.Resampling.LANCZOS)
    photo = Image.new("RGB", canvas, background)
    photo.paste(small, ((canvas[0] - small.width) // 2, (canvas[1] - small.height) // 2))
    return photo


def _canvas(paper: Image.Image) -> tuple[int, int]:
    return (1344, 1008) if paper.width >= paper.height else (1008, 1344)


def _rotate(photo: Image.Image, degrees: float) -> Image.Image:
    """Turned anticlockwise by ``degrees``, the corners filled with the table, back to at most 1344 px."""
    turned = photo.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=TABLE)
    scale = 1344 / max(turned.size)
    return turned.resize((round(turned.width * scale), round(turned.height * scale)), Image.Resampling.LANCZOS)


def _perspective(photo: Image.Image, amount: float = 0.12) -> Image.Image:
    """As if the phone were tilted: the top edge narrower than the bottom, and a little to one side."""
    w, h = photo.size
    dx, dy = amount * w, amount * h * 0.3
    # where each corner of the output comes from in the input (Pillow maps output -> input)
    src = [(-dx, -dy), (w + dx * 0.6, -dy * 0.4), (w, h), (0, h)]
    dst = [(0, 0), (w, 0), (w, h), (0, h)]
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    coeffs = np.linalg.solve(np.array(rows, dtype=float), np.array([c for p in src for c in p], dtype=float))
    return photo.transform(photo.size, Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BICUBIC,
                           fillcolor=TABLE)


def _low_contrast(photo: Image.Image, amount: float = 0.3) -> Image.Image:
    """Faded print in dim light: every shade pulled ``1 - amount`` of the way to a mid grey."""
    pixels = np.asarray(photo, dtype=np.float32)
    grey = np.array([150, 146, 140], dtype=np.float32)
    return Image.fromarray(np.clip(grey + (pixels - grey) * amount, 0, 255).astype(np.uint8))


def _noisy(photo: Image.Image, sigma: float, seed: int) -> Image.Image:
    pixels = np.asarray(photo, dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0, sigma, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


_WAYS: dict[str, list[tuple[str, Callable[[Image.Image], Image.Image]]]] = {
    "rotated": [("rotated 90", lambda p: _rotate(p, -90)), ("rotated 180", lambda p: _rotate(p, 180)),
                ("rotated 270", lambda p: _rotate(p, 90))],
    "tilted": [("tilted 4", lambda p: _rotate(p, 4)), ("tilted -3", lambda p: _rotate(p, -3))],
    "perspective": [("perspective", _perspective)],
    "blurred": [("blurred", lambda p: p.filter(ImageFilter.GaussianBlur(1.3))),
                ("blurred more", lambda p: p.filter(ImageFilter.GaussianBlur(2.0)))],
    "low-contrast": [("low contrast", lambda p: _noisy(_low_contrast(p), 3.0, 7))],
}
_KINDS = ("label", "receipt", "letter", "sign")
_FONT_NAMES = tuple(FONTS)


def samples(categories: Iterable[str] = CATEGORIES) -> list[Sample]:
    """The test photos of these categories, in a fixed order."""
    wanted = tuple(categories)
    unknown = set(wanted) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}; choose from {CATEGORIES}")
    out: list[Sample] = []
    if "clean" in wanted:
        for kind in _KINDS:
            for font in _FONT_NAMES:
                paper, truth = document(kind, font)
                out.append(Sample(f"{kind}/{font}/clean", "clean", kind, _on_table(paper, _canvas(paper), 0.96, PAPER),
                                  truth))
    if "columns" in wanted:
        for font in _FONT_NAMES:
            paper, truth = document("newsletter", font, body=26)
            out.append(Sample(f"newsletter/{font}/columns", "columns", "newsletter",
                              _on_table(paper, _canvas(paper), 0.96, PAPER), truth))
    for category, ways in _WAYS.items():
        if category not in wanted:
            continue
        for i, kind in enumerate(_KINDS):
            font = _FONT_NAMES[i % len(_FONT_NAMES)]
            paper, truth = document(kind, font)
            photo = _on_table(paper, _canvas(paper))
            for label, way in ways:
                out.append(Sample(f"{kind}/{font}/{label}", category, kind, way(photo), truth))
    if "small-print" in wanted:
        for i, kind in enumerate(_KINDS):
            font = _FONT_NAMES[(i + 3) % len(_FONT_NAMES)]
            paper, truth = document(kind, font)
            sample = Sample(f"{kind}/{font}/small print", "small-print", kind, paper, truth)
            photo = shrink(sample, SMALL_PRINT).filter(ImageFilter.GaussianBlur(0.8))
            out.append(Sample(sample.name, "small-print", kind, photo, truth))
    if "no-text" in wanted:
        out += [Sample(f"photo/{name}/no text", "no-text", "photo", image, "") for name, image in no_text_photos()]
    return out


def no_text_photos() -> list[tuple[str, Image.Image]]:
    """Photos with no writing in them: real ones shipped by packages, and plain surfaces."""
    photos = []
    from skimage import data

    # a cat, a cup of coffee, an astronaut, a rocket, the night sky, a man with a camera. (Not
    # matplotlib's Grace Hopper: her name tag is text, and SeeSay reads it. Not skimage's coins:
    # they are inscribed.)
    for name in ("chelsea", "coffee", "astronaut", "rocket", "hubble_deep_field", "camera"):
        photos.append((name.replace("_", " "), Image.fromarray(getattr(data, name)()).convert("RGB")))
    ramp = np.linspace(60, 200, 1344, dtype=np.float32)[None, :, None] * np.array([1.0, 0.9, 0.8])
    wall = np.broadcast_to(ramp, (1008, 1344, 3))
    photos.append(("plain wall", _noisy(Image.fromarray(wall.astype(np.uint8)), 4.0, 3)))
    blank = _noisy(_on_table(Image.new("RGB", (800, 1100), PAPER), (1008, 1344)), 3.0, 5)
    photos.append(("blank paper", blank))
    shapes = Image.new("RGB", (1344, 1008), (200, 210, 220))
    draw = ImageDraw.Draw(shapes)
    rng = np.random.default_rng(11)
    for _ in range(12):
        x, y, r = (int(v) for v in rng.integers((0, 0, 40), (1344, 1008, 180)))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
    photos.append(("shapes", shapes))
    return photos


# --- framing material ------------------------------------------------------------------------------

def cut(sample: Sample, edge: str) -> Image.Image:
    """The sample's photo cut so that its text runs off ``edge`` (left, right, top or bottom):
    through the middle of most lines for left and right, through a line for top and bottom."""
    bands = _text_bands(sample.image)
    w, h = sample.image.size
    if edge in ("left", "right"):
        share = 0.4 if edge == "left" else 0.6
        x = float(np.median([x0 + share * (x1 - x0) for x0, x1, _, _ in bands]))
        box = (x, 0, w, h) if edge == "left" else (0, 0, x, h)
    else:
        _, _, y0, y1 = bands[len(bands) // 3 if edge == "top" else len(bands) - 1 - len(bands) // 3]
        y = (y0 + y1) / 2
        box = (0, y, w, h) if edge == "top" else (0, 0, w, y)
    return sample.image.crop(tuple(round(v) for v in box))


def _text_bands(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """(x0, x1, y0, y1) of each band of dark rows (a printed line), top to bottom."""
    ink = np.asarray(image.convert("L"), dtype=np.int16) < 128
    rows = np.flatnonzero(ink.any(axis=1))
    bands, start = [], rows[0]
    for a, b in zip(rows, rows[1:]):
        if b > a + 1:
            bands.append((start, a))
            start = b
    bands.append((start, rows[-1]))
    out = []
    for y0, y1 in bands:
        xs = np.flatnonzero(ink[y0:y1 + 1].any(axis=0))
        out.append((int(xs[0]), int(xs[-1]), int(y0), int(y1)))
    return out


def shrink(sample: Sample, text_px: float, canvas: tuple[int, int] = (1344, 1008)) -> Image.Image:
    """The sample's document far from the camera: the paper small in the middle of a ``canvas``
    photo, its body text set at ``text_px`` pixels (the font's em: capitals are about 0.7 of it).
    With ``canvas=(4032, 3024)`` it is a 12-megapixel phone photo."""
    paper, _ = document(sample.kind, sample.name.split("/")[1])
    fill = (text_px / BODY) / min(canvas[0] / paper.width, canvas[1] / paper.height)  # paper scaled by text_px / BODY
    return _on_table(paper, canvas, fill=fill)


# --- word error rate ----------------------------------------------------------------------------------

def _words(text: str, normalise: bool) -> list[str]:
    if normalise:  # case and punctuation aside: what a listener would hear
        text = re.sub(r"[^\w\s/.:]|(?<!\d)[.:]|[.:](?!\d)", " ", text.lower())
    return text.split()


def word_errors(truth: str, found: str, *, normalise: bool = False) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the truth), on whitespace-separated words."""
    ref, hyp = _words(truth, normalise), _words(found, normalise)
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, other in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        previous = current
    return previous[-1], len(ref)


def word_error_rate(truth: str, found: str, *, normalise: bool = False) -> float:
    """Word error rate of ``found`` against ``truth`` (0.0 is perfect; it can pass 1.0)."""
    errors, words = word_errors(truth, found, normalise=normalise)
    return errors / words if words else float(bool(found.split()))


def _main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for i, sample in enumerate(samples()):
        stem = f"{i:03d}-" + re.sub(r"[^a-z0-9]+", "-", sample.name.lower()).strip("-")
        sample.image.save(out / f"{stem}.png")
        (out / f"{stem}.txt").write_text(sample.truth + "\n", encoding="utf-8")
    print(f"wrote {i + 1} samples to {out}")


if __name__ == "__main__":
    _main(Path(sys.argv[1] if len(sys.argv) > 1 else "labels"))
