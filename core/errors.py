"""Errors meant for the person using SeeSay.

Every message is written to be read aloud: it says what happened in plain words and what to do
next, with no codes, file paths or stack traces. Pages show ``str(error)`` and speak it.
Anything that is not a :class:`SeeSayError` is a bug, and the app reports it as such.
"""

from __future__ import annotations

__all__ = [
    "SeeSayError",
    "ConfigError",
    "ImageError",
    "AudioError",
    "NoSpeechError",
    "QuestionError",
    "ModelUnavailableError",
    "GenerationError",
    "SpeechSynthesisError",
    "TextReadingError",
]


class SeeSayError(Exception):
    """Base class: ``message`` says what happened, ``hint`` what to do next."""

    #: short name of the stage that failed, for logs and announcements
    stage = "seesay"

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message.strip()
        self.hint = hint.strip()
        super().__init__(self.spoken)

    @property
    def spoken(self) -> str:
        """The whole text to show and to speak."""
        return f"{self.message} {self.hint}".strip()


class ConfigError(SeeSayError):
    """A ``SEESAY_`` setting has a value SeeSay cannot use; raised at start-up."""

    stage = "settings"


class ImageError(SeeSayError):
    """The photo could not be read, or is not one SeeSay can use."""

    stage = "photo"


class AudioError(SeeSayError):
    """The recording could not be read, or is too long or too short."""

    stage = "recording"


class NoSpeechError(AudioError):
    """The recording holds silence or noise, not a spoken question."""


class QuestionError(SeeSayError):
    """The typed question is empty or too long."""

    stage = "question"


class ModelUnavailableError(SeeSayError):
    """A model could not be loaded: missing folder, no network to download it, broken weights."""

    stage = "model"


class GenerationError(SeeSayError):
    """The model failed while answering (for example it ran out of memory)."""

    stage = "answer"


class SpeechSynthesisError(SeeSayError):
    """No voice could speak the answer. The answer is still there as text."""

    stage = "speech"


class TextReadingError(SeeSayError):
    """The text reader failed on this photo; the vision-language model can still answer."""

    stage = "text"
