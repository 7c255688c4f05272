"""A labelled set of photos for the photo-quality check (:mod:`core.quality`), built offline in seconds.

The photos are real photographs that ship inside Python wheels, never drawings:

* scikit-image's ``skimage/data``: colour photographs (the astronaut, chelsea the cat, coffee, the
  rocket at dusk, the two motorcycle stereo views) and grey ones (the cameraman, coins, the moon's
  surface, a book page, handwritten maths on paper, a brick wall, grass and gravel);
* matplotlib's ``mpl-data/sample_data/grace_hopper.jpg``.

Left out: drawings and synthetic pictures (logo, horse, colour wheel, phantom, chessboards,
matplotlib's present), microscopy and astronomy (cells, retina, Hubble: not what people point a
phone at), the 25-pixel LFW faces, and the clock (``clock_motion.png``): a real photograph blurred by
camera movement, kept apart as :func:`real_blurred` because its blur is of no known amount.

**Two parts**, split by source photograph (:data:`TUNING`, :data:`HELD_OUT`; ``LabelledPhoto.part``):
the quality check's thresholds were set from the tuning part; its figures are measured on the held-out
part, photographs the thresholds never saw in any form.

**Untouched** (kind None): each photograph as shipped, and three crops of the ones of at least
0.2 megapixels (the centre 70%, the left and the right 60%): still untouched pixels, in more framings.

**Degraded**: each photograph degraded by known amounts, labelled with the kind of finding
(:data:`core.quality.KINDS`) that should come first. Amounts in pixels are at the photograph's own
size, 300 to 740 pixels on the longer side (near the check's working size, 512), so 1 pixel here is
about 8 on a 12-megapixel phone photo. The mildest amount of each is mild but real:

blurred
    Focus blur: gaussian, sigma 1.5 (mild: visibly soft; about 12 px on a 12-megapixel photo), 2.5, 4
    and 7 px. Camera shake: a straight streak 7 (mild: a small tremor, about 55 px on a phone photo), 12 and
    21 px long, in one of four directions (0, 45, 90 and 135 degrees, turned per photograph).
dark
    Exposure lowered in linear light by 3 (mild: an eighth of the light, a room lit from the next
    one), 4 and 5.5 stops, with read noise before the tone curve (the curve lifts it in the
    shadows, as a phone's gain does); and a photo taken in a pocket (black, noise only). 2.5 stops
    was tried and left out: a photograph whose bright parts are white is, 2.5 stops under, as bright
    as the untouched rocket at dusk, so no measure of brightness can call one dark and not the other.
bright
    Exposure raised by 2 (mild: faces and paper turn white) and 3 stops, clipped as a sensor clips;
    a veil of glare, 50% (mild) and 65% of the picture replaced by near-white (a window or lamp
    behind the thing, a smeared lens); and a glare spot, a lamp reflected in the scene: a round patch
    blown out to white with a glow falling off around it (about a third of the picture clips). The rocket is a dusk photo: 2 and 3 stops over, it is about
    as bright as a daytime photo, and the check misses it (it counts against the check).
featureless
    A finger over the lens: a smooth skin-coloured glow, darker at the edges, lighter where light
    leaks in at one side, brought to a mid tone by the phone's automatic exposure (one skin tone per
    photograph). A blank wall: the photograph's mean colour, lightened, lit unevenly, with sensor
    noise. And the flattest patch of the photograph (a sixteenth of its width and height, with a
    standard deviation under ``FLAT_STD``, mid-grey to light) blown up to the photograph's size:
    10 of the 15 photographs have one. A darker patch is left out: it is dark too, which comes first.
small
    Thumbnails whose longer side is 200 (mild), 128 and 64 px.

Every degraded photo then gets the noise a phone leaves in a well-lit photo (gaussian, 1.5 grey
levels) and a JPEG round trip at quality 90. Everything is seeded: the set is the same on every run.
:func:`processed_set` holds the photographs after ordinary processing (JPEG quality 50, an exposure
a stop off, more noise), which should mostly pass; the benchmark reports them, the targets do not.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["LabelledPhoto", "real_photographs", "real_blurred", "labelled_set", "processed_set", "DEGRADATIONS",
           "PROCESSING", "TUNING", "HELD_OUT", "PARTS"]

SEED = 0
COLOUR = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right", "grace_hopper")
GREY = ("camera", "coins", "moon", "page", "text", "brick", "grass", "gravel")
#: The split, by source photograph: every copy of a photograph (untouched, cropped, degraded) is on its
#: photograph's side, so nothing of a held-out photograph was seen when the thresholds were set. Each
#: side has colour and grey photographs, people, a close-up object, a photographed page, a low-contrast
#: texture and a dim scene; the two motorcycle views (a stereo pair: one scene) are on one side.
TUNING = ("astronaut", "coffee", "motorcycle_left", "motorcycle_right", "camera", "moon", "page", "brick")
HELD_OUT = ("chelsea", "rocket", "grace_hopper", "coins", "text", "grass", "gravel")
PARTS = ("tuning", "held out")

GAUSSIAN_SIGMAS = (1.5, 2.5, 4.0, 7.0)  # px: focus blur
MOTION_LENGTHS = (7, 12, 21)  # px: camera shake
MOTION_ANGLES = (0, 45, 90, 135)  # degrees: turned per photograph
DARK_STOPS = (-3.0, -4.0, -5.5)  # exposure change, in stops (factors of 2 in linear light)
BRIGHT_STOPS = (2.0, 3.0)
VEILS = (0.5, 0.65)  # share of the picture replaced by glare
GLARE_SPOT = (3.0, 0.15)  # a lamp's reflection: peak (times white, in linear light), spread (share of the diagonal)
THUMBNAIL_SIDES = (200, 128, 64)  # px: the longer side
CROP_MIN_PIXELS = 200_000  # untouched crops are made of photographs at least this big
FLAT_STD = 6.0  # a crop is flat when the standard deviation of its luma is under this (levels of 255)
SKIN = ((200, 120, 100), (160, 90, 70), (120, 70, 55), (225, 160, 140), (185, 105, 80))
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L"
_POOL = 2_000_000  # numbers in the pool of noise (a 741 x 500 colour photo takes 1.1 million)
SENSOR_NOISE = 1.5  # levels of 255: what a phone leaves in a well-lit photo
JPEG_QUALITY = 90

#: every degradation's name, for the tables: (kind, short name)
DEGRADATIONS = (
    *[("blurred", f"focus blur sigma {s:g} px") for s in GAUSSIAN_SIGMAS],
    *[("blurred", f"camera shake {n} px") for n in MOTION_LENGTHS],
    *[("dark", f"exposure {s:+g} stops") for s in DARK_STOPS],
    ("dark", "in a pocket"),
    *[("bright", f"exposure {s:+g} stops") for s in BRIGHT_STOPS],
    *[("bright", f"glare veil {v:.0%}") for v in VEILS],
    ("bright", "glare spot"),
    ("featureless", "finger over the lens"),
    ("featureless", "blank wall"),
    ("featureless", "flat part blown up"),
    *[("small", f"thumbnail {n} px") for n in THUMBNAIL_SIDES],
)


#: ordinary processing that leaves a photo answerable (:func:`processed_set`)
PROCESSING = ("JPEG quality 50", "exposure -1 stop", "exposure +1 stop", "sensor noise 4 levels")


@dataclass(frozen=True)
class LabelledPhoto:
    """One photo of the labelled set."""

    source: str  # the real photograph it comes from ("astronaut", "grace_hopper", ...)
    kind: str | None  # the finding that should come first; None for an untouched photo
    degradation: str  # what was done to it, with its amount ("focus blur sigma 2.5 px"); "" if untouched
    image: Image.Image  # RGB
    original_size: tuple[int, int]  # (width, height) as the app would have read it

    @property
    def name(self) -> str:
        return f"{self.source}: {self.degradation or 'untouched'}"

    @property
    def part(self) -> str:
        """"tuning" (thresholds were set from it) or "held out" (figures are measured on it): by source."""
        return "tuning" if self.source in TUNING else "held out"


@functools.lru_cache(maxsize=1)
def real_photographs() -> dict[str, Image.Image]:
    """The real photographs, as RGB PIL images, by name (grey photographs as RGB)."""
    import matplotlib
    import skimage.data
    from PIL import Image

    photos = {}
    for name in COLOUR + GREY:
        if name == "grace_hopper":
            path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
            with Image.open(path) as img:
                photos[name] = img.convert("RGB")
        elif name.startswith("motorcycle_"):
            left, right, _ = skimage.data.stereo_motorcycle()
            photos[name] = Image.fromarray(left if name.endswith("left") else right).convert("RGB")
        else:
            photos[name] = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    return photos


def real_blurred() -> Image.Image:
    """``skimage.data.clock()``: a real photograph of a clock blurred by camera movement (RGB)."""
    import skimage.data
    from PIL import Image

    return Image.fromarray(skimage.data.clock()).convert("RGB")


@functools.lru_cache(maxsize=1)
def labelled_set() -> tuple[LabelledPhoto, ...]:
    """Untouched photos (kind None) and degraded ones (kind set), in a fixed order. Cached: do not change them."""
    rng = np.random.default_rng(SEED)
    out: list[LabelledPhoto] = []
    for index, (name, photo) in enumerate(real_photographs().items()):
        w, h = photo.size
        for label, crop in _crops(w, h):
            img = photo.crop(crop) if crop else photo
            out.append(LabelledPhoto(name, None, label, img, img.size))
        x = _linear(photo)
        for kind, what, pixels in _degradations(index, photo, x, rng):
            img = _finish(pixels, rng)
            out.append(LabelledPhoto(name, kind, what, img, img.size))
    return tuple(out)


def processed_set() -> tuple[LabelledPhoto, ...]:
    """Each photograph after ordinary processing that leaves it answerable (:data:`PROCESSING`): a
    messaging app's JPEG compression, an exposure a stop off, the noise of a dim room. Kind None.
    Not part of the labelled set's targets: the benchmark reports how often these are flagged."""
    from PIL import Image

    rng = np.random.default_rng(SEED + 2)
    out = []
    for name, photo in real_photographs().items():
        x = _linear(photo)
        for what in PROCESSING:
            if what.startswith("JPEG"):
                buf = io.BytesIO()
                photo.save(buf, "JPEG", quality=50)
                buf.seek(0)
                with Image.open(buf) as img:
                    out.append(LabelledPhoto(name, None, what, img.convert("RGB"), photo.size))
                continue
            if what.startswith("exposure"):
                pixels = _srgb(x * np.float32(2.0 if "+" in what else 0.5)) * np.float32(255)
            else:
                pixels = np.asarray(photo, dtype=np.float32) + _noise(rng, 4.0, x.shape)
            img = Image.fromarray(np.clip(pixels + np.float32(0.5), 0, 255).astype(np.uint8), "RGB")
            out.append(LabelledPhoto(name, None, what, img, photo.size))
    return tuple(out)


def _crops(w: int, h: int):
    yield "", None
    if w * h < CROP_MIN_PIXELS:
        return  # crops of a photograph shipped this small would be thumbnails
    yield "centre 70%", (round(w * 0.15), round(h * 0.15), round(w * 0.85), round(h * 0.85))
    yield "left 60%", (0, 0, round(w * 0.6), h)
    yield "right 60%", (round(w * 0.4), 0, w, h)


def _degradations(index, photo, x, rng):
    """(kind, description, pixels) for one photograph: ``x`` is its linear-light float copy."""
    from PIL import Image
    from scipy import ndimage, signal

    srgb = _srgb(x)
    for s in GAUSSIAN_SIGMAS:
        yield "blurred", f"focus blur sigma {s:g} px", ndimage.gaussian_filter(srgb, (s, s, 0), mode="nearest")
    angle = MOTION_ANGLES[index % len(MOTION_ANGLES)]
    for n in MOTION_LENGTHS:
        kernel = _streak(n, angle)
        padded = np.pad(srgb, ((n, n), (n, n), (0, 0)), mode="edge")
        blurred = np.stack([signal.fftconvolve(padded[..., c], kernel, mode="same") for c in range(3)], -1)
        yield "blurred", f"camera shake {n} px at {angle} degrees", blurred[n:-n, n:-n]
    for s in DARK_STOPS:
        # read noise, in linear light: the tone curve lifts it in the shadows
        dim = x * np.float32(2.0 ** s) + _noise(rng, 0.0015, x.shape)
        yield "dark", f"exposure {s:+g} stops", _srgb(dim)
    pocket = np.float32(0.01) + _noise(rng, 0.01, x.shape)
    yield "dark", "in a pocket", _srgb(pocket)
    for s in BRIGHT_STOPS:
        yield "bright", f"exposure {s:+g} stops", _srgb(x * np.float32(2.0 ** s))
    for v in VEILS:
        yield "bright", f"glare veil {v:.0%}", srgb * np.float32(1 - v) + np.float32(0.95 * v)
    yield "bright", "glare spot", _glare_spot(x, rng)
    yield "featureless", "finger over the lens", _finger(x.shape, SKIN[index % len(SKIN)], rng)
    yield "featureless", "blank wall", _wall(srgb, rng)
    flat = _flat_part(photo)
    if flat is not None:
        yield "featureless", "flat part blown up", flat
    w, h = photo.size
    for side in THUMBNAIL_SIDES:
        scale = side / max(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        thumbnail = photo.resize(size, Image.Resampling.LANCZOS)
        yield "small", f"thumbnail {side} px", np.asarray(thumbnail, dtype=np.float32) * np.float32(1 / 255)


def _streak(length: int, angle: float) -> np.ndarray:
    """A straight motion-blur kernel ``length`` px long at ``angle`` degrees (sums to 1)."""
    size = length + 2
    kernel = np.zeros((size, size))
    c = (size - 1) / 2
    t = np.linspace(-(length - 1) / 2, (length - 1) / 2, length * 4)
    xs, ys = c + t * np.cos(np.radians(angle)), c - t * np.sin(np.radians(angle))
    for px, py in zip(xs, ys):  # bilinear splat of each point along the streak
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        fx, fy = px - x0, py - y0
        kernel[y0, x0] += (1 - fx) * (1 - fy)
        kernel[y0, x0 + 1] += fx * (1 - fy)
        kernel[y0 + 1, x0] += (1 - fx) * fy
        kernel[y0 + 1, x0 + 1] += fx * fy
    return kernel / kernel.sum()


def _finger(shape, skin, rng) -> np.ndarray:
    """A finger over the lens: a smooth skin-coloured glow, darker at the edges, brighter where light
    leaks in at one side. The phone's automatic exposure brings it to a mid tone (a finger over the
    lens looks red-orange, not black) and its gain makes the noise stronger."""
    from PIL import Image

    h, w = shape[:2]
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = u / w - 0.5, v / h - 0.5
    side = rng.uniform(0, 2 * np.pi)
    leak = np.exp(-((u - 0.6 * np.cos(side)) ** 2 + (v - 0.6 * np.sin(side)) ** 2) / 0.08)
    # skin and blood vessels, far out of focus: random values on an 8 x 8 grid, smoothly enlarged
    mottle = np.asarray(Image.fromarray(rng.normal(0, 0.08, (8, 8)).astype(np.float32), "F")
                        .resize((w, h), Image.Resampling.BICUBIC))
    light = 1 - 0.4 * (4 * u * u + 4 * v * v) + 0.4 * leak + mottle
    pixels = light[..., None] * (np.array(skin, dtype=np.float32) / 255)
    pixels *= rng.uniform(0.38, 0.5) / float((pixels @ _LUMA).mean())
    return np.clip(pixels + _noise(rng, 3 / 255, pixels.shape), 0, 1)


def _glare_spot(x: np.ndarray, rng) -> np.ndarray:
    """A lamp or window reflected in the scene: light added in a round patch somewhere in the middle,
    strongest at its centre and falling off smoothly, so that the centre is blown out to white and
    a glow surrounds it (GLARE_SPOT: about a third of the picture clips)."""
    peak, spread = GLARE_SPOT
    h, w = x.shape[:2]
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = spread * float(np.hypot(h, w))
    light = np.float32(peak) * np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / np.float32(2 * sigma * sigma))
    return _srgb(x + light[..., None])


def _wall(srgb: np.ndarray, rng) -> np.ndarray:
    """A blank wall in the photograph's own mean colour (lightened), lit unevenly, with sensor noise."""
    h, w = srgb.shape[:2]
    colour = (0.5 * srgb.reshape(-1, 3).mean(0) + 0.5 * 0.8).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (u / w - 0.5) * np.float32(np.cos(angle)) + (v / h - 0.5) * np.float32(np.sin(angle))  # -0.7 .. 0.7
    light = 1 + np.float32(0.25) * ramp
    return np.clip(light[..., None] * colour + _noise(rng, 2.5 / 255, srgb.shape), 0, 1)


def _flat_part(photo):
    """The flattest mid-tone part of the photograph (a sixteenth of its width and height), blown up to its
    size; None when no part is that flat."""
    from PIL import Image

    grey = np.asarray(photo.convert("L"), dtype=np.float32)
    h, w = grey.shape
    ch, cw = max(h // 16, 12), max(w // 16, 12)
    best, where = None, None
    for y in range(0, h - ch + 1, ch // 2):
        for x in range(0, w - cw + 1, cw // 2):
            part = grey[y:y + ch, x:x + cw]
            if not 0.5 * 255 <= part.mean() <= 0.85 * 255:
                continue  # a flat part darker than mid-grey is dark too (which comes first); a white one bright
            s = float(part.std())
            if best is None or s < best:
                best, where = s, (x, y)
    if best is None or best >= FLAT_STD:
        return None
    x, y = where
    part = photo.crop((x, y, x + cw, y + ch)).resize(photo.size, Image.Resampling.BICUBIC)
    return np.asarray(part, dtype=np.float32) * np.float32(1 / 255)


def _linear(photo) -> np.ndarray:
    """sRGB PIL image -> linear-light float array (0..1)."""
    s = np.asarray(photo, dtype=np.float32) * np.float32(1 / 255)
    return np.where(s <= 0.04045, s / np.float32(12.92), ((s + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4))


def _srgb(x: np.ndarray) -> np.ndarray:
    """Linear-light float array -> sRGB float array (0..1), clipped like a sensor."""
    x = np.clip(x, 0, 1, dtype=np.float32)
    return np.where(x <= 0.0031308, x * np.float32(12.92), np.float32(1.055) * x ** np.float32(1 / 2.4) - np.float32(0.055))


def _noise(rng, levels: float, shape) -> np.ndarray:
    """Gaussian noise with a standard deviation of ``levels``, float32: a slice of one pool drawn once,
    taken at a random place (drawing fresh numbers for every photo took most of the build's time)."""
    n = int(np.prod(shape))
    pool = _noise_pool(max(n, _POOL))
    start = int(rng.integers(0, pool.size - n + 1))
    return pool[start:start + n].reshape(shape) * np.float32(levels)


@functools.lru_cache(maxsize=2)
def _noise_pool(size: int) -> np.ndarray:
    return np.random.default_rng(SEED + 1).standard_normal(size, dtype=np.float32)


def _finish(srgb: np.ndarray, rng):
    """Sensor noise and a JPEG round trip, as a phone's photo has. Returns an RGB PIL image."""
    from PIL import Image

    noisy = srgb * np.float32(255) + _noise(rng, SENSOR_NOISE, srgb.shape)
    pixels = np.clip(noisy + np.float32(0.5), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
    buf.seek(0)
    with Image.open(buf) as img:
        return img.convert("RGB")
