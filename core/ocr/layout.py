"""Reading order: the detector's text boxes -> lines in the order a person reads them.

Works on geometry alone, so it is tested without a model. The steps:

1. Each piece's box is given clockwise from the text's own top-left, so its top edge points the way
   the text is written, whatever way the photo was held. Pieces are grouped by that direction
   (right, down, left, up: a label photographed sideways reads downwards); the group with the most
   text is read first.
2. Within a group, the boxes are turned so the writing runs left to right (the mean direction of
   the group: a label tilted a few degrees still has straight rows).
3. The page is cut in two at its widest empty gap, across (between bands of lines) or down
   (between columns), and each part again, until no gap is left (the XY-cut). A cut down is only
   made between two columns of prose: rows whose right part is short (a receipt's prices, a
   timetable's times) are read across.
4. Pieces on the same row (the detector often splits a receipt line into "Milk" and "1.89") are
   joined into one line, left to right, with a space between.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

__all__ = ["Piece", "Row", "order", "direction"]

Point = tuple[float, float]

#: a gutter between columns is at least this many line heights wide
GUTTER = 0.8
#: a column of prose has rows of at least this many characters (median), and at least 2 rows
PROSE_CHARS = 10


@dataclass(frozen=True)
class Piece:
    """What the recogniser read in one detected box."""

    text: str  # the box's text (words separated by single spaces)
    box: tuple[Point, ...]  # 4 corners in image pixels, clockwise from the text's own top-left
    score: float  # recogniser confidence, 0..1


@dataclass(frozen=True)
class Row:
    """One line in reading order: the pieces of one row, joined."""

    text: str  # the pieces' texts joined by single spaces, left to right
    box: tuple[Point, ...]  # 4 corners around all the pieces, clockwise from the text's top-left
    score: float  # the pieces' confidence, weighted by their number of characters
    pieces: tuple[Piece, ...]  # the pieces, left to right


@dataclass
class _Item:
    """A piece seen in its group's frame: x along the writing, y down across it."""

    piece: Piece
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def h(self) -> float:
        return self.y1 - self.y0


def direction(box: Sequence[Point]) -> float:
    """The writing direction of a box, in degrees clockwise from left-to-right (image y points down)."""
    (x0, y0), (x1, y1) = box[0], box[1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0)) % 360


def order(pieces: Sequence[Piece]) -> tuple[list[Row], float]:
    """The rows in reading order, and the direction of most of the writing (degrees)."""
    pieces = [p for p in pieces if p.text.strip()]
    if not pieces:
        return [], 0.0
    groups: dict[int, list[Piece]] = {}
    for piece in pieces:
        groups.setdefault(round(direction(piece.box) / 90) % 4, []).append(piece)
    ranked = sorted(groups.values(), key=lambda g: -sum(len(p.text) for p in g))
    rows: list[Row] = []
    angles = []
    for group in ranked:
        angle = _mean_direction(group)
        angles.append(angle)
        items = [_item(p, angle) for p in group]
        rows += [_row(r, angle) for r in _order(items)]
    return rows, round(angles[0], 1) % 360


def _mean_direction(group: Sequence[Piece]) -> float:
    """Mean writing direction, each piece weighted by its length."""
    sx = sy = 0.0
    for piece in group:
        (x0, y0), (x1, y1) = piece.box[0], piece.box[1]
        sx, sy = sx + (x1 - x0), sy + (y1 - y0)
    return math.degrees(math.atan2(sy, sx)) % 360 if sx or sy else 0.0


def _turn(point: Point, angle: float) -> Point:
    """``point`` in a frame turned by ``angle`` degrees, so that writing in that direction runs along +x."""
    a = math.radians(angle)
    x, y = point
    return x * math.cos(a) + y * math.sin(a), -x * math.sin(a) + y * math.cos(a)


def _item(piece: Piece, angle: float) -> _Item:
    xs, ys = zip(*(_turn(p, angle) for p in piece.box))
    return _Item(piece, min(xs), max(xs), min(ys), max(ys))


def _order(items: list[_Item]) -> list[list[_Item]]:
    """Recursive XY-cut: split at the widest empty gap, down or across, until each part is rows."""
    if len(items) < 2:
        return [items] if items else []
    height = statistics.median(i.h for i in items)
    across = _gaps([(i.y0, i.y1) for i in items], 0.0)
    down = [g for g in _gaps([(i.x0, i.x1) for i in items], GUTTER * height)
            if _prose([i for i in items if i.cx < g[1]]) and _prose([i for i in items if i.cx >= g[1]])]
    if down and (not across or down[0][0] > across[0][0]):
        cut = down[0][1]  # columns of prose: the left one first
        parts = [[i for i in items if i.cx < cut], [i for i in items if i.cx >= cut]]
    elif across:
        cut = across[0][1]  # bands, top first
        parts = [[i for i in items if i.cy < cut], [i for i in items if i.cy >= cut]]
    else:
        return _rows(items)
    return [row for part in parts for row in _order(part)]


def _gaps(spans: list[tuple[float, float]], min_width: float) -> list[tuple[float, float]]:
    """(width, middle) of each stretch no span covers, at least ``min_width`` wide; widest first."""
    spans = sorted(spans)
    gaps = []
    reach = spans[0][1]
    for start, stop in spans[1:]:
        if start - reach > min_width:
            gaps.append((start - reach, (start + reach) / 2))
        reach = max(reach, stop)
    return sorted(gaps, reverse=True)


def _prose(items: list[_Item]) -> bool:
    """At least 2 rows whose median length is that of prose (a receipt's prices are not)."""
    if len(items) < 2:
        return False
    rows = _rows(items)
    return len(rows) >= 2 and statistics.median(len(_text(r)) for r in rows) >= PROSE_CHARS


def _rows(items: list[_Item]) -> list[list[_Item]]:
    """Items on the same row joined (left to right), rows top to bottom."""
    rows: list[list[_Item]] = []
    for item in sorted(items, key=lambda i: i.cy):
        for row in rows:
            if _same_row(row, item):
                row.append(item)
                break
        else:
            rows.append([item])
    rows = [sorted(r, key=lambda i: i.x0) for r in rows]
    return sorted(rows, key=lambda r: statistics.mean(i.cy for i in r))


def _same_row(row: list[_Item], item: _Item) -> bool:
    """The item overlaps the row's pieces across the writing by at least half its height, and
    lies beside them, not on top of them."""
    y0, y1 = min(i.y0 for i in row), max(i.y1 for i in row)
    overlap = min(y1, item.y1) - max(y0, item.y0)
    if overlap < 0.5 * min(item.h, statistics.median(i.h for i in row)):
        return False
    return all(min(i.x1, item.x1) - max(i.x0, item.x0) < 0.5 * min(i.x1 - i.x0, item.x1 - item.x0) for i in row)


def _text(row: list[_Item]) -> str:
    return " ".join(i.piece.text.strip() for i in row)


def _row(row: list[_Item], angle: float) -> Row:
    pieces = tuple(i.piece for i in row)
    if len(pieces) == 1:
        return Row(pieces[0].text.strip(), pieces[0].box, pieces[0].score, pieces)
    x0, x1 = min(i.x0 for i in row), max(i.x1 for i in row)
    y0, y1 = min(i.y0 for i in row), max(i.y1 for i in row)
    corners = tuple(_turn(p, -angle) for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))
    chars = [max(1, len(p.text)) for p in pieces]
    score = sum(p.score * n for p, n in zip(pieces, chars)) / sum(chars)
    return Row(_text(row), corners, score, pieces)
