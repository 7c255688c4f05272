"""What every voice shares: the :class:`Speech` result, the :class:`TextToSpeech` protocol, WAV writing."""

from __future__ import annotations

import io
import logging
import wave
from dataclasses import dataclass
from typing import Protocol

from ..errors import SpeechSynthesisError
from ..i18n import N_

__all__ = ["Speech", "TextToSpeech", "WAV", "MP3", "ON_PAGE", "ASK_OFFLINE", "UnsupportedLanguage",
           "require_words", "quiet_debug", "wav"]

WAV, MP3 = "audio/wav", "audio/mpeg"
ON_PAGE = N_("The answer is still on the page as text.")
ASK_OFFLINE = (N_("To hear answers without the internet, ask whoever runs SeeSay to set "
                  "SEESAY_TTS_ENGINE to auto or offline."))
ON_PAGE_ASK_OFFLINE = N_("The answer is still on the page as text. To hear answers without the internet, ask "
                         "whoever runs SeeSay to set SEESAY_TTS_ENGINE to auto or offline.")


@dataclass(frozen=True)
class Speech:
    audio: bytes  # a whole playable file: MP3 from gTTS, 16-bit PCM WAV from the offline voices
    mime: str  # "audio/mpeg" or "audio/wav"
    engine: str  # engine that actually spoke ("gtts", "piper", "espeak"; "gtts+espeak" when joined)
    language: str  # ISO 639-1 code of the text


class TextToSpeech(Protocol):
    name: str
    sends_text_off_machine: bool  # True when the text goes to a server (shown to the person)

    def synthesize(self, text: str, language: str = "en") -> Speech:
        """Speak ``text``; raises :class:`~core.errors.SpeechSynthesisError`."""
        ...


class UnsupportedLanguage(SpeechSynthesisError):
    """This voice has no such language: not a failure of the voice itself."""


def require_words(text: str) -> None:
    if not any(ch.isalnum() for ch in text or ""):
        raise SpeechSynthesisError(N_("There was nothing to read aloud."), ON_PAGE)


def quiet_debug(logger_name: str) -> None:
    # gTTS and Piper log the text they speak at DEBUG level; SeeSay's logs must not contain it,
    # even when someone turns on DEBUG for everything. A level set on purpose is left alone.
    logger = logging.getLogger(logger_name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def wav(pcm: bytes, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()
