"""Framing help for text: which way to move the phone when text runs off an edge or is too small.

Works on a :class:`~core.ocr.Reading` alone (the boxes and the image size), so it is tested on
hand-made readings. Edges are the photo's own (the photo is upright, as the phone was held), so
"the right edge" is where the person should move the phone.

* **Off an edge**: a line whose box comes within :data:`EDGE_SHARE` of its own height of the
  photo's edge (the detector's boxes extend a little past the letters, so such a box means letters
  at or past the edge), or letters cut off along the edge seen in the pixels
  (:func:`cut_edges`, ``Reading.cut``): the detector seldom finds a line cut in half lengthwise.
  Each edge's lines are counted by their characters; the edge with the most comes first.
* **Too small**: a third or more of the characters are in lines under :data:`SMALL_LINE` pixels
  high. The recogniser scales every line to 48 pixels; measured on rendered labels, lines whose
  boxes are under 20 pixels high (text of 11 pixels or less to the em) lose letters once the photo
  is a little blurred (word error rate 0.2 to 0.7 at 8 to 10 pixels), and text the detector finds
  but cannot read at all (``Reading.skipped``) is usually that small.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ..i18n import N_, translator

if TYPE_CHECKING:
    import numpy as np

    from . import Line, Reading

__all__ = ["Advice", "framing", "cut_edges", "KINDS", "SMALL_LINE", "EDGE"]

#: a line box this close to an edge (pixels, or this share of the line's height, whichever is larger)
#: runs off it (measured: lines cut by a photo's edge end 0 to 0.3 heights from it; margins are wider)
EDGE = 2.0
EDGE_SHARE = 0.35
#: letters cut along an edge: ink differs from the strip's median by this much (0-255), in at least
#: this many separate runs along the edge
INK = 40
CUT_RUNS = 4
#: median line height (pixels, box height across the writing) under which text is too small to read well
SMALL_LINE = 20.0

_GUIDANCE = {
    "off-left": N_("The text runs off the left edge. Move the phone a little to the left, or step back."),
    "off-right": N_("The text runs off the right edge. Move the phone a little to the right, or step back."),
    "off-top": N_("The text runs off the top edge. Move the phone up a little, or step back."),
    "off-bottom": N_("The text runs off the bottom edge. Move the phone down a little, or step back."),
    "too-small": N_("The text is very small in this photo. Move the phone closer to the text, hold it steady, "
                    "and take the photo again."),
}
#: every kind of advice, in the order ties are broken
KINDS = tuple(_GUIDANCE)


@dataclass(frozen=True)
class Advice:
    """One piece of framing help."""

    kind: str  # "off-left", "off-right", "off-top", "off-bottom" or "too-small"
    guidance: str  # what to say: the problem, then which way to move the phone (in the language asked for)

    @classmethod
    def of(cls, kind: str, language: str = "en") -> "Advice":
        return cls(kind, translator(language)(_GUIDANCE[kind]))


def framing(reading: "Reading", language: str = "en") -> tuple[Advice, ...]:
    """Framing help for this reading, most useful first; empty when the text is well framed. The
    guidance is said in ``language`` (SeeSay's words, :func:`core.i18n.words_language`).

    Lines found but too unclear to read (``reading.skipped``) count too, so a photo whose only
    text is too small to read gets "too-small" advice even though it has no text to read.
    """
    lines = (*reading.lines, *reading.skipped)
    if not lines:
        return ()
    width, height = reading.size
    weight: dict[str, int] = {f"off-{edge}": 1 for edge in reading.cut}
    for line in lines:
        for edge in _edges(line, width, height):
            weight[edge] = weight.get(edge, 0) + max(1, len(line.text))
    advice = sorted(weight, key=lambda kind: (-weight[kind], KINDS.index(kind)))
    if _too_small(reading):
        advice.insert(0, "too-small")  # text too small to read well: moving closer matters most
    return tuple(Advice.of(kind, language) for kind in advice)


def _edges(line: "Line", width: int, height: int) -> list[str]:
    xs = [x for x, _ in line.box]
    ys = [y for _, y in line.box]
    mx = my = max(EDGE, EDGE_SHARE * line.height)
    found = []
    if min(xs) <= mx:
        found.append("off-left")
    if max(xs) >= width - 1 - mx:
        found.append("off-right")
    if min(ys) <= my:
        found.append("off-top")
    if max(ys) >= height - 1 - my:
        found.append("off-bottom")
    return found


def _too_small(reading: "Reading") -> bool:
    """A third or more of the characters found are in lines under SMALL_LINE pixels high, or most of
    what was found could not be read and that is small."""
    lines = (*reading.lines, *reading.skipped)
    chars = sum(max(1, len(line.text)) for line in lines)
    small = sum(max(1, len(line.text)) for line in lines if line.height < SMALL_LINE)
    if small * 3 >= chars:
        return True
    skipped = [line.height for line in reading.skipped]
    return len(skipped) > len(reading.lines) and statistics.median(skipped) < 1.5 * SMALL_LINE


def cut_edges(gray: "np.ndarray", lines: Sequence["Line"]) -> tuple[str, ...]:
    """The photo's top and bottom edges along which letters are cut off ("top", "bottom").

    ``gray`` is the photo in grey levels (height x width) and ``lines`` what was found in it. A strip
    along the edge, 0.4 of a line high and as wide as the text, holds cut letters when its columns
    with ink (far from the strip's median shade) form at least :data:`CUT_RUNS` separate runs: the
    stumps of letters, where a paper's edge or a table gives one long run or none.
    """
    import numpy as np

    if not lines:
        return ()
    size = statistics.median(line.height for line in lines)
    depth = max(2, round(0.4 * size))
    rows, columns = gray.shape
    xs = [x for line in lines for x, _ in line.box]
    x0, x1 = max(0, int(min(xs))), min(columns, int(max(xs)) + 1)
    found = []
    for edge, strip in (("top", gray[:depth, x0:x1]), ("bottom", gray[rows - depth:, x0:x1])):
        if strip.size == 0:
            continue
        strip = strip.astype(np.int16)
        ink = (np.abs(strip - int(np.median(strip))) > INK).any(axis=0)
        runs = int(ink[0]) + int(np.count_nonzero(ink[1:] & ~ink[:-1]))
        if runs >= CUT_RUNS:
            found.append(edge)
    return tuple(found)
