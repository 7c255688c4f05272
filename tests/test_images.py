"""core.images: every photo format a phone or browser sends, colour modes, EXIF, and refusals.

All inputs are made here, in memory, with PIL and pillow-heif.
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import ImageError
from core.images import Photo, load_photo

LIMITS = dict(max_bytes=20 * 1024 * 1024, max_pixels=50_000_000, max_side=1344)
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def two_halves(size=(80, 40), left=BLUE, right=RED, mode="RGB") -> Image.Image:
    """Left half one colour, right half another: shows where the picture's left side went."""
    img = Image.new(mode, size, right)
    img.paste(left, (0, 0, size[0] // 2, size[1]))
    return img


def close(pixel, expected, tolerance=40) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, expected, strict=True))


def refusal(data: bytes, **limits) -> ImageError:
    with pytest.raises(ImageError) as caught:
        load_photo(data, **{**LIMITS, **limits})
    error = caught.value
    assert error.hint.startswith("Please"), "every refusal says what to do next"
    return error


# --- formats -------------------------------------------------------------------------------------

FORMATS = [
    ("JPEG", "JPEG", {"quality": 95}),
    ("PNG", "PNG", {}),
    ("WEBP", "WEBP", {"quality": 95}),
    ("GIF", "GIF", {}),
    ("BMP", "BMP", {}),
    ("TIFF", "TIFF", {}),
    ("HEIF", "HEIF", {"quality": 95}),
    ("AVIF", "AVIF", {"quality": 95}),
]


@pytest.mark.parametrize("save_as, reported, options", FORMATS, ids=[f[0] for f in FORMATS])
def test_each_format_decodes_to_upright_rgb(save_as, reported, options):
    data = encode(two_halves(), save_as, **options)
    photo = load_photo(data, **LIMITS)
    assert isinstance(photo, Photo)
    assert photo.format == reported
    assert photo.image.mode == "RGB"
    assert photo.image.size == photo.original_size == (80, 40)
    assert close(photo.image.getpixel((10, 20)), BLUE)
    assert close(photo.image.getpixel((70, 20)), RED)
    assert photo.key == hashlib.sha256(data).hexdigest()


def test_multi_picture_jpeg_from_a_phone_is_reported_as_jpeg():
    first, second = two_halves((200, 100)), Image.new("RGB", (100, 50), (0, 255, 0))
    data = encode(first, "MPO", save_all=True, append_images=[second], quality=95)
    assert Image.open(io.BytesIO(data)).format == "MPO"
    photo = load_photo(data, **LIMITS)
    assert photo.format == "JPEG" and photo.image.size == (200, 100)
    assert close(photo.image.getpixel((20, 50)), BLUE)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (40, 40), RED), Image.new("RGB", (40, 40), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    photo = load_photo(data, **LIMITS)
    assert close(photo.image.getpixel((20, 20)), RED)


def test_animated_webp_gives_its_first_frame():
    frames = [Image.new("RGB", (40, 40), BLUE), Image.new("RGB", (40, 40), RED)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    photo = load_photo(data, **LIMITS)
    assert photo.format == "WEBP"
    assert close(photo.image.getpixel((20, 20)), BLUE)


# --- EXIF orientation ----------------------------------------------------------------------------

# orientation -> where the stored picture's left (blue) half ends up once upright
ORIENTATIONS = {
    1: "left",
    3: "right",  # rotated 180
    6: "top",  # the camera was turned: the viewer rotates 90 degrees clockwise
    8: "bottom",  # rotated 90 degrees counter-clockwise
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(two_halves((80, 40)), "JPEG", quality=95, exif=exif.tobytes())
    photo = load_photo(data, **LIMITS)
    w, h = photo.image.size
    assert photo.original_size == (w, h)
    assert (w, h) == ((40, 80) if orientation in (6, 8) else (80, 40))
    sides = {"left": (5, h // 2), "right": (w - 5, h // 2), "top": (w // 2, 5), "bottom": (w // 2, h - 5)}
    blue_side = ORIENTATIONS[orientation]
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[blue_side]
    assert close(photo.image.getpixel(sides[blue_side]), BLUE)
    assert close(photo.image.getpixel(sides[opposite]), RED)


def test_exif_orientation_with_downscaling_reports_rotated_original_size():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(two_halves((2000, 1000)), "JPEG", quality=90, exif=exif.tobytes())
    photo = load_photo(data, **{**LIMITS, "max_side": 500})
    assert photo.original_size == (1000, 2000)
    assert photo.image.size == (250, 500)
    assert close(photo.image.getpixel((125, 20)), BLUE)
    assert close(photo.image.getpixel((125, 480)), RED)


def test_heic_with_orientation_comes_out_upright():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(two_halves((80, 40)), "HEIF", quality=95, exif=exif.tobytes())
    photo = load_photo(data, **LIMITS)
    assert photo.format == "HEIF"
    assert photo.image.size == photo.original_size == (40, 80)
    assert close(photo.image.getpixel((20, 5)), BLUE)
    assert close(photo.image.getpixel((20, 75)), RED)


def test_broken_exif_is_treated_as_upright():
    data = encode(two_halves(), "JPEG", quality=95, exif=b"Exif\x00\x00garbage-not-tiff")
    photo = load_photo(data, **LIMITS)
    assert photo.image.size == (80, 40)
    assert close(photo.image.getpixel((10, 20)), BLUE)


# --- colour modes --------------------------------------------------------------------------------


def test_transparent_png_is_flattened_onto_white():
    img = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (0, 0, 20, 40))
    photo = load_photo(encode(img, "PNG"), **LIMITS)
    assert photo.image.getpixel((30, 20)) == WHITE
    assert photo.image.getpixel((10, 20)) == RED


def test_half_transparent_pixels_are_blended_with_white():
    photo = load_photo(encode(Image.new("RGBA", (20, 20), (0, 0, 0, 128)), "PNG"), **LIMITS)
    assert close(photo.image.getpixel((5, 5)), (127, 127, 127), tolerance=2)


@pytest.mark.parametrize("mode, colour, key", [("RGB", BLUE, RED), ("L", (0, 0, 0), 128)])
def test_png_transparent_colour_is_flattened_onto_white(mode, colour, key):
    img = Image.new(mode, (40, 40), key)
    img.paste(colour if mode == "RGB" else 0, (0, 0, 20, 40))
    photo = load_photo(encode(img, "PNG", transparency=key), **LIMITS)
    assert photo.image.getpixel((10, 20)) == (colour if mode == "RGB" else (0, 0, 0))
    assert photo.image.getpixel((30, 20)) == WHITE


def test_grey_with_alpha_is_flattened_onto_white():
    img = Image.new("LA", (40, 40), (0, 0))
    img.paste((0, 255), (0, 0, 20, 40))
    photo = load_photo(encode(img, "PNG"), **LIMITS)
    assert photo.image.getpixel((10, 20)) == (0, 0, 0)
    assert photo.image.getpixel((30, 20)) == WHITE


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparent_index_is_flattened_onto_white(fmt):
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 black, index 1 blue
    img.paste(1, (0, 0, 20, 40))
    data = encode(img, fmt, transparency=0)
    photo = load_photo(data, **LIMITS)
    assert photo.image.getpixel((10, 20)) == BLUE
    assert photo.image.getpixel((30, 20)) == WHITE  # transparent black becomes white, not black


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_is_converted_to_the_right_colours(fmt):
    img = Image.new("CMYK", (40, 40), (255, 0, 0, 0))  # cyan
    img.paste((0, 255, 255, 0), (0, 0, 20, 40))  # red
    photo = load_photo(encode(img, fmt), **LIMITS)
    assert close(photo.image.getpixel((10, 20)), RED)
    assert close(photo.image.getpixel((30, 20)), (0, 255, 255))


def test_sixteen_bit_grey_png_keeps_its_grey_levels():
    levels = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))  # dark -> light, left -> right
    img = Image.fromarray(levels)
    assert img.mode == "I;16"
    photo = load_photo(encode(img, "PNG"), **LIMITS)
    row = np.asarray(photo.image)[16, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253  # the full range, not all white
    assert abs(row[32] - round(levels[0, 32] / 257)) <= 2
    assert np.all(np.diff(row) >= 0)


def test_32_bit_grey_tiff_is_scaled_not_clipped():
    levels = np.tile(np.linspace(0, 60000, 64).astype(np.int32), (32, 1))
    img = Image.fromarray(levels)
    assert img.mode == "I"
    photo = load_photo(encode(img, "TIFF"), **LIMITS)
    row = np.asarray(photo.image)[16, :, 0].astype(int)
    assert row[0] <= 2 and 230 <= row[-1] <= 236  # 60000 / 257
    assert len(set(row.tolist())) > 50


def test_one_bit_picture_is_black_and_white():
    img = Image.new("1", (40, 40), 0)
    img.paste(1, (0, 0, 20, 40))
    photo = load_photo(encode(img, "PNG"), **LIMITS)
    assert photo.image.getpixel((10, 20)) == WHITE
    assert photo.image.getpixel((30, 20)) == (0, 0, 0)


# --- size ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_large_photo_is_downscaled_to_max_side(fmt):
    data = encode(two_halves((3000, 2000)), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    photo = load_photo(data, **LIMITS)
    assert photo.original_size == (3000, 2000)
    assert photo.image.size == (1344, 896)
    assert close(photo.image.getpixel((100, 448)), BLUE)
    assert close(photo.image.getpixel((1244, 448)), RED)


def test_small_photo_is_not_enlarged():
    photo = load_photo(encode(two_halves((300, 200)), "PNG"), **LIMITS)
    assert photo.image.size == (300, 200)


def test_jpeg_reencodes_the_photo():
    photo = load_photo(encode(two_halves((200, 100)), "PNG"), **LIMITS)
    again = Image.open(io.BytesIO(photo.jpeg(90)))
    assert again.format == "JPEG" and again.size == (200, 100)
    assert close(again.getpixel((20, 50)), BLUE)
    assert len(photo.jpeg(30)) < len(photo.jpeg(95))
    with pytest.raises(ValueError):
        photo.jpeg(0)


def test_photos_from_the_same_bytes_are_equal_and_hashable():
    data = encode(two_halves(), "PNG")
    a, b = load_photo(data, **LIMITS), load_photo(data, **LIMITS)
    assert a == b and hash(a) == hash(b)
    assert a != load_photo(encode(two_halves(left=RED, right=BLUE), "PNG"), **LIMITS)


# --- refusals ------------------------------------------------------------------------------------


def test_empty_bytes_are_refused():
    assert "empty" in refusal(b"").message


def test_upload_over_max_bytes_is_refused():
    data = encode(two_halves(), "PNG")
    error = refusal(data, max_bytes=len(data) - 1)
    assert "too big" in error.message


def test_truncated_jpeg_is_refused():
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
    data = encode(noisy, "JPEG", quality=90)
    error = refusal(data[: len(data) // 2])
    assert "damaged" in error.message or "part of it" in error.message


def test_truncated_png_is_refused():
    rng = np.random.default_rng(1)
    data = encode(Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)), "PNG")
    refusal(data[: len(data) * 2 // 3])


def test_truncation_is_not_allowed_globally():
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    "data, named",
    [
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF document"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10"/>', "SVG drawing"),
        (b"<svg width='10' height='10'></svg>", "SVG drawing"),
        (b"<!DOCTYPE html><html><body>hello</body></html>", "web page"),
        (b"What colour is the car?\nThis is just text someone renamed to .jpg.\n", "text file"),
        (b"PK\x03\x04" + bytes(100), "archive"),
        (b"\x00\x00\x00\x20ftypisom" + bytes(100), "video"),
    ],
    ids=["pdf", "svg-xml", "svg", "html", "text", "zip", "mp4"],
)
def test_files_that_are_not_photos_are_named(data, named):
    error = refusal(data)
    assert named in error.message
    assert "not a photo" in error.message


def test_unknown_binary_is_refused():
    error = refusal(bytes(range(256)) * 4)
    assert "not a picture" in error.message


def test_eps_is_not_opened_even_though_pil_could():
    # PIL's EPS plugin runs Ghostscript with temporary files; SeeSay must never reach it.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n"
    assert "PostScript" in refusal(eps).message


def test_pixel_count_over_the_limit_is_refused_before_decoding():
    data = encode(Image.new("1", (10000, 8000)), "PNG")  # 80 megapixels, a few kilobytes
    assert len(data) < 1_000_000
    error = refusal(data)
    assert "too large" in error.message and "10000 by 8000" in error.message


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size and holds one empty compressed block: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    empty = zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", empty) + chunk(b"IEND", b"")


def test_bomb_beyond_pils_own_limit_is_refused_and_pils_limit_is_untouched():
    before = Image.MAX_IMAGE_PIXELS
    error = refusal(_png_header_only(50_000, 50_000), max_pixels=200_000_000)
    assert "too large" in error.message
    assert Image.MAX_IMAGE_PIXELS == before


def test_bomb_within_a_higher_limit_is_checked_with_our_limit():
    # 60 MP is over our default 50 MP but under PIL's own warning threshold (89 MP)
    error = refusal(_png_header_only(10_000, 6_000))
    assert "60 megapixels" in error.message


@pytest.mark.parametrize("size", [(8, 8), (15, 400), (400, 15)])
def test_too_small_to_see_anything_is_refused(size):
    assert "too small" in refusal(encode(Image.new("RGB", size, RED), "PNG")).message


def test_long_thin_strip_is_refused():
    assert "strip" in refusal(encode(Image.new("RGB", (4000, 100), RED), "PNG")).message


def test_import_does_not_load_pillow_heif():
    code = "import sys, core.images; assert 'pillow_heif' not in sys.modules and 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# --- arbitrary bytes -----------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(data: bytes) -> None:
    try:
        photo = load_photo(data, max_bytes=1_000_000, max_pixels=4_000_000, max_side=256)
    except ImageError as error:
        assert error.message
        return
    assert photo.image.mode == "RGB" and max(photo.image.size) <= 256


@pytest.mark.filterwarnings("ignore::UserWarning")  # PIL warns about the broken files it reads
@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_a_photo_or_an_image_error(data):
    _outcome(data)


_SEEDS = [
    encode(two_halves((48, 32)), "PNG"),
    encode(two_halves((48, 32)), "JPEG", quality=80),
    encode(two_halves((48, 32)), "GIF"),
    encode(two_halves((48, 32)), "WEBP"),
    encode(two_halves((48, 32)), "TIFF"),
    encode(two_halves((48, 32)), "BMP"),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@FUZZ
@given(st.sampled_from(_SEEDS), st.data())
def test_damaged_photos_give_a_photo_or_an_image_error(seed, data):
    cut = data.draw(st.integers(0, len(seed)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)), max_size=8))
    damaged = bytearray(seed)
    for index, value in flips:
        damaged[index] = value
    _outcome(bytes(damaged[:cut]))
