"""The work of answering, on engines passed in: :func:`prepare` a photo, :func:`ask` a question.

:class:`core.pipeline.Pipeline` calls these with the engines of its process; tests and benchmarks
call them with engines of their own (fakes, timing probes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Union

from .engines import AskOptions, Engines
from .errors import GenerationError, NoSpeechError, QuestionError
from .events import (Answer, AnswerAudio, AnswerText, Asked, Done, Event, Heard, Queued, Remark,
                     Transcribed)
from .speaker import Speaker, split_sentences
from .vlm.prompt import Turn, language_note

if TYPE_CHECKING:
    from .images import Photo
    from .tts import Speech

__all__ = ["ask", "prepare", "NO_SPEECH_THRESHOLD"]

log = logging.getLogger(__name__)

# Whisper marks a segment as probably not speech above this (its own default threshold).
NO_SPEECH_THRESHOLD = 0.6


def prepare(engines: Engines, photo: Photo) -> Iterator[Event]:
    """Encode the photo ahead of the question, on the shared model, in its turn (the model keeps its prefix)."""
    preparing = getattr(engines.vlm, "prepare", None)
    if preparing is None:
        return
    ticket = engines.lock.take()
    try:
        ahead = engines.lock.ahead(ticket)
        while ahead:
            yield Queued(ahead)
            ahead = engines.lock.wait(ticket, ahead)
        preparing(photo)
    finally:
        engines.lock.release(ticket)


def _question_text(question: str, options: AskOptions) -> str:
    text = " ".join(question.split())
    if not text:
        raise QuestionError("Your question is empty.", "Please type or say a question about the photo.")
    if len(text) > options.max_question_chars:
        raise QuestionError(
            f"Your question is {len(text)} characters long, more than the {options.max_question_chars} I can take.",
            "Please ask a shorter question.",
        )
    return text


def _hear(engines: Engines, recording: bytes, options: AskOptions, timings: dict) -> Iterator[Event]:
    """Decode and check the recording once, then transcribe it. Yields Heard, Transcribed; returns the transcript."""
    from . import audio

    if engines.stt is None:
        raise NoSpeechError("Spoken questions are not available right now.", "Please type your question.")
    t = time.perf_counter()
    rec = audio.decode_audio(recording, max_seconds=options.max_audio_seconds, min_seconds=0.0)
    check = audio.check_speech(rec.samples)
    timings["decode"] = time.perf_counter() - t
    yield Heard(check, rec)  # even a recording that is too short or silent gets its picture and description
    audio.require_length(rec, options.min_audio_seconds)
    audio.require_speech(rec, check)
    t = time.perf_counter()
    transcript = engines.stt.transcribe(rec.samples)
    timings["transcribe"] = time.perf_counter() - t
    if not transcript.text.strip() or (transcript.no_speech_prob > NO_SPEECH_THRESHOLD and len(transcript.text) < 8):
        raise NoSpeechError(
            "I could not make out a question in that recording.",
            "Please try again a little closer to the microphone, or type your question.",
        )
    yield Transcribed(transcript)
    return transcript


def ask(
    engines: Engines,
    photo: Photo,
    question: Union[str, bytes],
    history: Sequence[Turn] = (),
    options: AskOptions = AskOptions(),
    *,
    notes: Sequence[str] = (),
    before: Sequence[str] = (),
    after: Sequence[str] = (),
) -> Iterator[Event]:
    """Answer ``question`` (text, or the bytes of a recording) about ``photo``; see :mod:`core.pipeline`.

    ``notes`` go to the model after the question (the text found in the photo); ``before`` and
    ``after`` are remarks said to the person before and after the answer (Remark events).
    """
    from .language import detect_language, language_name

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    transcript = None
    if isinstance(question, (bytes, bytearray)):
        transcript = yield from _hear(engines, bytes(question), options, timings)
        text = _question_text(transcript.text, options)
        asked_in = transcript.language
    else:
        text = _question_text(question, options)
        asked_in = detect_language(text)
    yield Asked(text, asked_in)
    timings["transcript"] = time.perf_counter() - t0
    language = options.language or asked_in
    notes = [*notes, language_note(language_name(options.language))] if options.language else list(notes)

    answer = Answer(question=text, language=language, text="", question_language=asked_in, transcript=transcript)
    answer.engines = {"vlm": engines.vlm.name}
    if transcript is not None:
        answer.engines["stt"] = transcript.engine

    speaker = Speaker(engines.tts, language) if (options.speak and engines.tts) else None
    for remark in before:
        yield Remark(remark)
        if speaker:
            speaker.say(remark, "en")  # SeeSay's own words are English
    ticket = engines.lock.take()
    try:
        ahead = engines.lock.ahead(ticket)
        while ahead:
            yield Queued(ahead)
            ahead = engines.lock.wait(ticket, ahead)
        timings["queued"] = time.perf_counter() - t0 - timings["transcript"]
        t_gen = time.perf_counter()
        pending = ""
        pieces = engines.vlm.stream(photo, list(history), text, max_new_tokens=options.max_new_tokens,
                                    min_new_tokens=options.min_new_tokens, notes=notes)
        for piece in pieces:
            if not piece:
                continue
            if "first_token" not in timings:
                timings["first_token"] = time.perf_counter() - t0
            answer.text += piece
            yield AnswerText(piece)
            if speaker:
                sentences, pending = split_sentences(pending + piece)
                for sentence in sentences:
                    speaker.say(sentence)
                yield from _clips(speaker.ready(), timings, t0)
        timings["generate"] = time.perf_counter() - t_gen
    except BaseException:
        if speaker:
            speaker.close()  # the model failed or the person left: stop speaking
        raise
    finally:
        engines.lock.release(ticket)

    answer.text = answer.text.strip()
    if not answer.text:
        if speaker:
            speaker.close()
        raise GenerationError("I could not come up with an answer.", "Please ask again, perhaps in other words.")
    for remark in after:
        yield Remark(remark, after=True)
    if speaker:
        rest = pending.strip()
        if rest:
            speaker.say(rest)
        for remark in after:
            speaker.say(remark, "en")
        yield from _clips(speaker.finish(), timings, t0)
        answer.speech, answer.speech_error = speaker.joined(), speaker.error
        if answer.speech is not None:
            answer.engines["tts"] = answer.speech.engine
    timings["total"] = time.perf_counter() - t0
    answer.timings = timings
    answer.remarks = (*(Remark(r) for r in before), *(Remark(r, after=True) for r in after))
    if log.isEnabledFor(logging.INFO):
        log.info("answered in %.2fs (%s)", timings["total"],
                 ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    if options.log_content:  # only when debugging is switched on: this is the person's own words
        log.info("question (%s): %r; answer: %r", language, text, answer.text)
    yield Done(answer)


def _clips(ready: Iterator[tuple[int, str, Speech]], timings: dict, t0: float) -> Iterator[AnswerAudio]:
    for index, sentence, speech in ready:
        timings.setdefault("first_audio", time.perf_counter() - t0)
        yield AnswerAudio(speech, index, sentence)
