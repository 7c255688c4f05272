"""Scripted engines for fast tests: same protocols as the real ones, no models; and SeeSay's stages run on them."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from core.errors import SpeechSynthesisError


@dataclass
class FakeVLM:
    """Answers with a script, one word at a time, recording what it was asked."""

    answer: str = "There is a red car. A person is crossing the street. The sign says stop."
    delay: float = 0.0  # seconds per piece
    error: Exception | None = None
    name: str = "fake-vlm"
    can_sample: bool = False  # SamplingVLM (tests/test_honesty.py) can
    calls: list = field(default_factory=list)
    prepared: list = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    probabilities: dict | None = None  # word (lower case, or "*" for the rest) -> its probability; None: none given

    def prepare(self, photo) -> None:
        self.prepared.append(photo.key)

    def stream(self, photo, history, question, *, max_new_tokens, min_new_tokens=0, notes=(), tokens=None):
        self.calls.append({"photo": photo.key, "history": list(history), "question": question,
                           "max_new_tokens": max_new_tokens, "min_new_tokens": min_new_tokens,
                           "notes": list(notes)})
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.error is not None:
                raise self.error
            words = self.answer.split(" ")
            for i, word in enumerate(words):
                time.sleep(self.delay)
                piece = word if i == 0 else " " + word
                if tokens is not None and self.probabilities is not None:  # a token per word, as scripted
                    from core.vlm import Token

                    p = self.probabilities.get(word.strip(".,!?").lower(), self.probabilities.get("*", 0.99))
                    tokens.append(Token(piece, math.log(p)))
                yield piece
        finally:
            self.active -= 1

    def sample(self, photo, history, question, *, max_new_tokens, notes=(), temperature=0.7, seed=0):
        return self.answer


@dataclass
class FakeTTS:
    """Returns a tiny WAV per sentence; can be told to fail."""

    name: str = "fake-tts"
    sends_text_off_machine: bool = False
    fail: bool = False
    delay: float = 0.0
    spoken: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def synthesize(self, text, language="en"):
        from core.tts import Speech

        time.sleep(self.delay)
        if self.fail:
            raise SpeechSynthesisError("No voice could speak the answer.", "The answer is shown as text.")
        with self.lock:
            self.spoken.append((text, language))
        return Speech(audio=_wav(0.1), mime="audio/wav", engine=self.name, language=language)


@dataclass
class FakeSTT:
    text: str = "What colour is the car?"
    language: str = "en"
    no_speech_prob: float = 0.01
    name: str = "fake-stt"

    def transcribe(self, samples, language=None):
        from core.stt import Transcript

        return Transcript(text=self.text, language=language or self.language,
                          no_speech_prob=self.no_speech_prob, duration=len(samples) / 16000, engine=self.name)


def _wav(seconds: float, rate: int = 16000) -> bytes:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(rate * seconds))
    return buf.getvalue()


def fake_reading(text: str, *, size: tuple[int, int] = (640, 480), off_right: bool = False, engine: str = "fake-ocr"):
    """A text reader's reading of ``text``, one line per line, large and well inside the photo (or, with
    ``off_right``, running off its right edge)."""
    from core.ocr import Line, Reading

    right = size[0] if off_right else 280
    lines = tuple(Line(t, ((40, 60 + 50 * i), (right, 60 + 50 * i), (right, 100 + 50 * i), (40, 100 + 50 * i)), 0.99)
                  for i, t in enumerate(line for line in text.splitlines() if line))
    return Reading(lines=lines, text=text, size=size, seconds=0.0, engine=engine)


def answer(engines, photo, asked, history=(), *, settings=None, speak=True, **fields):
    """SeeSay's stages (core.answering.compose) on ``engines``, for ``asked`` (text, or a recording's bytes)
    about ``photo``: the events, lazily. ``fields`` are the Question's (reading, language, max_new_tokens...)."""
    from core.answering import Question, compose, run

    said = {"recording": bytes(asked)} if isinstance(asked, (bytes, bytearray)) else {"text": asked}
    question = Question(photo, history=tuple(history), **said, **fields)
    return run(question, compose(engines, settings, speak=speak))
