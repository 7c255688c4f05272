"""Pages: documents, scans and screenshots, white by design, each with its text; and real photographs of text.

The photo-quality check must not call these "too bright" (their white is paper, not glare), and the
text reader's spacing and framing thresholds are checked on them. They come in two parts, by what
drew them, so that a threshold set from one part is measured on the other:

``tuning``
    What the thresholds were set from: documents printed by Pillow in the fonts of
    :mod:`core.testmodels.labels` (DejaVu, Liberation), the renderer and fonts the text reader's
    thresholds were measured on; a short notice alone on a page; an app screen drawn by Pillow.
``held out``
    Other renderers and other fonts: matplotlib's Agg in the STIX and Computer Modern fonts of its own
    wheel (a letter, a council notice with a table, a till receipt, a one-line note), OpenCV's own text
    renderer (a shop sign), Pillow in Liberation Mono (a till receipt: a font no threshold saw), and two
    real screenshots of SeeSay taken by headless Chromium (frozen 32-colour copies in ``data/``, so
    that the browser tests, which rewrite docs/screenshots, change nothing here).

Every page comes as rendered (a PDF page or a screenshot, pure white), as a JPEG (quality 75, as a
messaging app sends it) and, for documents, as a scan (sensor noise and a JPEG). Everything is
deterministic.

:func:`real_text_photos` are real photographs of text shipped in scikit-image's wheel, with their
text transcribed by looking at them: a photographed book page (printed text, its last line cut by
the photo's bottom edge) and handwritten maths on paper (handwriting: SeeSay's reader reads print).
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .labels import FONTS, INK, document

__all__ = ["Page", "PARTS", "pages", "real_text_photos", "TextPhoto", "SCREENSHOTS", "HELD_OUT_FONTS"]

PARTS = ("tuning", "held out")
WHITE = (255, 255, 255)
DATA = Path(__file__).resolve().parent / "data"
#: the frozen screenshots (held out): SeeSay's ask page on a phone and its settings page on a desktop
SCREENSHOTS = ("screenshot-ask-phone.png", "screenshot-settings-desktop.png")
#: fonts of the held-out pages, by the file in matplotlib's wheel (or Debian's fonts-liberation)
HELD_OUT_FONTS = {"STIX General": "STIXGeneral.ttf", "Computer Modern Sans": "cmss10.ttf",
                  "Computer Modern Typewriter": "cmtt10.ttf", "Computer Modern Bold": "cmb10.ttf",
                  "Liberation Mono": "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"}


@dataclass(frozen=True)
class Page:
    """One page, white by design."""

    name: str  # unique: "held out/letter/STIX General/jpeg"
    part: str  # "tuning" or "held out"
    kind: str  # "receipt", "letter", "notice", "sign", "label", "newsletter", "note" or "screen"
    how: str  # "rendered", "jpeg" or "scan"
    image: Image.Image  # RGB
    truth: str  # its text, one line per printed line, in reading order; "" for screens (not transcribed)


@dataclass(frozen=True)
class TextPhoto:
    """A real photograph of text."""

    name: str  # "skimage page"
    image: Image.Image  # RGB, as shipped
    truth: str  # what it says, transcribed by looking at it; lines cut by the photo's edge left out
    printed: bool  # printed text (the reader's job); False for handwriting
    cut: tuple[str, ...]  # the photo's edges that text runs off


# --- the held-out documents' text (new words: none is in core.testmodels.labels) ------------------------

_LETTER = ("Dear Mr Patel,", "", "Your new bus pass is ready to collect from the",
           "council office on Church Road. Please bring this", "letter and a photo ID with you.", "",
           "The office is open from 9:00 to 16:30, Monday to", "Friday. Call 0161 555 0199 with any questions.", "",
           "Kind regards,", "Transport Services")
_NOTICE = ("Recycling collection changes", "", "From 3 March your recycling will be collected",
           "every other Wednesday. Put your bin out by 7 am.", "", "Paper and card | Blue bin | Wednesday",
           "Glass and cans | Green box | Friday")
_RECEIPT = (("CORNER STORE", ""), ("14 Mill Lane", ""), ("", ""), ("Semi skimmed milk", "1.25"),
            ("Free range eggs", "2.10"), ("Tinned tomatoes", "0.65"), ("Porridge oats", "1.40"), ("", ""),
            ("TOTAL", "5.40"), ("CASH", "10.00"), ("CHANGE", "4.60"), ("", ""), ("Thank you", ""))
_SIGN = ("PHARMACY", "Open 9 to 6", "Closed on Sundays")
_NOTE = ("Back in ten minutes",)


def pages(parts: tuple[str, ...] = PARTS) -> list[Page]:
    """The pages of these parts, in a fixed order: each drawn page as rendered, as a JPEG, as a scan."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    out = []
    for part in PARTS:
        if part not in parts:
            continue
        for kind, label, image, truth in (_tuning() if part == "tuning" else _held_out()):
            ways = ("rendered", "jpeg") if kind == "screen" else ("rendered", "jpeg", "scan")
            for how in ways:
                out.append(Page(f"{part}/{kind}/{label}/{how}", part, kind, how, _as(how, image), truth))
    return out


@functools.lru_cache(maxsize=1)
def _tuning() -> tuple:
    out = []
    for kind, fonts in (("receipt", ("DejaVu Sans Mono", "Liberation Sans")), ("letter", ("DejaVu Serif", "Liberation Serif")),
                        ("label", ("DejaVu Sans", "Liberation Sans Narrow")), ("sign", ("DejaVu Sans",)),
                        ("newsletter", ("Liberation Serif",))):
        for font in fonts:
            image, truth = document(kind, font, paper=WHITE)
            out.append((kind, font, image, truth))
    note, truth = _pillow_lines(("Meeting moved to Room 4",), FONTS["DejaVu Sans"][0], 80, (1754, 1240))
    out.append(("note", "DejaVu Sans", note, truth))
    out.append(("screen", "drawn by Pillow (phone)", _app_screen((412, 900)), ""))
    out.append(("screen", "drawn by Pillow (desktop)", _app_screen((1280, 800)), ""))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _held_out() -> tuple:
    out = [
        ("letter", "STIX General", *_mpl_page(_LETTER, "STIX General", 15, (1000, 720))),
        ("notice", "Computer Modern Sans", *_mpl_page(_NOTICE, "Computer Modern Sans", 15, (1000, 480),
                                                      heading="Computer Modern Bold")),
        ("receipt", "Computer Modern Typewriter", *_mpl_receipt("Computer Modern Typewriter")),
        ("note", "STIX General", *_mpl_page(_NOTE, "STIX General", 56, (1754, 1240))),
        ("sign", "OpenCV", *_cv2_sign()),
    ]
    receipt, truth = _pillow_receipt(HELD_OUT_FONTS["Liberation Mono"], 26)
    out.append(("receipt", "Liberation Mono", receipt, truth))
    for file in SCREENSHOTS:
        with Image.open(DATA / file) as img:
            out.append(("screen", file.removesuffix(".png").replace("screenshot-", "Chromium "), img.convert("RGB"), ""))
    return tuple(out)


def real_text_photos() -> list[TextPhoto]:
    """Real photographs of text from scikit-image's wheel, with what they say."""
    import skimage.data

    page = ("Region-based segmentation\n"
            "Let us first determine markers of the coins and the\n"
            "background. These markers are pixels that we can label\n"
            "unambiguously as either object or background. Here,\n"
            "the markers are found at the two extreme parts of the\n"
            "histogram of grey values:\n"
            ">>> markers = np.zeros_like(coins)")
    maths = "(s) = 1\n(t - x) 2s\n(s) = 1\n-1 t n\ns"
    return [
        TextPhoto("skimage page", Image.fromarray(skimage.data.page()).convert("RGB"), page, True, ("bottom",)),
        TextPhoto("skimage text", Image.fromarray(skimage.data.text()).convert("RGB"), maths, False,
                  ("left", "right", "top", "bottom")),
    ]


# --- drawing -------------------------------------------------------------------------------------------

def _as(how: str, image: Image.Image) -> Image.Image:
    """The page as rendered, as a JPEG a messaging app sends (quality 75), or as a scanner gives it
    (sensor noise of 2 grey levels, then a JPEG at 85)."""
    if how == "rendered":
        return image
    if how == "scan":
        noise = np.random.default_rng(7).normal(0, 2.0, (image.height, image.width, 1))
        image = Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=75 if how == "jpeg" else 85)
    buffer.seek(0)
    with Image.open(buffer) as img:
        return img.convert("RGB")


def _font_file(name: str) -> str:
    file = HELD_OUT_FONTS[name]
    if file.startswith("/"):
        return file
    import matplotlib

    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf", file)


def _mpl_page(lines, font: str, points: float, size: tuple[int, int], heading: str | None = None):
    """Lines set by matplotlib's Agg renderer on a white page of ``size`` pixels (100 dpi), top left;
    "a | b | c" is a table row, its cells in columns. The truth joins a row's cells with spaces."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    width, height = size
    figure = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    FigureCanvasAgg(figure)
    step = points * 2.1 / height  # a line, in figure heights (points at 100 dpi: 1.39 px each)
    y = 1 - 60 / height
    truth = []
    for index, line in enumerate(lines):
        bold = heading is not None and index == 0
        face = FontProperties(fname=_font_file(heading if bold else font), size=points * (1.4 if bold else 1))
        cells = [cell.strip() for cell in line.split("|")]
        for column, cell in enumerate(cells):
            figure.text(60 / width + column * 0.3, y, cell, fontproperties=face, va="top", color="#141418")
        if line:
            truth.append(" ".join(cells))
        y -= step * (1.4 if bold else 1)
    figure.canvas.draw()
    return Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()), "\n".join(truth)


def _mpl_receipt(font: str):
    """A till receipt from a thermal printer: 576 dots wide, items on the left, prices on the right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    width, height, points = 576, 40 + 38 * len(_RECEIPT), 16
    figure = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    FigureCanvasAgg(figure)
    face = FontProperties(fname=_font_file(font), size=points)
    truth = []
    for row, (item, price) in enumerate(_RECEIPT):
        y = 1 - (24 + 38 * row) / height
        if item and not price:
            figure.text(0.5, y, item, fontproperties=face, va="top", ha="center")
        elif item:
            figure.text(24 / width, y, item, fontproperties=face, va="top")
            figure.text(1 - 24 / width, y, price, fontproperties=face, va="top", ha="right")
        if item:
            truth.append(f"{item} {price}".strip())
    figure.canvas.draw()
    return Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()), "\n".join(truth)


def _pillow_receipt(path: str, size: int):
    from PIL import ImageFont

    face = ImageFont.truetype(path, size)
    width, step = 576, round(size * 1.45)
    sheet = Image.new("RGB", (width, 48 + step * len(_RECEIPT)), WHITE)
    draw = ImageDraw.Draw(sheet)
    truth = []
    for row, (item, price) in enumerate(_RECEIPT):
        y = 24 + step * row
        if item and not price:
            draw.text(((width - face.getlength(item)) / 2, y), item, fill=INK, font=face)
        elif item:
            draw.text((24, y), item, fill=INK, font=face)
            draw.text((width - 24 - face.getlength(price), y), price, fill=INK, font=face)
        if item:
            truth.append(f"{item} {price}".strip())
    return sheet, "\n".join(truth)


def _pillow_lines(lines, path: str, size: int, page: tuple[int, int]):
    """Lines in one font, centred at the top third of an otherwise empty white page."""
    from PIL import ImageFont

    face = ImageFont.truetype(path, size)
    sheet = Image.new("RGB", page, WHITE)
    draw = ImageDraw.Draw(sheet)
    for row, line in enumerate(lines):
        draw.text(((page[0] - face.getlength(line)) / 2, page[1] // 3 + row * size * 1.5), line, fill=INK, font=face)
    return sheet, "\n".join(lines)


def _cv2_sign():
    """A shop sign drawn by OpenCV's own text renderer (not FreeType through Pillow or matplotlib)."""
    import cv2

    sheet = np.full((420, 900, 3), 255, np.uint8)
    for row, (line, scale) in enumerate(zip(_SIGN, (2.2, 1.4, 1.4))):
        (w, _), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        cv2.putText(sheet, line, ((900 - w) // 2, 120 + 110 * row), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 24), 2,
                    cv2.LINE_AA)
    return Image.fromarray(sheet), "\n".join(_SIGN)


def _app_screen(size: tuple[int, int]) -> Image.Image:
    """An app's screen in a light theme: a title, text, a grey input box, a coloured button, a divider;
    on a wide screen a light grey sidebar with its own links."""
    from PIL import ImageFont

    width, height = size
    body = ImageFont.truetype(FONTS["DejaVu Sans"][0], 16)
    title = ImageFont.truetype(FONTS["DejaVu Sans"][1], 30)
    screen = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(screen)
    left = 24
    if width > 900:
        draw.rectangle((0, 0, 300, height), fill=(240, 242, 246))
        for row, link in enumerate(("Home", "Describe a photo", "Ask about a photo", "History", "Settings")):
            draw.text((32, 90 + 44 * row), link, fill=(49, 51, 63), font=body)
        left = 360
    draw.text((left, 60), "Ask about a photo", fill=(49, 51, 63), font=title)
    for row, line in enumerate(("Take a photo or choose one, then ask", "a question by voice or by typing.")):
        draw.text((left, 120 + 26 * row), line, fill=(49, 51, 63), font=body)
    box = (left, 200, min(width - 24, left + 700), 250)
    draw.rounded_rectangle(box, 8, fill=(240, 242, 246), outline=(200, 202, 208))
    draw.text((box[0] + 12, 215), "Type your question", fill=(120, 122, 130), font=body)
    draw.rounded_rectangle((left, 280, left + 160, 326), 8, fill=(255, 75, 75))
    draw.text((left + 30, 293), "Ask SeeSay", fill=WHITE, font=body)
    draw.line((left, 360, box[2], 360), fill=(220, 222, 228), width=1)
    for row in range(8):
        draw.text((left, 390 + 30 * row), f"Answer {row + 1}: a red car is parked by the door.", fill=(49, 51, 63),
                  font=body)
    return screen
