"""The hear stage: the question as SeeSay understands it, said back (``Asked``) before anything else runs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import NoSpeechError, QuestionError
from ..events import Asked, Event, Heard, Transcribed
from ..i18n import N_
from .base import Draft, Question, Rest

if TYPE_CHECKING:
    from ..stt import SpeechToText, Transcript

__all__ = ["Hear", "NO_SPEECH_THRESHOLD"]

# Whisper marks a segment as probably not speech above this (its own default threshold).
NO_SPEECH_THRESHOLD = 0.6


class Hear:
    """A recording is decoded and checked for speech once (``Heard``: its picture, even when it is then
    refused), then written down (``Transcribed``); typed text is tidied. Either way the question's
    language is found once, and the stages after this one get the question as text."""

    def __init__(self, stt: SpeechToText | None, *, max_audio_seconds: float = 60.0,
                 min_audio_seconds: float = 0.5, max_question_chars: int = 2000) -> None:
        self.stt = stt  # None: typed questions only
        self.max_audio_seconds, self.min_audio_seconds = max_audio_seconds, min_audio_seconds
        self.max_question_chars = max_question_chars

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        from ..language import detect_language

        if question.recording is not None:
            transcript = yield from self._transcribe(question.recording, draft)
            text, language = self._tidy(transcript.text), transcript.language
        else:
            text = self._tidy(question.text)
            language = question.asked_in or detect_language(text)
        yield Asked(question.shown or text, language)
        yield from rest(dataclasses.replace(question, text=text, recording=None, asked_in=language))

    def _transcribe(self, recording: bytes, draft: Draft) -> Iterator[Event]:
        """Yields Heard, Transcribed; returns the transcript."""
        from .. import audio

        if self.stt is None:
            raise NoSpeechError(N_("Spoken questions are not available right now."), N_("Please type your question."))
        t = time.perf_counter()
        decoded = audio.decode_audio(recording, max_seconds=self.max_audio_seconds, min_seconds=0.0)
        speech_check = audio.check_speech(decoded.samples)
        draft.timings["decode"] = time.perf_counter() - t
        yield Heard(speech_check, decoded)  # one too short or silent gets its picture and description too
        audio.require_length(decoded, self.min_audio_seconds)
        audio.require_speech(decoded, speech_check)
        t = time.perf_counter()
        transcript: Transcript = self.stt.transcribe(decoded.samples)
        draft.timings["transcribe"] = time.perf_counter() - t
        draft.engines["stt"] = transcript.engine
        unlikely = transcript.no_speech_prob > NO_SPEECH_THRESHOLD and len(transcript.text) < 8
        if not transcript.text.strip() or unlikely:
            raise NoSpeechError(
                N_("I could not make out a question in that recording."),
                N_("Please try again a little closer to the microphone, or type your question."),
            )
        yield Transcribed(transcript)
        return transcript

    def _tidy(self, text: str) -> str:
        """The question with its spaces tidied; QuestionError when it is empty or too long."""
        text = " ".join(text.split())
        if not text:
            raise QuestionError(N_("Your question is empty."), N_("Please type or say a question about the photo."))
        if len(text) > self.max_question_chars:
            raise QuestionError(
                N_("Your question is {length} characters long, more than the {limit} I can take."),
                N_("Please ask a shorter question."), length=str(len(text)), limit=str(self.max_question_chars),
            )
        return text
