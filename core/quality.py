"""Photo quality, before any model runs: is this photo answerable as taken, and if not, what to do.

Blind people's photos are often not answerable as taken: in VizWiz (39,181 photos taken by blind
people, Chiu et al. 2020) 14.8% are too flawed to recognise and more than half have some flaw, mostly
blur and framing. :func:`check_quality` finds the flaws a few plain measures can find, and says first
what to do about them ("The photo is blurry. Hold the phone still for a moment, then take it again.").
Numpy and Pillow only; about 16 ms for a 12-megapixel photo and 8 ms for the 1344-pixel Photo SeeSay
keeps of it, on a shared 2-core EPYC (``python -m bench.quality``, docs/bench/quality.md).

**The working copy.** Every measure but the size is taken on a grey copy (ITU-R 601 luma, PIL's "L")
whose longer side is WORK_SIDE = 512 pixels: ``Image.reduce`` first averages whole blocks (fast, and a
proper low-pass), then a box resize gives the exact size. So a 1344-pixel and a 4000-pixel photo of
one scene get the same verdict (a test holds it), and blur is judged at about the scale the
vision-language model sees. A photo smaller than that is measured at its own size.

**The measures** (by their names in :attr:`Quality.measures`) **and thresholds.** The figures are
from the labelled set in :mod:`core.testmodels.photos`: real photographs from scikit-image's and
matplotlib's wheels, untouched (as shipped, and crops) and degraded by known amounts, split by source
photograph into a tuning part (8 photographs: 29 untouched, 174 degraded) and a held-out part (7: 19
and 151). Every threshold was set from the tuning part alone, between its untouched photos' range and
its degraded ones', with margin on the side of leaving good photos alone (the ranges below are the
tuning part's; tests/test_quality.py holds each threshold between them); the figures that count are
measured on the held-out part (``python -m bench.quality``):

``megapixels`` (small: < 0.05)
    The photo's size before SeeSay downscaled it (``original_size``), in millions of pixels. The
    smallest untouched photograph is 0.073 (a book page, 384 x 191); a 200-pixel thumbnail is at
    most 0.040. 0.05 (about 258 x 194) is a third under the one and a quarter over the other.
``brightest`` (dark: < 0.45)
    The grey level (0 black, 1 white) under which 99% of the picture lies: how bright its bright
    parts are. Untouched photos: 0.53 and up (the lowest is a crop of the moon's surface, a
    grey photograph with no white in it); photos 3 stops under: 0.38 at most. 0.45 is midway.
``clipped`` (bright: >= 0.15)
    The share of the picture at 254 of 255 or more: blown out to white (saturated; a white page in
    good light sits just under it, at 240-250, and is not a flaw: its writing reads). Untouched photos: 0.01 at
    most. Overexposed ones: from 0.01 to 0.92, because a photo with little white in it (the coffee
    cup, and in the held-out part the rocket at dusk and Grace Hopper) clips little even 2 stops over.
    0.15 is fourteen times the untouched maximum, because good photos clip too: a white sky, a white
    page (see the benchmark's photos a stop over).
``white_edge`` (a page, never bright: <= 0.7)
    A screenshot, a scan or a rendered page (a PDF, a till receipt) is pure white by design: its white
    is paper, not glare, and all ten of SeeSay's own screenshots used to be told to "move out of direct
    light". Glare is uneven light: a blown-out patch with the light falling off around it. So the
    median grey level of the pixels just outside the white parts (see :func:`_white_edge`) tells them
    apart: next to a page's writing it is dark, around glare it is the glow just under white. A
    picture at or under 0.7 gets no "bright" finding. Tuning pages (Pillow-drawn documents, scans and
    app screens): 0.69 at most; tuning photos blown out by exposure or a glare spot: 0.72 and up, but
    for the two overexposed photographs of a book page (0.62, 0.65: pages, their print still sharp),
    which are missed. A picture that is mostly white with dark, sharp things on it is taken for a page.
``darkest`` (bright, washed out: > 0.42)
    The grey level under which 1% of the picture lies: glare (a window or lamp behind the thing,
    a smeared lens) lifts the dark parts. Untouched photos: 0.32 at most (the moon and the brick
    wall, low-contrast photographs); glare veils: 0.47 and up. Judged only on photos with detail
    (a blank wall has no dark part either, and is featureless), and not on pages (``white_edge``).
``detail`` (featureless: < 5)
    The root mean square of the Laplacian (each pixel against its four neighbours) of a coarse
    copy of about 64 x 48 pixels, in grey levels of 255. A smooth glow, a lighting gradient and
    sensor noise average out at that scale; edges and shapes do not. Untouched photos: 14.8 and up
    (the moon); a finger over the lens, a blank wall or a flat patch blown up: 3.0 at most. 5 is
    three times under the one and half again over the other. Blur so strong that nothing is left
    reads as featureless (1 of the 8 tuning photographs blurred with sigma 7 px).
``blur`` (blurred: > 0.5)
    The blur effect of Crete-Roffet et al. (2007), 0 sharp .. 1 blurred: re-blurring a sharp photo
    changes its pixel-to-pixel steps a lot, re-blurring a blurred one changes them little (see
    :func:`_blur`). Untouched photos: 0.43 at most (the brick wall); the softest photographs after
    JPEG quality 50 reach 0.50, so 0.5. The mildest blurs (sigma 1.5 px, a 7-pixel shake) straddle
    it; stronger blur is flagged every time. Judged only on photos with
    detail (``blur`` is 0 otherwise): a photo without edges has no blur to measure, and a finger
    over the lens would read as blurred.

**The order of** :data:`KINDS`, most important first, is the order of what to fix first:

1. ``small``: a thumbnail cannot be fixed by holding still, and every other measure is taken on
   too few pixels to trust.
2. ``dark``: light fixes the noise and the long-exposure blur that come with the dark. A black
   photo is also featureless; "turn on a light" comes first because blind people often take photos
   with the lights off, and the second finding ("It also shows almost nothing.") covers a finger
   or a lens cap. A plain dark colour is dark, then featureless.
3. ``bright``: the same for glare and blown-out white.
4. ``featureless``: nothing to see, so nothing to focus on: point the camera at the thing.
5. ``blurred``: the most common flaw, but it means something only once the photo is lit and has
   something in it.

:attr:`Quality.guidance` says the first finding's guidance, then a short word on the second ("It is
also dark."): two at most, so it stays short when spoken. Offering to answer anyway is the app's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from .i18n import N_, translator

__all__ = ["KINDS", "Finding", "Quality", "check_quality", "THRESHOLDS", "WORK_SIDE"]

#: the kinds of finding, most important first (see the module's docstring for why this order)
KINDS = ("small", "dark", "bright", "featureless", "blurred")

#: the longer side, in pixels, of the grey copy every measure but "megapixels" is taken on
WORK_SIDE = 512
#: the longer side of the sample a page is recognised on (see _page)
PAGE_SIDE = 1024
#: the coarse copy "detail" is taken on has about this many pixels (64 x 48)
COARSE_PIXELS = 64 * 48

SMALL_MEGAPIXELS = 0.05  # small: fewer megapixels than this (about 260 x 195)
DARK_BRIGHTEST = 0.45  # dark: the brightest 1% of the picture is darker than this (0 black .. 1 white)
BRIGHT_CLIPPED = 0.15  # bright: at least this share of the picture is blown out to white
BRIGHT_DARKEST = 0.42  # bright (washed out): the darkest 1% of the picture is lighter than this
FEATURELESS_DETAIL = 5.0  # featureless: less detail than this (grey levels, see _detail)
BLURRED_BLUR = 0.5  # blurred: a blur measure above this (0 sharp .. 1 blurred, see _blur)
PAGE_EDGE = 0.7  # a page, never "bright": the grey level just outside its white is at most this (see _white_edge)

#: every threshold by the name of the measure it applies to, for the README and the CLI
THRESHOLDS = {
    "megapixels": SMALL_MEGAPIXELS,
    "brightest": DARK_BRIGHTEST,
    "clipped": BRIGHT_CLIPPED,
    "darkest": BRIGHT_DARKEST,
    "detail": FEATURELESS_DETAIL,
    "blur": BLURRED_BLUR,
    "white_edge": PAGE_EDGE,
}

_CLIPPED_LEVEL = 254  # grey levels (of 255) counted as blown out to white
_WHITE = 240  # a page's white (grey level of 255): well above its writing, well below noise and JPEG around 255
_EDGE = 1.5 / 255  # blur: a smoothed step smaller than this is noise, not an edge
_SPAN = 4  # blur: the re-blur averages 2 * _SPAN + 1 pixels along each direction
_TILES = 4  # blur: measured on a 4 x 4 grid of tiles ...
_TILE_QUANTILE = 25  # ... and this percentile of the tiles taken (the sharper part of the picture)
_MIN_EDGES = 0.02  # a tile counts when at least this share of it is edges

_SAY = {
    "small": N_("The photo is very small, so there is little to see. Take a new photo with the camera, "
                "or choose the full-size photo instead of a thumbnail."),
    "dark": N_("The photo is too dark. Turn on a light or move somewhere brighter, then take it again."),
    "clipped": N_("The photo is too bright: parts of it are white. Move out of direct light, then take it again."),
    "washed": N_("The photo looks washed out, as if light is shining into the camera. "
                 "Turn away from the window or lamp, then take it again."),
    "featureless": N_("The photo shows almost nothing, perhaps a plain surface or a finger over the camera. "
                      "Keep your fingers clear of the lens, point the camera at the thing, then take it again."),
    "blurred": N_("The photo is blurry. Hold the phone still for a moment, then take it again."),
}
#: what a second finding adds, after the first one's guidance
_ALSO = {
    "small": N_("It is also very small."),
    "dark": N_("It is also dark."),
    "bright": N_("It is also too bright."),
    "featureless": N_("It also shows almost nothing."),
    "blurred": N_("It is also blurry."),
}


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a photo."""

    kind: str  # one of KINDS
    measure: float  # the measure that crossed its threshold: see the module's docstring for each kind
    guidance: str  # short, to be spoken: what is wrong, then what to do (in the Quality's language)
    english: str = field(default="", compare=False)  # the guidance as written in the code (its catalogue key)


@dataclass(frozen=True)
class Quality:
    """What :func:`check_quality` found."""

    findings: tuple[Finding, ...]  # most important first (KINDS order); empty when the photo is fine
    measures: dict[str, float] = field(compare=False)  # every measure computed, by name (see THRESHOLDS)
    seconds: float = field(compare=False)  # how long the check took
    language: str = field(default="en", compare=False)  # the language of the guidance (core.i18n)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong with the photo."""
        return not self.findings

    @property
    def guidance(self) -> str:
        """What SeeSay says: the first finding's guidance, and a short word on a second one; "" when fine."""
        if not self.findings:
            return ""
        said = [self.findings[0].guidance]
        if len(self.findings) > 1:
            said.append(translator(self.language)(_ALSO[self.findings[1].kind]))
        return " ".join(said)

    def said_in(self, language: str) -> Quality:
        """The same verdict with its guidance in ``language`` (the person changed their language)."""
        _ = translator(language)
        findings = tuple(replace(f, guidance=_(f.english)) if f.english else f for f in self.findings)
        return replace(self, findings=findings, language=_.language)


def check_quality(image: Image.Image, original_size: tuple[int, int] | None = None, language: str = "en") -> Quality:
    """Check a photo before it goes to the model. ``original_size`` is its size before downscaling
    (``Photo.original_size``); without it, the image's own size. Any size of picture: a 12-megapixel
    one is reduced first, so the check takes a few tens of milliseconds at most. The guidance is said in
    ``language`` (:func:`core.i18n.words_language`)."""
    started = time.perf_counter()
    width, height = original_size or image.size
    grey = _working_copy(image)
    pixels = np.asarray(grey, dtype=np.float32) * np.float32(1 / 255)
    histogram = np.asarray(grey.histogram(), dtype=np.float64)
    measures = {
        "megapixels": width * height / 1e6,
        "brightest": _level(histogram, 0.99),
        "darkest": _level(histogram, 0.01),
        "clipped": float(histogram[_CLIPPED_LEVEL:].sum() / histogram.sum()),
        "detail": _detail(pixels),
    }
    measures["white_edge"] = _white_edge(image)
    has_detail = measures["detail"] >= FEATURELESS_DETAIL
    # blur is judged on edges: a photo without any has no blur to measure
    measures["blur"] = _blur(pixels) if has_detail else 0.0

    findings = []
    if measures["megapixels"] < SMALL_MEGAPIXELS:
        findings.append(Finding("small", measures["megapixels"], _SAY["small"]))
    if measures["brightest"] < DARK_BRIGHTEST:
        findings.append(Finding("dark", measures["brightest"], _SAY["dark"]))
    if measures["white_edge"] <= PAGE_EDGE:
        pass  # white by design (a document, a scan, a screenshot): its white is paper, not glare
    elif measures["clipped"] >= BRIGHT_CLIPPED:
        findings.append(Finding("bright", measures["clipped"], _SAY["clipped"]))
    elif has_detail and measures["darkest"] > BRIGHT_DARKEST:
        # washed out: the picture has something in it, but nothing in it is dark any more
        findings.append(Finding("bright", measures["darkest"], _SAY["washed"]))
    if not has_detail:
        findings.append(Finding("featureless", measures["detail"], _SAY["featureless"]))
    if measures["blur"] > BLURRED_BLUR:
        findings.append(Finding("blurred", measures["blur"], _SAY["blurred"]))
    _ = translator(language)
    findings = [replace(f, guidance=_(f.guidance), english=f.guidance) for f in findings]
    return Quality(tuple(findings), measures, time.perf_counter() - started, _.language)


# --- measures ------------------------------------------------------------------------------------


def _working_copy(image: Image.Image) -> Image.Image:
    """A grey copy whose longer side is WORK_SIDE (or the photo's own, when smaller): every measure but
    the size is taken on it, so a 1344-pixel and a 4000-pixel photo of one scene get the same verdict.
    ``reduce`` averages whole blocks of pixels (fast, and a proper low-pass) before the exact resize."""
    if image.mode in ("P", "1") or image.mode.startswith("I;16"):
        image = image.convert("L")  # modes ``reduce`` does not take
    factor = max(image.size) // WORK_SIDE
    if factor >= 2:
        image = image.reduce(factor)
    grey = image.convert("L")
    if max(grey.size) > WORK_SIDE:
        scale = WORK_SIDE / max(grey.size)
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BOX)
    return grey


def _level(histogram: np.ndarray, share: float) -> float:
    """The grey level (0..1) below which ``share`` of the picture lies."""
    cumulative = np.cumsum(histogram)
    return float(np.searchsorted(cumulative, share * cumulative[-1])) / 255


def _white_edge(image: Image.Image) -> float:
    """How sharply the white parts of the picture end: the median grey level (0..1) of the pixels just
    outside them (white: 240 of 255 or more). On a page, a scan or a screenshot the white is paper or
    background and ends at writing and lines, so the pixels next to it are dark (0.2 to 0.7). Glare and
    overexposure fade: around a blown-out patch the light falls off through the greys just under white
    (0.8 to 0.95). 1.0 when nothing, or everything, is white.

    Taken on a nearest-neighbour sample of at most PAGE_SIDE pixels, not on the averaged working copy:
    averaging greys and widens the thin strokes of small print (an A4 page at 1344 pixels has 2-pixel
    strokes), a sample keeps them as dark and as sharp as they are."""
    if max(image.size) > PAGE_SIDE:
        scale = PAGE_SIDE / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.NEAREST)
    if image.mode in ("P", "1") or image.mode.startswith("I;16"):
        image = image.convert("L")
    pixels = np.asarray(image.convert("L"))
    white = pixels >= _WHITE
    grown = white.copy()
    grown[1:] |= white[:-1]
    grown[:-1] |= white[1:]
    grown[:, 1:] |= white[:, :-1]
    grown[:, :-1] |= white[:, 1:]
    outside = pixels[grown & ~white]
    return float(np.median(outside)) / 255 if outside.size else 1.0


def _detail(pixels: np.ndarray) -> float:
    """How much there is to see: the root mean square of the Laplacian (each pixel against its four
    neighbours) of a coarse copy with about COARSE_PIXELS pixels, in grey levels of 255. A smooth glow,
    a lighting gradient or sensor noise average out at that scale; edges and shapes do not."""
    h, w = pixels.shape
    scale = min(1.0, (COARSE_PIXELS / (w * h)) ** 0.5)
    size = (max(3, round(w * scale)), max(3, round(h * scale)))
    c = np.asarray(Image.fromarray(pixels, "F").resize(size, Image.Resampling.BOX))
    laplacian = 4 * c[1:-1, 1:-1] - c[:-2, 1:-1] - c[2:, 1:-1] - c[1:-1, :-2] - c[1:-1, 2:]
    return float(np.sqrt(np.mean(np.square(laplacian)))) * 255


def _blur(pixels: np.ndarray) -> float:
    """The blur effect of Crete-Roffet et al. (2007), along four directions, on the edges only.

    Re-blurring a sharp picture changes its pixel-to-pixel steps a lot; re-blurring a blurred one
    changes them little. Along each direction (across, down and both diagonals) the picture is
    averaged over 2 * _SPAN + 1 pixels, and the blur is the share of the step sizes that survive
    that average: 0 for a sharp picture, near 1 for a blurred one. Only steps where the averaged
    picture itself still steps by _EDGE or more count (sensor noise and JPEG speckle would otherwise
    read as sharpness). It is taken per tile, and a low percentile of the tiles kept: a sharp subject
    before a soft background is sharp. Camera shake blurs one direction most, so the direction
    with most blur gives the measure.
    """
    h, w = pixels.shape
    if min(h, w) < 4 * _TILES:
        return 0.0
    pad = _SPAN + 1
    padded = np.pad(pixels, pad, mode="edge")

    def shifted(array, dy, dx, margin):
        return array[margin + dy:margin + dy + h, margin + dx:margin + dx + w]

    th, tw = h // _TILES, w // _TILES
    worst = 0.0
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        smooth = shifted(padded, 0, 0, pad).copy()
        for k in range(1, _SPAN + 1):
            smooth += shifted(padded, k * dy, k * dx, pad)
            smooth += shifted(padded, -k * dy, -k * dx, pad)
        smooth *= np.float32(1 / (2 * _SPAN + 1))
        step = np.abs(pixels - shifted(padded, dy, dx, pad))
        smooth_padded = np.pad(smooth, 1, mode="edge")
        smooth_step = np.abs(smooth - shifted(smooth_padded, dy, dx, 1))
        edges = smooth_step > _EDGE
        kept = np.where(edges, np.maximum(step - smooth_step, 0), 0)  # what the re-blur removed
        total = np.where(edges, step, 0)

        def per_tile(a):
            return a[:th * _TILES, :tw * _TILES].reshape(_TILES, th, _TILES, tw).sum(axis=(1, 3)).ravel()

        counted = per_tile(edges.astype(np.float32)) >= _MIN_EDGES * th * tw
        if not counted.any():
            continue
        removed, steps = per_tile(kept)[counted], per_tile(total)[counted]
        blur = 1 - removed / np.maximum(steps, 1e-9)
        worst = max(worst, float(np.percentile(blur, _TILE_QUANTILE)))
    return worst
