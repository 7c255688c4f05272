"""Errors meant for the person using SeeSay.

Every message is written to be read aloud: it says what happened in plain words and what to do
next, with no codes, file paths or stack traces. It is written in English, marked for translation
(``N_``), with named placeholders filled from ``params``; pages show and speak
:meth:`SeeSayError.spoken_in` the person's language (``str(error)`` and :attr:`~SeeSayError.spoken`
are the English, for logs). Anything that is not a :class:`SeeSayError` is a bug, and the app reports
it as such.
"""

from __future__ import annotations

from typing import Any

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
    """Base class: ``message`` says what happened, ``hint`` what to do next.

    Both are English texts marked with ``N_`` whose ``{placeholders}`` are filled from ``params``
    (``ImageError(N_("The photo is {size} MB."), N_("Please choose a smaller one."), size=31)``);
    :meth:`spoken_in` gives them in another language, numbers written as that language writes them.
    """

    #: short name of the stage that failed, for logs and announcements
    stage = "seesay"

    def __init__(self, message: str, hint: str = "", **params: Any) -> None:
        self.template, self.hint_template = message.strip(), hint.strip()
        self.params = params
        self.message = self._in(self.template, "en")
        self.hint = self._in(self.hint_template, "en")
        super().__init__(self.spoken)

    @property
    def spoken(self) -> str:
        """The whole text to show and to speak, in English."""
        return f"{self.message} {self.hint}".strip()

    def spoken_in(self, language: str) -> str:
        """The whole text to show and to speak, in ``language`` (English where it has no translation)."""
        return f"{self._in(self.template, language)} {self._in(self.hint_template, language)}".strip()

    def _in(self, text: str, language: str) -> str:
        from .i18n import translator

        return translator(language)(text, **self.params) if text else ""


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
