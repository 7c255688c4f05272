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
from .checks import REMINDER, domain, double_check
from .confidence import THRESHOLD, agreement, confidence, hedge
from .honesty import ANSWERABLE_NOTE, Answerability, asks_about_text, cannot_tell
from .speaker import Speaker, split_sentences
from .vlm import Token
from .vlm.prompt import Turn, language_note

if TYPE_CHECKING:
    from .images import Photo
    from .tts import Speech

__all__ = ["ask", "prepare", "NO_SPEECH_THRESHOLD"]

log = logging.getLogger(__name__)

# Whisper marks a segment as probably not speech above this (its own default threshold).
NO_SPEECH_THRESHOLD = 0.6
#: said after an answer the model did not give again when asked again (SEESAY_CONFIDENCE_SAMPLES)
DIFFERENT_AGAIN = "Careful: asked again, I did not give the same answer, so I am not sure of this one."


def prepare(engines: Engines, photo: Photo) -> Iterator[Event]:
    """Encode the photo ahead of the question, on the shared model, in its turn (the model keeps its prefix)."""
    preparing = getattr(engines.vlm, "prepare", None)
    if preparing is None:
        return
    ticket = engines.lock.take()
    try:
        yield from _wait_turn(engines, ticket)
        preparing(photo)
    finally:
        engines.lock.release(ticket)


def _wait_turn(engines: Engines, ticket: int) -> Iterator[Event]:
    """``Queued(ahead)`` each time the number of people ahead changes, until ``ticket``'s turn comes."""
    ahead = engines.lock.ahead(ticket)
    while ahead:
        yield Queued(ahead)
        ahead = engines.lock.wait(ticket, ahead)


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
    label: str | None = None,
    framing: Sequence[str] = (),
) -> Iterator[Event]:
    """Answer ``question`` (text, or the bytes of a recording) about ``photo``; see :mod:`core.pipeline`.

    ``notes`` go to the model after the question (the text found in the photo); ``before`` and
    ``after`` are remarks said to the person before and after the answer (Remark events). ``label``
    is the text the text reader found in the photo ("" none; None: it could not be read): a
    question about medicine, money, allergens or dates is double-checked against it, and a question
    about text gets the ``framing`` advice (the text runs off an edge, it is too small) after its answer.
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
    notes = [*notes, ANSWERABLE_NOTE]
    if options.language:
        notes.append(language_note(language_name(options.language)))

    answer = Answer(question=text, language=language, text="", question_language=asked_in, transcript=transcript)
    answer.engines = {"vlm": engines.vlm.name}
    if transcript is not None:
        answer.engines["stt"] = transcript.engine

    speaker = Speaker(engines.tts, language) if (options.speak and engines.tts) else None
    for remark in before:
        yield Remark(remark)
        if speaker:
            speaker.say(remark, "en")  # SeeSay's own words are English
    tokens: list[Token] = []
    voice = _Voice(speaker, tokens)
    ticket = engines.lock.take()
    try:
        yield from _wait_turn(engines, ticket)
        timings["queued"] = time.perf_counter() - t0 - timings["transcript"]
        t_gen = time.perf_counter()
        gate = Answerability()
        pieces = engines.vlm.stream(photo, list(history), text, max_new_tokens=options.max_new_tokens,
                                    min_new_tokens=options.min_new_tokens, notes=notes, tokens=tokens)
        try:
            for piece in pieces:
                piece = gate.feed(piece or "")
                if gate.unanswerable:
                    break  # the model says the photo cannot answer: stop it, and say what to change instead
                if piece:
                    timings.setdefault("first_token", time.perf_counter() - t0)
                    answer.text += piece
                    yield AnswerText(piece)
                    yield from _clips(voice.add(piece), timings, t0)
            else:
                rest = gate.finish()
                if rest:
                    answer.text += rest
                    yield AnswerText(rest)
                    yield from _clips(voice.add(rest), timings, t0)
        finally:
            pieces.close()
        if gate.unanswerable:
            answer.text, answer.unanswerable = cannot_tell(text), True
            timings.setdefault("first_token", time.perf_counter() - t0)
            yield AnswerText(answer.text)
            voice.hedged = False  # "I cannot tell" needs no "I am not sure"
            yield from _clips(voice.add(answer.text), timings, t0)
        timings["generate"] = time.perf_counter() - t_gen
        if options.samples and not answer.unanswerable and hasattr(engines.vlm, "sample"):
            t_sample = time.perf_counter()  # while the answer is being spoken; still this person's turn
            again = [engines.vlm.sample(photo, list(history), text, max_new_tokens=options.max_new_tokens,
                                        notes=notes, seed=seed) for seed in range(options.samples)]
            answer.agreement = agreement(answer.text, again)
            timings["samples"] = time.perf_counter() - t_sample
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
    sure = confidence(tokens)
    answer.confidence = sure.value
    if answer.agreement is not None:  # the lower of the two: a model that answers differently is not sure
        answer.confidence = min(v for v in (sure.value, answer.agreement) if v is not None)
    check = double_check(text, answer.text, label) if label is not None else None
    review = list(after)
    if answer.agreement is not None and answer.agreement < THRESHOLD and not sure.unsure:
        review.append(DIFFERENT_AGAIN)  # the spoken answer was not hedged: say it now
    review += (list(framing) if asks_about_text(text) else []) + list(check.remarks if check else
                                [REMINDER] if label is None and domain(text, answer.text) else [])
    answer.check = check
    for remark in review:
        yield Remark(remark, after=True)
    if speaker:
        yield from _clips(voice.finish(sure, review), timings, t0)
        answer.speech, answer.speech_error = speaker.joined(), speaker.error
        if answer.speech is not None:
            answer.engines["tts"] = answer.speech.engine
    answer.hedged = bool(voice.hedged) if speaker else sure.unsure and not answer.unanswerable
    timings["total"] = time.perf_counter() - t0
    answer.timings = timings
    answer.remarks = (*(Remark(r) for r in before), *(Remark(r, after=True) for r in review))
    if log.isEnabledFor(logging.INFO):
        log.info("answered in %.2fs (%s); confidence %s", timings["total"],
                 ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()), sure.value)
    if options.log_content:  # only when debugging is switched on: this is the person's own words
        log.info("question (%s): %r; answer: %r", language, text, answer.text)
    yield Done(answer)


class _Voice:
    """Hands finished sentences to the speaker; the first one opens with a hedge when the model was
    unsure of what it had written by then (the rest of the answer is not known yet)."""

    def __init__(self, speaker: Speaker | None, tokens: list[Token]) -> None:
        self.speaker, self.tokens = speaker, tokens
        self.pending = ""
        self.written = 0  # characters of the answer so far
        self.hedged: bool | None = None  # decided with the first sentence

    def add(self, piece: str) -> Iterator[tuple[int, str, Speech]]:
        self.written += len(piece)
        if self.speaker is None:
            return iter(())
        sentences, self.pending = split_sentences(self.pending + piece)
        for sentence in sentences:
            self._say(sentence, confidence(self._so_far()))
        return self.speaker.ready()

    def _so_far(self) -> list[Token]:
        """The tokens that spell the answer written so far: the same whatever the engine has already
        computed beyond it, so the hedge does not depend on timing."""
        out, length = [], 0
        for token in list(self.tokens):
            length += len(token.text)
            if length > self.written + 1:  # +1: a leading space the answer's cleaning drops
                break
            out.append(token)
        return out

    def finish(self, sure, review: Sequence[str]) -> Iterator[tuple[int, str, Speech]]:
        rest = self.pending.strip()
        if rest:
            self._say(rest, sure)
        for remark in review:
            self.speaker.say(remark, "en")
        return self.speaker.finish()

    def _say(self, sentence: str, sure) -> None:
        if self.hedged is None:
            self.hedged = sure.unsure
            if self.hedged:
                sentence = hedge(sentence)
        self.speaker.say(sentence)


def _clips(ready: Iterator[tuple[int, str, Speech]], timings: dict, t0: float) -> Iterator[AnswerAudio]:
    for index, sentence, speech in ready:
        timings.setdefault("first_audio", time.perf_counter() - t0)
        yield AnswerAudio(speech, index, sentence)
