"""Guidance while the person aims the live camera: the words, the limits each frame is judged by, and the
text check of a small frame.

Taking a usable photo without sight is the hardest step: in VizWiz 14.8% of blind people's photos are
unrecognisable and more than half are flawed, mostly by blur and framing. The live camera
(``ui/live_camera.py``) says what to change while the person aims, and takes the photo by itself once
it is good. The work is split by where it can be done fast enough:

* **In the browser, every frame it can** (``ui/assets/live-camera.js``): :mod:`core.quality`'s own
  measures, on a grey copy of the same size (:data:`core.quality.WORK_SIDE`) and with the same
  thresholds (:data:`core.quality.THRESHOLDS`, passed by :func:`browser_limits`), so a picture the
  browser calls good is one the quality check passes; and steadiness, from how far the picture moves
  between frames and from the phone's motion sensor where the browser gives it.
* **Here, at most twice a second, and only while the picture is otherwise good**: where the text is,
  on a frame of at most :data:`FRAME_SIDE` pixels (:func:`check_frame`). The text reader's detector
  finds the lines (without reading them); :func:`core.ocr.framing`'s own rules say which edge they run
  off, and whether they are too small, judged at the size of the photo SeeSay will keep.

What is said (:data:`CUES`, :data:`MESSAGES`) and the names of the controls (:data:`LABELS`) are
here, in one place, and are handed to the browser: nothing a person hears is written in the JavaScript.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

from . import quality
from .i18n import N_

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["CUES", "MESSAGES", "LABELS", "KINDS", "words", "Limits", "LIMITS", "TextCheck", "TextFinder", "check_frame",
           "browser_limits", "FRAME_SIDE", "FRAME_MAX_BYTES"]

#: what the live camera says for each thing to change, short, for listening; in the order it is said
#: when several hold (the order of core.quality.KINDS: light first, then something in view, then
#: steadiness and sharpness; the text's framing once the picture itself is good)
CUES = {
    "dark": N_("Too dark. Turn on a light."),
    "bright": N_("Too bright. Move out of direct light."),
    "glare": N_("Glare. Turn away from the light."),
    "nothing": N_("Nothing in view. Point at the thing."),
    "moving": N_("Hold still."),
    "blurred": N_("Blurry. Hold still, or move back a little."),
    "too-small": N_("Text too small. Move closer."),
    "off-left": N_("Text cut off on the left. Move left."),
    "off-right": N_("Text cut off on the right. Move right."),
    "off-top": N_("Text cut off at the top. Move up."),
    "off-bottom": N_("Text cut off at the bottom. Move down."),
}
#: the kinds of cue, in the order above
KINDS = tuple(CUES)

#: what the live camera says about itself
MESSAGES = {
    "on": N_("Live camera on."),  # short: the guidance follows at once (the page says how it works)
    "off": N_("Live camera off."),
    "taken": N_("Photo taken."),
    "denied": N_("SeeSay may not use the camera. Allow the camera for this page in your browser's settings, "
                 "or use Take photo."),
    "no-camera": N_("SeeSay found no camera it can open. Use Upload a photo instead."),
    "failed": N_("The camera could not be started. Close other apps that use it, then press Live camera again."),
}

#: the names of the live camera's controls (what a screen reader says and what is shown)
LABELS = {
    "toggle": N_("Live camera"),
    "take": N_("Take photo now"),
    "text": N_("Wait until all the text is in view"),
}



def words(language: str = "en") -> dict[str, dict[str, str]]:
    """:data:`CUES`, :data:`MESSAGES` and :data:`LABELS` in ``language`` (SeeSay's words,
    :func:`core.i18n.words_language`), for the live camera's browser side, which writes none of its own."""
    from .i18n import translator

    _ = translator(language)
    return {name: {key: _(text) for key, text in table.items()}
            for name, table in (("cues", CUES), ("messages", MESSAGES), ("labels", LABELS))}


#: the longer side, in pixels, of the frames sent for the text check: measured on rendered labels, the
#: detector finds every line of a label filling the frame at 320 to 640 pixels, in 30 to 90 ms at 640 on
#: 2 cores; 640 keeps lines that will be 20 pixels high in the kept photo (core.ocr.framing.SMALL_LINE)
#: at 9 pixels, where it still finds them
FRAME_SIDE = 640
#: a frame larger than this is refused (a 640-pixel JPEG is 30 to 120 kB)
FRAME_MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Limits:
    """How the browser judges the frames and paces what it says (:func:`browser_limits` sends them)."""

    #: the picture moves too much when its content shifts by more than this share of its width a second.
    #: At 1/30 s exposure (indoors) that is a smear of 1.7 pixels on the 512-pixel copy the quality check
    #: judges; camera shake of 7 pixels there is flagged as blurred (core.testmodels.photos)
    moving: float = 0.1
    #: a phone's main camera sees about this many degrees across: the motion sensor's turning speed
    #: (degrees a second) is compared with ``moving`` through it
    field_of_view: float = 65.0
    #: seconds the picture must stay good (and, when text is wanted, the text be in view) before the
    #: photo is taken by itself
    hold: float = 0.5
    #: a cue is said once this many frames in a row agree (one odd frame says nothing) ...
    agree: int = 2
    #: ... or at once when its measure is this share of its threshold past it (a picture at 0.6 blur, against
    #: a threshold of 0.5, is blurred beyond doubt); movement is always confirmed by a second frame: a
    #: picture that changes at once (a light switched on) moves for one frame
    sure: float = 0.2
    #: seconds between two different cues at least: a short cue takes about a second to say
    gap: float = 1.0
    #: seconds between frames sent for the text check at least (at most twice a second)
    text_every: float = 0.5
    #: seconds after which a frame sent for the text check and not answered is given up
    text_wait: float = 3.0
    #: longer side of those frames, in pixels
    frame_side: int = FRAME_SIDE


#: the limits SeeSay uses
LIMITS = Limits()


def browser_limits(limits: Limits = LIMITS) -> dict:
    """Everything the browser needs to judge a frame as :func:`core.quality.check_quality` would, and to pace
    its cues: the quality check's working size and thresholds, then :class:`Limits`."""
    return {"work_side": quality.WORK_SIDE, "coarse_pixels": quality.COARSE_PIXELS,
            "thresholds": dict(quality.THRESHOLDS), **asdict(limits)}


class TextFinder(Protocol):
    """What :func:`check_frame` needs of the text reader (``core.ocr.rapid.RapidReader.find``)."""

    def find(self, image: "Image.Image") -> tuple[tuple[tuple[float, float], ...], ...]:
        """Each line of text's box, 4 corners clockwise from the writing's top-left; raises TextReadingError."""
        ...


@dataclass(frozen=True)
class TextCheck:
    """Where the text is in one live frame."""

    advice: tuple[str, ...]  # kinds of CUES ("too-small", "off-right", ...), most useful first; () when all in view
    lines: int  # lines of text found (0: no text, which is all in view)
    seconds: float  # how long the check took

    @property
    def ok(self) -> bool:
        """True when all the text found is in view and large enough (or there is none)."""
        return not self.advice


def check_frame(frame: bytes, finder: TextFinder, *, photo_side: int) -> TextCheck:
    """Where the text is in ``frame`` (a JPEG or PNG of at most FRAME_SIDE pixels, larger ones are shrunk),
    and what to change: its lines are found by ``finder`` and judged by :func:`core.ocr.framing`, as if
    the frame were the photo SeeSay will keep, ``photo_side`` pixels on its longer side.

    Raises ImageError for a frame that is not a picture, TextReadingError when the detector fails.
    """
    from .images import load_photo
    from .ocr import Line, Reading, framing

    started = time.perf_counter()
    image = load_photo(frame, max_bytes=FRAME_MAX_BYTES, max_pixels=4 * FRAME_SIDE * FRAME_SIDE,
                       max_side=FRAME_SIDE).image
    boxes = finder.find(image)
    if not boxes:
        return TextCheck((), 0, time.perf_counter() - started)
    # Every size in framing's rules (edge margins, SMALL_LINE) is in the pixels of the photo SeeSay keeps, so
    # the boxes are scaled to it. Letters cut lengthwise along an edge are not looked for in the pixels
    # (core.ocr.framing.cut_edges): that test is made for a photo of a page, and a live frame shows the
    # scene around the text, whose texture along the edge reads as cut letters (a table's grain did).
    scale = max(1, photo_side) / max(image.size)
    lines = tuple(Line("", tuple((x * scale, y * scale) for x, y in box), 1.0) for box in boxes)
    size = (round(image.width * scale), round(image.height * scale))
    reading = Reading(lines=lines, text="", size=size, seconds=0.0, engine="live")
    advice = tuple(a.kind for a in framing(reading))
    return TextCheck(advice, len(lines), time.perf_counter() - started)
