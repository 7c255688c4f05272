"""The recogniser's per-column output -> the characters of one line, with the spaces between words.

PP-OCRv4's recogniser is a CTC model: for a line scaled to 48 pixels high it gives, for every
column of 8 pixels, a probability for each character of its alphabet, for the space (its last
entry) and for "nothing here" (the CTC blank, entry 0). Reading the most likely entry of each
column (greedy decoding, as rapidocr does) drops most spaces between English words: the space is
rarely the *most* likely entry, because the model was trained mostly on Chinese, which has none.
On a slightly blurred render "Take 1 or 2 tablets" comes out as "Take1or2tablets".

The columns between two words still carry the evidence. Measured on 9,900 character pairs of
rendered labels (5 fonts, 14 to 32 px, blur 0 to 1.6 px), the space's probability summed over the
columns between two letters of one word was at most 0.0011 in 99% of pairs (at most 0.29, once,
between "." and "4" of "12.49" in a monospaced font), and between two words at least 0.025 in every
pair (median 0.81). So a space goes between two characters when the columns between them give the
space at least :data:`SPACE_THRESHOLD` in all (there: 5 false spaces in 7,590 pairs, no space
missed; a blurred 18-pixel "Ibuprofen 200" gave 0.015). Before closing punctuation
(". , : ; ! ? ) %") and after a decimal point or a time's colon between digits, only when the space
is the most likely entry in a column. CTC merges a letter repeated across a word gap ("Yours
sincerely") into one run: a column inside the run that gives the space the threshold parts it.
Nothing is split by a dictionary or by guessing: every space comes from the recogniser's output.

Inside a number, a letter shaped like a digit ("2oo mg") is read as that digit when the recogniser
gave the digit some probability there (see :func:`_numbers`): doses, prices and dates must be
heard as numbers.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Glyph", "Decoded", "decode", "gap_evidence", "rarely_spaced", "SPACE_THRESHOLD", "LOOKALIKES"]

#: a space goes between two characters when the columns between them give it at least this probability in all
SPACE_THRESHOLD = 0.012
#: between digits, "." and ":" are part of one number or time (12.49, 4:30)
_NUMBER_JOINERS = ".:"
#: letters the recogniser confuses with digits, and the digit each stands for inside a number
LOOKALIKES = {"o": "0", "O": "0", "l": "1", "I": "1", "|": "1"}
#: the least probability of the digit, in the letter's columns, for the letter to be read as the digit
DIGIT_EVIDENCE = 0.001
#: punctuation that follows a word without a space
_CLOSING = ".,:;!?)]}%"


@dataclass(frozen=True)
class Glyph:
    """One character of a line, where the recogniser saw it."""

    char: str  # the character, NFKC-normalised (a full-width comma is a comma)
    start: int  # first column (of the recogniser's output) where it is the most likely entry
    end: int  # last such column of the same run
    score: float  # its highest probability over those columns


@dataclass(frozen=True)
class Decoded:
    """One line as decoded."""

    text: str  # characters and single spaces, stripped
    score: float  # mean probability of the characters (0.0 when there are none)
    glyphs: tuple[Glyph, ...]  # the characters in order (spaces excluded)
    spaces: tuple[int, ...]  # indexes into glyphs: a space goes before each of these glyphs


def decode(probs: np.ndarray, alphabet: Sequence[str], *, blank: int = 0, space: int | None = None,
           columns: int | None = None, threshold: float = SPACE_THRESHOLD) -> Decoded:
    """Greedy CTC decoding of one line's ``probs`` (columns x alphabet, each row summing to 1).

    ``alphabet[i]`` is the text of entry ``i``; ``blank`` is the CTC blank and ``space`` the
    space's entry (default: the last). Only the first ``columns`` columns are read (the rest are
    padding added to batch lines of different lengths).
    """
    probs = np.asarray(probs, dtype=np.float32)
    if columns is not None:
        probs = probs[: max(0, columns)]
    space = len(alphabet) - 1 if space is None else space
    if probs.size == 0:
        return Decoded("", 0.0, (), ())
    best = probs.argmax(axis=1)
    glyphs: list[Glyph] = []
    spaces: list[int] = []
    spoken_space = False  # the model's own space (its most likely entry) since the last character
    t = 0
    n = len(best)
    while t < n:
        entry = int(best[t])
        end = t
        while end + 1 < n and best[end + 1] == entry:
            end += 1
        if entry == space:
            spoken_space = True
        elif entry != blank:
            if glyphs and (spoken_space or _space_between(probs, glyphs, t, space, threshold, alphabet[entry])):
                spaces.append(len(glyphs))
            split = _split_run(probs, t, end, space, threshold)
            if split is None:
                _append(glyphs, alphabet[entry], t, end, probs, entry)
            else:  # "Yours sincerely": CTC merged the two s's into one run, with a space inside it
                _append(glyphs, alphabet[entry], t, split - 1, probs, entry)
                spaces.append(len(glyphs))
                _append(glyphs, alphabet[entry], split + 1, end, probs, entry)
            spoken_space = False
        t = end + 1
    glyphs = _numbers(glyphs, spaces, probs, alphabet)
    return Decoded(_join(glyphs, spaces), float(np.mean([g.score for g in glyphs])) if glyphs else 0.0,
                   tuple(glyphs), tuple(spaces))


def _append(glyphs: list[Glyph], text: str, start: int, end: int, probs: np.ndarray, entry: int) -> None:
    for char in unicodedata.normalize("NFKC", text):
        if not char.isspace():
            glyphs.append(Glyph(char, start, end, float(probs[start:end + 1, entry].max())))


def _split_run(probs: np.ndarray, start: int, end: int, space: int, threshold: float) -> int | None:
    """The column inside a run of one character where the space is likely enough to part it in two
    (CTC merges repeats: a doubled letter across a word gap is one run), or None."""
    if end - start < 2:
        return None
    inside = probs[start + 1:end, space]
    column = int(inside.argmax())
    return start + 1 + column if inside[column] >= threshold else None


def _space_between(probs: np.ndarray, glyphs: list[Glyph], start: int, space: int, threshold: float,
                   following: str) -> bool:
    """Whether the columns between the last glyph and the one starting at ``start`` hold a space."""
    if start <= glyphs[-1].end + 1:
        return False
    evidence = gap_evidence(probs, glyphs[-1], start, space)
    if rarely_spaced(glyphs, following):
        # the space must be the most likely entry there, not just possible
        return bool((probs[glyphs[-1].end + 1:start].argmax(axis=1) == space).any())
    return evidence >= threshold


def gap_evidence(probs: np.ndarray, left: Glyph, start: int, space: int) -> float:
    """The space's probability summed over the columns between ``left`` and a character starting at
    column ``start``: what SPACE_THRESHOLD is compared with (bench.ocr checks it on held-out text)."""
    return float(probs[left.end + 1:start, space].sum())


def rarely_spaced(glyphs: list[Glyph], following: str) -> bool:
    """True before closing punctuation, and inside "12.49" or "4:30" (a joiner between digits)."""
    previous = glyphs[-1].char
    before = glyphs[-2].char if len(glyphs) > 1 else ""
    following = unicodedata.normalize("NFKC", following)[:1]
    return following in _CLOSING or (previous in _NUMBER_JOINERS and before.isdigit() and following.isdigit())


def _numbers(glyphs: list[Glyph], spaces: list[int], probs: np.ndarray, alphabet: Sequence[str]) -> list[Glyph]:
    """In a number, letters shaped like digits are the digits: "2oo" -> "200", "03/2O27" -> "03/2027".

    Only in a word made of digits, such letters and joiners (". , : / -") with at least one real
    digit, and only where the recogniser gave the digit some probability (at least
    :data:`DIGIT_EVIDENCE`) in that letter's columns: a slightly blurred "200 mg" reads "2oo mg"
    with the zeros' probability 0.008 to 0.3.
    """
    out = list(glyphs)
    bounds = [0, *spaces, len(glyphs)]
    for start, stop in zip(bounds, bounds[1:]):
        word = out[start:stop]
        if not any(g.char.isdigit() for g in word) or not any(g.char in LOOKALIKES for g in word):
            continue
        if not all(g.char.isdigit() or g.char in LOOKALIKES or g.char in ".,:/-" for g in word):
            continue
        for i in range(start, stop):
            glyph = out[i]
            digit = LOOKALIKES.get(glyph.char)
            if digit is None or digit not in alphabet:
                continue
            evidence = float(probs[glyph.start:glyph.end + 1, list(alphabet).index(digit)].max())
            if evidence >= DIGIT_EVIDENCE:
                out[i] = Glyph(digit, glyph.start, glyph.end, glyph.score)
    return out


def _join(glyphs: list[Glyph], spaces: list[int]) -> str:
    before = set(spaces)
    return "".join((" " if i in before else "") + g.char for i, g in enumerate(glyphs)).strip()
