"""Uploaded photo bytes -> an upright RGB :class:`Photo` that the vision-language model can use.

Everything happens in memory: the bytes are never written to disk. The steps, in order:

1. refuse empty or oversized uploads, and files that are not pictures (a PDF, an SVG, a text file
   renamed ``.jpg``), naming what the file is when its first bytes say so;
2. open the header only and refuse decompression bombs and unusable sizes *before* decoding
   (PIL allocates the whole picture on ``load()``);
3. decode fully (``load()``), so a truncated upload fails here and not later inside the model;
4. flatten every colour mode to RGB (transparency onto white, CMYK, palettes, 16-bit, 1-bit);
5. downscale so the longer side is at most ``max_side``, then apply the EXIF orientation
   (rotating the small picture is cheaper, and the longer side does not change).

Only photo formats are opened (see :data:`FORMATS`): PIL's other plugins (EPS through Ghostscript,
for one) would run programs or write temporary files.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .errors import ImageError
from .i18n import N_

__all__ = ["Photo", "load_photo", "FORMATS", "MIN_SIDE", "MAX_ASPECT"]

log = logging.getLogger(__name__)

#: PIL format names SeeSay opens. MPO is what PIL calls a JPEG holding several pictures (many phone
#: cameras write those); it is reported as "JPEG".
FORMATS = ("JPEG", "MPO", "PNG", "HEIF", "AVIF", "WEBP", "GIF", "BMP", "TIFF")
#: a picture with a side shorter than this holds nothing a model could describe
MIN_SIDE = 16
#: longer side / shorter side; beyond this the picture is a strip, and downscaling leaves nothing
MAX_ASPECT = 20.0

# EXIF orientation tag value -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112

_AGAIN = N_("Please take the photo again, or choose another picture.")
_CHOOSE = N_("Please choose a photo, or take one with the camera.")
#: what SeeSay says of a file that is not a photo, by what _describe_file finds it is
_NOT_A_PHOTO = {
    "a sound recording": N_("This file is a sound recording, not a photo."),
    "a video": N_("This file is a video, not a photo."),
    "an SVG drawing": N_("This file is an SVG drawing, not a photo."),
    "a web page": N_("This file is a web page, not a photo."),
    "an XML document": N_("This file is an XML document, not a photo."),
    "a text file": N_("This file is a text file, not a photo."),
    "a PDF document": N_("This file is a PDF document, not a photo."),
    "a compressed archive or office document": N_("This file is a compressed archive or office document, "
                                                  "not a photo."),
    "an old Microsoft Office document": N_("This file is an old Microsoft Office document, not a photo."),
    "a text document": N_("This file is a text document, not a photo."),
    "a video or sound recording": N_("This file is a video or sound recording, not a photo."),
    "a PostScript document": N_("This file is a PostScript document, not a photo."),
    "an icon": N_("This file is an icon, not a photo."),
    "a program": N_("This file is a program, not a photo."),
}

_heif_lock = threading.Lock()
_heif_registered = False


@dataclass(frozen=True)
class Photo:
    """A photo ready for the model. Two photos are equal when they come from the same bytes."""

    image: Image.Image = field(compare=False)  # RGB, upright (EXIF applied), downscaled to max_side
    original_size: tuple[int, int]  # (width, height) after EXIF rotation, before downscaling
    format: str  # "JPEG", "PNG", "HEIF", "WEBP", "GIF", ...
    key: str  # sha256 hex of the uploaded bytes: identifies the photo (prefix cache, history)

    def jpeg(self, quality: int = 85) -> bytes:
        """The picture re-encoded as JPEG (for display, or for engines that want bytes)."""
        if not 1 <= quality <= 100:
            raise ValueError(f"JPEG quality must be from 1 to 100, not {quality}")
        buf = io.BytesIO()
        self.image.save(buf, "JPEG", quality=quality)
        return buf.getvalue()


def load_photo(data: bytes, *, max_bytes: int, max_pixels: int, max_side: int) -> Photo:
    """Decode an uploaded photo. Raises :class:`ImageError` with a message meant to be spoken."""
    if not data:
        raise ImageError(N_("The photo is empty: no picture arrived."), _AGAIN)
    if len(data) > max_bytes:
        raise ImageError(
            N_("The photo is too big: {size} megabytes. SeeSay accepts up to {limit} megabytes."),
            N_("Please choose a smaller photo, or take a new one with the camera."),
            size=_megabytes(len(data)), limit=_megabytes(max_bytes),
        )
    _register_heif()
    key = hashlib.sha256(data).hexdigest()
    try:
        img = Image.open(io.BytesIO(data), formats=_allowed_formats())
    except Image.DecompressionBombError:
        raise _too_many_pixels(None, max_pixels) from None
    except Image.DecompressionBombWarning:  # only when warnings are turned into errors (-W error)
        raise _too_many_pixels(None, max_pixels) from None
    except Exception as exc:  # UnidentifiedImageError, or a plugin choking on a malformed header
        log.info("photo not identified (%s)", type(exc).__name__)
        raise _not_a_photo(data) from None

    try:
        fmt = "JPEG" if img.format == "MPO" else (img.format or "unknown")
        width, height = img.size
        target = _fit(width, height, max_side)
        reduced = fmt == "JPEG" and target != (width, height)
        if reduced:
            # JPEG decodes at 1/2, 1/4 or 1/8 scale in the DCT itself (a proper low-pass): PIL picks
            # the smallest scale still at least the target, and LANCZOS does the rest. A 12 MP
            # photo then takes a third of the time of a full decode and resize.
            img.draft(None, target)
        # The pixel limit is about what gets decoded. A baseline JPEG decodes at the reduced scale
        # only (a 108 MP phone photo as 1.7 MP), so it passes up to PIL's own limit (179 MP); a
        # progressive one holds the whole picture's coefficients while decoding, so its full size counts.
        decoded = img.size if reduced and not img.info.get("progressive") else (width, height)
        _check_size(width, height, max_pixels, decoded)
        try:
            img.load()  # a full decode: truncated or corrupt data fails here, not in the model
            orientation = _orientation(img)  # after load(): a PNG may keep its EXIF after the pixels
            rgb = _to_rgb(img)
        except Image.DecompressionBombError:
            raise _too_many_pixels((width, height), max_pixels) from None
        except Exception as exc:
            log.info("photo could not be decoded (%s: %s)", fmt, type(exc).__name__)
            raise ImageError(
                N_("The photo could not be read. The file may be damaged, or only part of it arrived."),
                _AGAIN,
            ) from None

        if rgb.size != target:
            # reducing_gap: shrink by whole factors first when far above the target (PIL's advice:
            # 2.0 looks the same as LANCZOS alone, and is faster)
            rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
        if orientation in _ORIENTATION:
            rgb = rgb.transpose(_ORIENTATION[orientation])
        if rgb is img:
            rgb = img.copy()  # a plain picture, free of the file object and its metadata
    finally:
        img.close()
    original_size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    log.debug("photo %s %dx%d -> %dx%d", fmt, *original_size, *rgb.size)
    return Photo(image=rgb, original_size=original_size, format=fmt, key=key)


# --- steps ---------------------------------------------------------------------------------------


def _register_heif() -> None:
    """Teach PIL to open HEIC/HEIF (iPhone photos). Done on first use so `import core` stays fast."""
    global _heif_registered
    if _heif_registered:
        return
    with _heif_lock:
        if _heif_registered:
            return
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:
            log.warning("pillow-heif is not installed: HEIC photos cannot be opened")
        _heif_registered = True


def _allowed_formats() -> list[str]:
    Image.init()  # loads every PIL plugin once, so the names below are known
    return [name for name in FORMATS if name in Image.OPEN]


def _check_size(width: int, height: int, max_pixels: int, decoded: tuple[int, int]) -> None:
    if decoded[0] * decoded[1] > max_pixels:
        raise _too_many_pixels((width, height), max_pixels)
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            N_("The picture is too small to see anything in: {width} by {height} pixels."),
            N_("Please take a photo with the camera, or choose a bigger picture."),
            width=str(width), height=str(height),
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise ImageError(
            N_("The picture is a long thin strip, {width} by {height} pixels, not a photo SeeSay can describe."),
            N_("Please take a photo with the camera, or choose another picture."),
            width=str(width), height=str(height),
        )


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> ImageError:
    hint = N_("Please choose a smaller photo, or take a new one with the camera.")
    if size is None:  # beyond PIL's own limit, whatever the format
        return ImageError(N_("The picture is far too large to open."), hint)
    megapixels = size[0] * size[1] / 1e6
    return ImageError(N_("The picture is too large: {width} by {height} pixels, {megapixels} megapixels. "
                         "SeeSay accepts up to {limit} megapixels."), hint, width=str(size[0]),
                      height=str(size[1]), megapixels=round(megapixels), limit=max_pixels / 1e6)


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 = upright). Broken EXIF is common and is treated as upright."""
    try:
        value = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
        return int(value) if value in _ORIENTATION else 1
    except Exception:
        return 1


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size with the longer side at most ``max_side``, keeping the shape."""
    longer = max(width, height)
    if longer <= max_side:
        return width, height
    scale = max_side / longer
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB. Transparent parts become white, as on a printed page."""
    mode = img.mode
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(page, rgba).convert("RGB")
    if mode == "RGB":
        return img
    if mode.startswith("I;16") or mode == "I":
        return Image.fromarray(_to_uint8(np.asarray(img), sixteen_bit=mode != "I")).convert("RGB")
    if mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(img), sixteen_bit=False)).convert("RGB")
    # CMYK (PIL inverts Adobe CMYK JPEGs itself), P, L, 1, YCbCr, RGBX, ...
    return img.convert("RGB")


def _to_uint8(values: np.ndarray, *, sixteen_bit: bool) -> np.ndarray:
    """Scale 16-bit, 32-bit or float grey levels to 0..255 (PIL's own convert clips them to white)."""
    values = values.astype(np.float64)
    if sixteen_bit or (values.min(initial=0) >= 0 and values.max(initial=0) <= 65535 and values.max() > 255):
        scaled = values / 257.0  # 65535 -> 255: the full 16-bit range
    elif values.min() >= 0 and values.max() <= 1.0:
        scaled = values * 255.0  # float pictures in 0..1
    else:
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.nan_to_num(np.clip(np.rint(scaled), 0, 255)).astype(np.uint8)


# --- recognising files that are not photos -------------------------------------------------------

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a compressed archive or office document"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"{\\rtf", "a text document"),
    (b"ID3", "a sound recording"),
    (b"OggS", "a sound recording"),
    (b"fLaC", "a sound recording"),
    (b"\x1aE\xdf\xa3", "a video or sound recording"),
    (b"%!PS", "a PostScript document"),
    (b"\x00\x00\x01\x00", "an icon"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)


# ISO media brands of still pictures (HEIF, AVIF); any other "ftyp" file is a video or a sound
_PICTURE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")


def _not_a_photo(data: bytes) -> ImageError:
    what = _describe_file(data)
    if what:
        return ImageError(_NOT_A_PHOTO[what], _CHOOSE)
    if _looks_like_jpeg_or_png(data):
        return ImageError(
            N_("The photo could not be read. The file may be damaged, or only part of it arrived."), _AGAIN
        )
    return ImageError(N_("This file is not a picture SeeSay can read."), _CHOOSE)


def _looks_like_jpeg_or_png(data: bytes) -> bool:
    return data.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM"))


def _describe_file(data: bytes) -> str:
    """Name a common non-photo file from its first bytes, or return ''."""
    head = data[:512]
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a sound recording"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "a sound recording"
        if brand not in _PICTURE_BRANDS:
            return "a video"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "an SVG drawing"
    if text.startswith((b"<!doctype html", b"<html")):
        return "a web page"
    if text.startswith(b"<?xml"):
        return "an XML document"
    if _is_text(head):
        return "a text file"
    return ""


def _is_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        # the 512-byte cut may split a character; try once without the last few bytes
        try:
            decoded = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    return printable >= 0.95 * len(decoded)


def _megabytes(n: int) -> float:
    """Megabytes, to a tenth (said as each language writes numbers: "31.5", "31,5", "20")."""
    return round(n / (1024 * 1024), 1)
