"""Test inputs made in memory: photos of every kind, recordings of every kind, spoken questions.

Nothing here is read from disk or downloaded. Photos come from PIL (and pillow-heif), recordings
from soundfile and PyAV's encoders, spoken questions from the offline voice (espeak-ng through
``core.tts``). Anything slow to make is cached: callers must not change what they get back.

Colour conventions: :func:`two_halves` is blue on the left and red on the right, so where the left
side went after decoding shows whether a picture was turned the right way.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

__all__ = [
    "BLUE",
    "PDF",
    "RED",
    "SVG",
    "TEXT",
    "WHITE",
    "animated_gif",
    "as_format",
    "chunk_offset",
    "close",
    "cmyk_jpeg",
    "encode",
    "exif_rotated",
    "heic",
    "huge_jpeg",
    "image_bytes",
    "noise",
    "palette_with_transparency",
    "png_declaring",
    "resample",
    "set_u32",
    "silence",
    "sixteen_bit_png",
    "spoken",
    "spoken_samples",
    "tone",
    "tone_mp3",
    "two_halves",
    "wav",
]

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def close(pixel, expected, tolerance: int = 40) -> bool:
    """Each channel of ``pixel`` within ``tolerance`` of ``expected`` (lossy codecs shift colours)."""
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, expected, strict=True))


# --- photos --------------------------------------------------------------------------------------


def two_halves(size=(80, 40), left=BLUE, right=RED, mode="RGB") -> Image.Image:
    img = Image.new(mode, size, right)
    img.paste(left, (0, 0, size[0] // 2, size[1]))
    return img


def image_bytes(img: Image.Image, fmt: str, **options) -> bytes:
    if fmt in ("HEIF", "AVIF"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG header declaring ``width`` x ``height`` grey pixels, with one row of data.

    What a decompression bomb looks like to a decoder that trusts the header: a few hundred bytes
    that would ask for ``width * height`` bytes of memory once decoded.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1), 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


# EXIF orientation -> the transpose that turns the upright picture into the one the camera stored
_STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def exif_rotated(orientation: int = 6, size=(80, 40), fmt: str = "JPEG") -> bytes:
    """A photo stored turned, with the EXIF tag saying how to turn it upright.

    Upright it is :func:`two_halves` of ``size``: blue left, red right.
    """
    stored = two_halves(size).transpose(_STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    return image_bytes(stored, fmt, quality=95, exif=exif.tobytes())


def cmyk_jpeg(size=(40, 40)) -> bytes:
    """CMYK JPEG (print workflows, some scanners): red on the left, cyan on the right."""
    img = Image.new("CMYK", size, (255, 0, 0, 0))
    img.paste((0, 255, 255, 0), (0, 0, size[0] // 2, size[1]))
    return image_bytes(img, "JPEG")


def sixteen_bit_png(size=(64, 32)) -> bytes:
    """16-bit grey PNG, black on the left to white on the right."""
    levels = np.tile(np.linspace(0, 65535, size[0]).astype(np.uint16), (size[1], 1))
    return image_bytes(Image.fromarray(levels), "PNG")


def palette_with_transparency(size=(40, 40), fmt: str = "PNG") -> bytes:
    """Palette picture: blue on the left, transparent (palette index 0, black) on the right."""
    img = Image.new("P", size, 0)
    img.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (0, 0, size[0] // 2, size[1]))
    return image_bytes(img, fmt, transparency=0)


def animated_gif(colours=(RED, BLUE, (0, 255, 0)), size=(40, 40)) -> bytes:
    frames = [Image.new("RGB", size, c) for c in colours]
    return image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def heic(size=(80, 40)) -> bytes:
    return image_bytes(two_halves(size), "HEIF", quality=95)


@functools.lru_cache(maxsize=2)
def huge_jpeg(width: int = 10_000, height: int = 8_000) -> bytes:
    """A real ``width`` x ``height`` JPEG (two halves; a few hundred KB, 0.5-2 s to make)."""
    return image_bytes(two_halves((width, height)), "JPEG", quality=75)


PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40">'
       b'<rect width="40" height="40" fill="blue"/><rect x="40" width="40" height="40" fill="red"/></svg>\n')
TEXT = b"Shopping list: milk, eggs, bread.\nCall the dentist on Tuesday.\n" * 4


# --- sound ---------------------------------------------------------------------------------------

RATE = 16_000


def tone(seconds: float, rate: int = RATE, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def noise(seconds: float, dbfs: float = -20.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """White noise at ``dbfs`` (RMS relative to full scale)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * rate)) * 10 ** (dbfs / 20)).astype(np.float32)


def wav(samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    """WAV from (n,) or (n, channels) float samples, as browsers' audio inputs send."""
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, np.asarray(samples, np.float32), rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def encode(samples: np.ndarray, rate: int, container: str, codec: str, *, codec_rate: int | None = None,
           sink=None) -> bytes:
    """Encode (n,) or (n, channels) float samples with PyAV: webm/opus, ogg, mp3, mp4/ipod (m4a)...

    ``sink`` may be a non-seekable writer with a ``data`` buffer (as a browser's MediaRecorder is).
    """
    import av

    x = np.asarray(samples, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    if codec == "vorbis" and x.shape[1] == 1:  # FFmpeg's own Vorbis encoder only writes stereo
        x = np.repeat(x, 2, axis=1)
    layout = "mono" if x.shape[1] == 1 else "stereo"
    out = sink if sink is not None else io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=codec_rate or rate, layout=layout)
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        for start in range(0, len(x), 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[start:start + 1024].T), format="fltp",
                                               layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return bytes(out.data) if sink is not None else out.getvalue()


def tone_mp3(seconds: float, rate: int = 24_000) -> bytes:
    """An MP3 like Google's voice sends (mono, 24 kHz): a tone, encoded with PyAV's LAME."""
    return encode(tone(seconds, rate, amplitude=0.3), rate, "mp3", "libmp3lame")


def resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Mono float samples at another rate, through FFmpeg's resampler (a proper low-pass)."""
    import av

    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32)[None, :], format="flt",
                                       layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=new_rate)
    out = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out]).astype(np.float32)


@functools.lru_cache(maxsize=32)
def spoken(text: str = "What colour is the car?", language: str = "en") -> bytes:
    """``text`` read by espeak-ng (the offline voice of ``core.tts``): a WAV at 22050 Hz."""
    from core.tts import load_tts

    speech = load_tts("espeak", private=True, timeout=5).synthesize(text, language)
    assert speech.mime == "audio/wav"
    return speech.audio


@functools.lru_cache(maxsize=32)
def spoken_samples(text: str = "What colour is the car?", language: str = "en") -> tuple[np.ndarray, int]:
    """(float32 mono samples, rate) of :func:`spoken` (read with soundfile, not with core.audio)."""
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(spoken(text, language)), dtype="float32")
    samples.setflags(write=False)
    return samples, rate


# container, codec, codec rate for each recording format phones and browsers send
_FORMATS = {
    "webm": ("webm", "libopus", 48000),
    "ogg": ("ogg", "libopus", 48000),
    "mp3": ("mp3", "libmp3lame", 44100),
    "m4a": ("ipod", "aac", 44100),
    "flac": ("flac", "flac", None),
}


@functools.lru_cache(maxsize=32)
def as_format(fmt: str, text: str = "What colour is the car?") -> bytes:
    """The spoken question encoded as ``fmt`` (webm, ogg, mp3, m4a, flac)."""
    samples, rate = spoken_samples(text)
    container, codec, codec_rate = _FORMATS[fmt]
    return encode(samples, rate, container, codec, codec_rate=codec_rate)


# --- byte surgery ----------------------------------------------------------------------------------


def set_u32(data: bytes, offset: int, value: int) -> bytes:
    """``data`` with the little-endian 32-bit number at ``offset`` replaced."""
    patched = bytearray(data)
    patched[offset:offset + 4] = struct.pack("<I", value & 0xFFFFFFFF)
    return bytes(patched)


def chunk_offset(data: bytes, name: bytes) -> int:
    """Where the RIFF chunk ``name`` starts in a WAV (its 4-byte name)."""
    pos = 12
    while pos + 8 <= len(data):
        if data[pos:pos + 4] == name:
            return pos
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        pos += 8 + size + (size & 1)
    raise ValueError(f"no {name!r} chunk")


# --- photos that pass the quality check ------------------------------------------------------------


def scene(seed: int = 0, size=(320, 240), tint=(200, 40, 40)) -> Image.Image:
    """A picture with what a photo has: a lit background, objects with edges, a little sensor noise.

    Plain single-colour images are "featureless" to SeeSay's quality check (rightly: a blank wall, a
    finger over the lens), so tests that need a photo to be described use this. ``seed`` varies the
    layout (each seed a different photo and key), ``tint`` colours the main object.
    """
    import random

    from PIL import ImageDraw

    rng = random.Random(seed)
    width, height = size
    img = Image.new("RGB", size, (150, 170, 190))
    draw = ImageDraw.Draw(img)
    for y in range(height):  # sky to ground
        shade = int(110 + 90 * y / height)
        draw.line([(0, y), (width, y)], fill=(shade, shade - 10, shade - 25))
    draw.rectangle((0, int(height * 0.7), width, height), fill=(90, 95, 85))
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(int(height * 0.6))
        w, h = rng.randrange(width // 10, width // 4), rng.randrange(height // 10, height // 4)
        draw.rectangle((x, y, x + w, y + h), fill=tuple(rng.randrange(40, 220) for _ in range(3)),
                       outline=(20, 20, 20), width=2)
    draw.ellipse((width * 0.3, height * 0.35, width * 0.7, height * 0.8), fill=tint, outline=(10, 10, 10), width=3)
    noise = Image.effect_noise(size, 12).convert("RGB")
    return Image.blend(img, noise, 0.08)


def scene_bytes(seed: int = 0, fmt: str = "PNG", size=(320, 240), tint=(200, 40, 40)) -> bytes:
    return image_bytes(scene(seed, size, tint), fmt)
