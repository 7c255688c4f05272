"""The benchmark's inputs: a synthetic photo, spoken questions, the answer's words.

Everything is made here, in memory, the same way on every run: no files from users, no downloads.
"""

from __future__ import annotations

import io
import wave
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16_000

#: The spoken question of the pipeline benchmark (Piper's voice says it in about 2.8 s; the clip is
#: padded with quiet to RECORDING_SECONDS, as a person stops the recorder a moment after speaking).
QUESTION = "What does the sign say, and what color is it?"
RECORDING_SECONDS = 3.0
#: the follow-up question about the same photo, asked right after the first answer
FOLLOW_UP = "Which way does the arrow point?"

#: A longer question for the STT table's 8 s clip.
LONG_QUESTION = ("I am standing at the station. What does the big sign in front of me say, "
                 "and which way is the exit?")

#: Random weights write meaningless filler words with no sentence ends, so the text a random model
#: streams is replaced, word for word in step with its tokens, by this answer (see
#: ``bench.probes.ScriptedVLM``). It is written as the system prompt asks answers to be: the most
#: important thing first, short plain sentences: 50 words, about the 60 tokens the answer is forced to.
ANSWER = ("The sign says EXIT. It has white letters on a green background, with an arrow pointing "
          "to the left. Below it, smaller letters read Platform 2 and Lifts. There is a dark doorway "
          "under the sign, and the floor in front of it looks clear, with nothing in the way.")


@lru_cache(maxsize=2)
def photo_bytes(size: tuple[int, int] = (1024, 768)) -> bytes:
    """A JPEG of a station sign: a gradient, shapes and text, so it compresses like a photo."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    cols = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    sky = np.array([90, 140, 200], np.float32) * (1 - rows) + np.array([200, 200, 190], np.float32) * rows
    pixels = sky + 30 * np.sin(cols * 12.0) * rows  # a little texture, as walls and floors have
    noise = np.random.default_rng(0).normal(0, 6, (height, width, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "RGB")

    draw = ImageDraw.Draw(image)
    big, small = ImageFont.load_default(size=110), ImageFont.load_default(size=40)
    draw.rectangle((212, 120, 812, 420), fill=(20, 120, 60), outline=(240, 240, 240), width=8)
    draw.text((300, 160), "EXIT", font=big, fill=(255, 255, 255))
    draw.polygon([(250, 270), (300, 230), (300, 310)], fill=(255, 255, 255))  # an arrow to the left
    draw.text((330, 320), "Platform 2 · Lifts", font=small, fill=(255, 255, 255))
    draw.rectangle((380, 460, 640, 768), fill=(60, 60, 70))  # a doorway under the sign
    draw.ellipse((80, 520, 220, 660), fill=(200, 60, 40))  # something red on the floor
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def new_photo(n: int) -> bytes:
    """The benchmark photo as a new photo for SeeSay: the same pixels, with a JPEG comment that makes its bytes,
    and so its key (the model's kept prefix, the text reader's reading), its own."""
    data = photo_bytes()
    comment = f"SeeSay benchmark photo {n}".encode("ascii")
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]  # after SOI


def load_benchmark_photo():
    """The synthetic photo as SeeSay's :class:`core.images.Photo` (through the app's own loader)."""
    from core.config import Settings
    from core.images import load_photo

    s = Settings()
    return load_photo(photo_bytes(), max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels,
                      max_side=s.image_max_side)


@lru_cache(maxsize=4)
def spoken(text: str, seconds: float) -> bytes:
    """``text`` said by the offline voice, as a 16 kHz 16-bit WAV of at least ``seconds``.

    The clip is what a browser sends (``st.audio_input`` records 16 kHz WAV); speech shorter than
    ``seconds`` is followed by quiet room noise, longer speech is kept whole.
    """
    from core.audio import decode_audio
    from core.tts import load_tts

    voice = load_tts("offline", private=True, timeout=5.0)
    speech = voice.synthesize(text, "en")
    samples = decode_audio(speech.audio, max_seconds=60.0, min_seconds=0.0).samples
    missing = int(round(seconds * SAMPLE_RATE)) - samples.size
    if missing > 0:
        room = np.random.default_rng(1).normal(0, 3e-4, missing).astype(np.float32)
        samples = np.concatenate([samples, room])
    return wav_bytes(samples)


def wav_bytes(samples: np.ndarray) -> bytes:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(SAMPLE_RATE)
        clip.writeframes(pcm)
    return out.getvalue()


def samples_of(wav: bytes) -> np.ndarray:
    """16 kHz float32 samples of a WAV made by :func:`wav_bytes`."""
    with wave.open(io.BytesIO(wav), "rb") as clip:
        pcm = clip.readframes(clip.getnframes())
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
