"""Clips for the live camera (:mod:`core.aiming`, ``ui/live_camera.py``), made offline from real photographs.

A clip is a list of :class:`Shot`: a picture held for some seconds, or a few pictures in turn (a hand
that is not still). :func:`write_y4m` writes one as the raw video Chromium's fake camera plays
(``--use-file-for-fake-video-capture``), with ffmpeg.

* :func:`label_scene`: a printed medicine label (:data:`LABEL`, in a font of :mod:`core.testmodels.labels`)
  lying on a real photograph (scikit-image's coffee cup on its table), the whole label in view; :func:`cut_right`: the
  same with the label's lines running off the right edge. :func:`aiming_clip` is the browser test's
  clip: dark, then blurred, then cut off on the right, then good.
* :func:`recorded_set`: for each real photograph of :mod:`core.testmodels.photos`, a person aiming at it:
  too dark, then the phone moving (the picture shifting, smeared by the movement), then settling
  (focus blur fading and a small tremor), then still, nearly sharp, then sharp. The benchmark (``bench/live_camera.py``) lets
  the live camera take each photo by itself and checks it with :func:`core.quality.check_quality`.

Every degradation is of a known amount; every random number is seeded.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Shot", "LABEL", "label_scene", "cut_right", "dark", "blurred", "aiming_clip", "recorded_set", "write_y4m",
           "FPS", "SIZE"]

#: frames a second of the clips (Chromium's fake camera plays the file at its own rate): the scenes are
#: held still, so a few frames a second show every change, and the files stay small (54 MB for 15 s)
FPS = 5
#: width and height of the test clip's frames: larger than the live camera's working copy (512) and its
#: text-check frames (640), so a photo at the camera's full resolution is told apart from both
SIZE = (800, 600)
SEED = 18


@dataclass(frozen=True)
class Shot:
    """Part of a clip: ``frames`` shown in turn, each for one frame, for ``seconds`` in all."""

    name: str  # what it shows ("dark", "good", ...)
    frames: tuple  # PIL RGB images, all of the clip's size
    seconds: float


def _background(size: tuple[int, int]) -> "Image.Image":
    """scikit-image's photograph of a coffee cup on a table, cropped to ``size``'s shape and resized to it."""
    from PIL import Image

    from .photos import real_photographs

    photo = real_photographs()["coffee"]
    w, h = photo.size
    aspect = size[0] / size[1]
    crop = (w, round(w / aspect)) if w / h < aspect else (round(h * aspect), h)
    left, top = (w - crop[0]) // 2, (h - crop[1]) // 2
    return photo.crop((left, top, left + crop[0], top + crop[1])).resize(size, Image.Resampling.LANCZOS)


#: what the label says, one printed line each: a medicine box's front
LABEL = ("IBUPROFEN 200 mg", "Take 1 or 2 tablets", "every 4 to 6 hours", "EXP 03/2027")


def _label(width: int) -> "Image.Image":
    """A card printed with LABEL, ``width`` pixels wide, its text large enough to read in a 640-pixel photo
    (lines about 0.065 of the card wide high: 29 pixels when the card is 0.7 of the picture's width)."""
    from PIL import Image, ImageDraw, ImageFont

    from .labels import FONTS, INK, PAPER

    size = round(width / 15)
    regular, bold = (ImageFont.truetype(path, size) for path in FONTS["DejaVu Sans"])
    step, margin = round(size * 1.5), round(size * 0.8)
    card = Image.new("RGB", (width, 2 * margin + step * len(LABEL)), PAPER)
    draw = ImageDraw.Draw(card)
    for i, line in enumerate(LABEL):
        draw.text((margin, margin + i * step), line, fill=INK, font=bold if i == 0 else regular)
    return card


def label_scene(size: tuple[int, int] = SIZE, shift: float = 0.0) -> "Image.Image":
    """The label, 0.7 of the picture wide, lying on the table; ``shift`` moves it right by that share of the
    picture's width (past the edge from about 0.15 on)."""
    scene = _background(size)
    label = _label(round(0.7 * size[0]))
    x = round((size[0] - label.width) / 2 + shift * size[0])
    scene.paste(label, (x, (size[1] - label.height) // 2))
    return scene


def cut_right(size: tuple[int, int] = SIZE) -> "Image.Image":
    """The label's lines running off the right edge (a third of the label out of the picture)."""
    return label_scene(size, shift=0.38)


def dark(image: "Image.Image", stops: float = 4.0, seed: int = SEED) -> "Image.Image":
    """``image`` ``stops`` stops under, in linear light, with the read noise a dim room leaves."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    srgb = np.asarray(image, dtype=np.float32) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4) * 2.0 ** -stops
    linear = np.clip(linear + rng.normal(0, 0.0015, linear.shape), 0, 1)
    out = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return Image.fromarray(np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8))


def blurred(image: "Image.Image", sigma: float) -> "Image.Image":
    """Focus blur: gaussian, ``sigma`` pixels."""
    from PIL import ImageFilter

    return image.filter(ImageFilter.GaussianBlur(sigma))


def _moved(image: "Image.Image", dx: float, dy: float) -> "Image.Image":
    """``image`` shifted by (dx, dy) pixels (the edges repeated), as a hand moves the phone."""
    from PIL import Image

    return image.transform(image.size, Image.Transform.AFFINE, (1, 0, -dx, 0, 1, -dy), Image.Resampling.BILINEAR)


def _smeared(image: "Image.Image", dx: float, dy: float, steps: int = 6) -> "Image.Image":
    """The picture while the phone moves (dx, dy) pixels during the exposure: the mean of the positions."""
    from PIL import Image

    frames = [np.asarray(_moved(image, dx * i / (steps - 1), dy * i / (steps - 1)), dtype=np.float32)
              for i in range(steps)]
    return Image.fromarray(np.clip(np.mean(frames, axis=0) + 0.5, 0, 255).astype(np.uint8))


def aiming_clip(size: tuple[int, int] = SIZE, seconds: float = 3.0) -> list[Shot]:
    """The browser test's clip: too dark, then blurred, then the text cut off on the right, then good (held)."""
    good = label_scene(size)
    return [Shot("dark", (dark(good),), seconds), Shot("blurred", (blurred(good, 3.0),), seconds),
            Shot("cut off on the right", (cut_right(size),), seconds), Shot("good", (good,), 2 * seconds)]


def recorded_set(seconds: float = 1.5) -> list[tuple[str, list[Shot]]]:
    """(photograph, clip) for each real photograph of :mod:`core.testmodels.photos`: a person aiming the live camera.

    Too dark (the light not on yet, 4 stops under); the phone moving (the picture drifting about 2% of its
    width a frame, smeared by the movement); settling (focus blur of 2, then 1.2 pixels, while a tremor
    moves it by up to a pixel); nearly sharp and still (focus blur of 0.8 pixels: the camera's focus
    not quite there, a picture the live camera may take); then sharp and still. Frames are the photograph's
    own size (191 to 740 pixels), cropped to even sides for the video's colour subsampling.
    """
    from .photos import COLOUR, GREY, real_photographs

    rng = np.random.default_rng(SEED)
    out = []
    for name in (*COLOUR, *GREY):
        photo = real_photographs()[name]
        photo = photo.crop((0, 0, photo.width // 2 * 2, photo.height // 2 * 2))
        step = 0.02 * photo.width
        moving = tuple(_smeared(_moved(photo, step * (i - 2), 0.5 * step * (i % 3 - 1)), step, 0.3 * step)
                       for i in range(5))
        settling = tuple(_moved(blurred(photo, sigma), *rng.uniform(-1, 1, 2))
                         for sigma in (2.0, 2.0, 1.2, 1.2))
        out.append((name, [Shot("dark", (dark(photo),), seconds), Shot("moving", moving, seconds),
                           Shot("settling", settling, seconds), Shot("nearly sharp", (blurred(photo, 0.8),), seconds),
                           Shot("sharp", (photo,), 2 * seconds)]))
    return out


def write_y4m(shots: list[Shot], path: Path, fps: int = FPS) -> Path:
    """Write ``shots`` as a y4m video (yuv420p, ``fps`` frames a second) for Chromium's fake camera."""
    from PIL import Image

    path = Path(path)
    with tempfile.TemporaryDirectory() as folder:
        n = 0
        for shot in shots:
            for i in range(max(1, round(shot.seconds * fps))):
                frame: Image.Image = shot.frames[i % len(shot.frames)]
                frame.convert("RGB").save(Path(folder) / f"{n:05d}.png")
                n += 1
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-framerate", str(fps), "-i",
                        str(Path(folder) / "%05d.png"), "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path
