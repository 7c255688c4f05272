"""Text reading: a photo -> every line of text in it, in reading order, exactly as printed.

"Read the text" is answered from here, never paraphrased by the vision-language model. One engine:

* ``rapidocr``: PaddleOCR's PP-OCRv4 detector and recogniser and its line-orientation classifier,
  as ONNX models shipped inside the ``rapidocr-onnxruntime`` wheel (offline, CPU). SeeSay runs the
  three models itself (:mod:`core.ocr.rapid`) so that it can read the recogniser's per-column
  output: the spaces between words come from there (:mod:`core.ocr.spacing`), the order of the
  lines from the boxes' geometry (:mod:`core.ocr.layout`).

:func:`framing` says which way to move the phone when text runs off an edge or is too small.
Importing this package is cheap: onnxruntime, OpenCV and rapidocr are imported by ``load_ocr``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError
from ..i18n import N_
from .framing import Advice, framing

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ENGINES", "Line", "Reading", "TextReader", "Options", "Advice", "NO_TEXT", "load_ocr", "framing"]

log = logging.getLogger(__name__)

#: text reading engines, by name
ENGINES = ("rapidocr",)

#: what SeeSay says when a photo holds no text it can read
NO_TEXT = N_("I found no text in this photo. If you expected some, turn the object so its label faces the "
             "camera, hold the phone about 20 to 30 centimetres away in good light, and take the photo again.")

Point = tuple[float, float]


@dataclass(frozen=True)
class Line:
    """One line of text as read."""

    text: str  # exactly as found (NFKC: full-width forms as plain ones), words separated by single spaces
    box: tuple[Point, ...]  # 4 corners in the image's pixels, clockwise from the text's own top-left
    score: float  # recogniser confidence, 0..1 (mean over its characters)

    @property
    def height(self) -> float:
        """Height of the line's box across the writing direction, in pixels."""
        (x0, y0), (x3, y3) = self.box[0], self.box[3]
        return ((x3 - x0) ** 2 + (y3 - y0) ** 2) ** 0.5


@dataclass(frozen=True)
class Reading:
    """Everything read in one photo."""

    lines: tuple[Line, ...]  # in reading order (columns left to right, lines top to bottom; rotated text handled)
    text: str  # what "Read the text" says: the lines joined, one per line
    size: tuple[int, int]  # (width, height) of the image the boxes refer to
    seconds: float  # time the reading took
    engine: str  # name of the engine that read it
    skipped: tuple[Line, ...] = ()  # text found but too unclear to read (confidence under the threshold)
    angle: float = 0.0  # direction of most of the writing, degrees clockwise from left-to-right (90: reads downwards)
    cut: tuple[str, ...] = ()  # "top", "bottom": edges along which letters are cut off, seen in the pixels

    @property
    def has_text(self) -> bool:
        """True when at least one line was read."""
        return bool(self.lines)

    @property
    def words(self) -> int:
        """Number of words read."""
        return len(self.text.split())


class TextReader(Protocol):
    name: str

    def read(self, image: "Image.Image") -> Reading:
        """Read every line of ``image`` (RGB, upright); raises TextReadingError when it cannot."""
        ...


@dataclass(frozen=True)
class Options:
    """How the rapidocr engine reads; the defaults are what SeeSay uses (measured in tests/test_ocr.py)."""

    text_score: float = 0.5  # lines read with less confidence go to Reading.skipped
    max_side: int = 2000  # the detector sees the photo downscaled to this longer side (crops come from full size)
    space_threshold: float = 0.012  # see core.ocr.spacing.SPACE_THRESHOLD
    threads: int = 0  # onnxruntime threads per model; 0 = its default (all cores)
    model_dir: Path | None = field(default=None)  # folder holding the three .onnx files; None = the wheel's own


def load_ocr(engine: str = "rapidocr", options: Options = Options()) -> TextReader:
    """Load a text reader, once per process (it is thread-safe: every visitor shares it).

    Raises ConfigError for an unknown engine (listing the valid ones) and ModelUnavailableError
    when rapidocr-onnxruntime, onnxruntime or OpenCV is not installed or a model file is missing.
    """
    if engine == "rapidocr":
        from .rapid import RapidReader

        return RapidReader(options)
    raise ConfigError(
        N_("SeeSay does not know the text reading engine {engine}."),
        N_("Set SEESAY_OCR_ENGINE to one of: {names}."), engine=repr(engine), names=", ".join(ENGINES),
    )
