"""Photo + question (spoken or typed) + conversation so far -> a spoken answer, as events.

``ask()`` is a generator. It yields, as they happen:

* ``Queued(ahead)``        while the shared model is busy with other people's questions;
* ``Transcribed(...)``     once a spoken question has been heard and written down;
* ``AnswerText(text)``     each piece of the answer as the model writes it;
* ``AnswerAudio(...)``     each sentence's speech, in order, as soon as it is synthesized -
                           while the model is still writing the next one;
* ``Done(answer)``         the whole answer, its whole audio, timings per stage.

Failures a person can act on are raised as :class:`~core.errors.SeeSayError`. Engines are passed
in, so tests and other front ends can swap them.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Sequence, Union

from .errors import GenerationError, NoSpeechError, QuestionError, SeeSayError, SpeechSynthesisError
from .turns import TurnLock

if TYPE_CHECKING:  # engines are duck-typed; these are for readers and type checkers
    from .images import Photo
    from .stt import SpeechToText, Transcript
    from .tts import Speech, TextToSpeech
    from .vlm import Turn, VisionLanguageModel

__all__ = [
    "Engines", "AskOptions", "Answer", "Queued", "Transcribed", "AnswerText", "AnswerAudio", "Done",
    "Event", "ask", "prepare_photo", "split_sentences", "DESCRIBE", "DESCRIBE_DETAIL",
]

log = logging.getLogger(__name__)

DESCRIBE = "Describe this photo for me."
DESCRIBE_DETAIL = "Describe this photo again, in more detail: everything you can see, and any text, word for word."

# Whisper marks a segment as probably not speech above this (its own default threshold).
NO_SPEECH_THRESHOLD = 0.6


@dataclass
class Engines:
    """The engines one SeeSay process shares between all its sessions."""

    vlm: "VisionLanguageModel"
    stt: "SpeechToText | None" = None  # None: typed questions only
    tts: "TextToSpeech | None" = None  # None: answers are not spoken
    turns: TurnLock = field(default_factory=TurnLock)  # one question on the model at a time


@dataclass(frozen=True)
class AskOptions:
    max_new_tokens: int = 200  # answer length limit
    min_new_tokens: int = 0  # benchmarks force a length; 0 for people
    speak: bool = True  # synthesize speech for the answer
    language: str | None = None  # answer language; None: the question's language
    max_audio_seconds: float = 60.0
    min_audio_seconds: float = 0.5
    max_question_chars: int = 2000
    log_content: bool = False  # SEESAY_DEBUG: logs may hold the question and the answer


# --- events --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Queued:
    ahead: int  # questions before this one (the one running included)


@dataclass(frozen=True)
class Transcribed:
    transcript: "Transcript"
    speech_check: object  # core.audio.SpeechCheck of the recording


@dataclass(frozen=True)
class AnswerText:
    text: str  # the next piece of the answer


@dataclass(frozen=True)
class AnswerAudio:
    speech: "Speech"
    index: int  # 0 for the first sentence
    text: str  # the sentence spoken


@dataclass
class Answer:
    question: str
    language: str  # language of the answer (and of its speech)
    text: str
    speech: "Speech | None" = None  # the whole answer as one clip
    transcript: "Transcript | None" = None  # when the question was spoken
    speech_error: str = ""  # when no voice could speak; the text is still there
    engines: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds, from the end of the question


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Union[Queued, Transcribed, AnswerText, AnswerAudio, Done]

_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])[\"')\]]*\s+|\n+")


def split_sentences(buffer: str, min_chars: int = 12) -> tuple[list[str], str]:
    """Split finished sentences off ``buffer``; return them and the unfinished rest.

    Very short pieces ("Yes.") are joined to the next sentence so the voice does not stutter.
    """
    done, start = [], 0
    for match in _SENTENCE_END.finditer(buffer):
        piece = buffer[start:match.end()].strip()
        if len(piece) >= min_chars:
            done.append(piece)
            start = match.end()
    return done, buffer[start:]


def prepare_photo(engines: Engines, photo: "Photo") -> None:
    """Encode the photo ahead of the question (the model keeps its prefix for follow-ups)."""
    prepare = getattr(engines.vlm, "prepare", None)
    if prepare is not None:
        prepare(photo)


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
    """Decode, check for speech, transcribe. Yields Transcribed; returns the transcript."""
    from . import audio

    if engines.stt is None:
        raise NoSpeechError("Spoken questions are not available right now.", "Please type your question.")
    t = time.perf_counter()
    rec = audio.decode_audio(recording, max_seconds=options.max_audio_seconds,
                             min_seconds=options.min_audio_seconds)
    check = audio.require_speech(rec)
    timings["decode"] = time.perf_counter() - t
    t = time.perf_counter()
    transcript = engines.stt.transcribe(rec.samples)
    timings["transcribe"] = time.perf_counter() - t
    if not transcript.text.strip() or (transcript.no_speech_prob > NO_SPEECH_THRESHOLD and len(transcript.text) < 8):
        raise NoSpeechError(
            "I could not make out a question in that recording.",
            "Please try again a little closer to the microphone, or type your question.",
        )
    yield Transcribed(transcript, check)
    return transcript


def ask(
    engines: Engines,
    photo: "Photo",
    question: Union[str, bytes],
    history: Sequence["Turn"] = (),
    options: AskOptions = AskOptions(),
) -> Iterator[Event]:
    """Answer ``question`` (text, or the bytes of a recording) about ``photo``. See module doc."""
    from .language import detect_language

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    transcript = None
    if isinstance(question, (bytes, bytearray)):
        transcript = yield from _hear(engines, bytes(question), options, timings)
        text = _question_text(transcript.text, options)
        language = transcript.language
    else:
        text = _question_text(question, options)
        language = detect_language(text)
    timings["transcript"] = time.perf_counter() - t0
    language = options.language or language

    answer = Answer(question=text, language=language, text="", transcript=transcript)
    answer.engines = {"vlm": engines.vlm.name}
    if transcript is not None:
        answer.engines["stt"] = transcript.engine

    speaker = _Speaker(engines.tts, language) if (options.speak and engines.tts) else None
    ticket = engines.turns.take()
    try:
        ahead = engines.turns.ahead(ticket)
        while ahead:
            yield Queued(ahead)
            ahead = engines.turns.wait(ticket, ahead)
        timings["queued"] = time.perf_counter() - t0 - timings["transcript"]
        t_gen = time.perf_counter()
        pending = ""
        pieces = engines.vlm.stream(photo, list(history), text,
                                    max_new_tokens=options.max_new_tokens,
                                    min_new_tokens=options.min_new_tokens)
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
                yield from speaker.ready(timings, t0)
        timings["generate"] = time.perf_counter() - t_gen
    except BaseException:
        if speaker:
            speaker.close()  # the model failed or the person left: stop speaking
        raise
    finally:
        engines.turns.release(ticket)

    answer.text = answer.text.strip()
    if not answer.text:
        if speaker:
            speaker.close()
        raise GenerationError("I could not come up with an answer.", "Please ask again, perhaps in other words.")
    if speaker:
        rest = pending.strip()
        if rest:
            speaker.say(rest)
        yield from speaker.finish(timings, t0)
        answer.speech, answer.speech_error = speaker.joined(), speaker.error
        if answer.speech is not None:
            answer.engines["tts"] = answer.speech.engine
    timings["total"] = time.perf_counter() - t0
    answer.timings = timings
    if log.isEnabledFor(logging.INFO):
        log.info("answered in %.2fs (%s)", timings["total"],
                 ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    if options.log_content:  # only when debugging is switched on: this is the person's own words
        log.info("question (%s): %r; answer: %r", language, text, answer.text)
    yield Done(answer)


class _Speaker:
    """Synthesizes sentences one after another on a worker thread, in order."""

    def __init__(self, tts: "TextToSpeech", language: str) -> None:
        self.tts, self.language = tts, language
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seesay-tts")
        self.queue: list[tuple[str, Future]] = []
        self.clips: list["Speech"] = []
        self.sent = 0
        self.error = ""

    def say(self, sentence: str) -> None:
        if not self.error:
            self.queue.append((sentence, self.pool.submit(self.tts.synthesize, sentence, self.language)))

    def _take(self, wait: bool, timings: dict, t0: float) -> Iterator[AnswerAudio]:
        while self.queue and (wait or self.queue[0][1].done()):
            sentence, future = self.queue.pop(0)
            try:
                speech = future.result()
            except SeeSayError as error:
                self.error = error.spoken
                self.close()
                return
            if "first_audio" not in timings:
                timings["first_audio"] = time.perf_counter() - t0
            self.clips.append(speech)
            yield AnswerAudio(speech, self.sent, sentence)
            self.sent += 1

    def ready(self, timings: dict, t0: float) -> Iterator[AnswerAudio]:
        yield from self._take(False, timings, t0)

    def finish(self, timings: dict, t0: float) -> Iterator[AnswerAudio]:
        yield from self._take(True, timings, t0)
        self.pool.shutdown(wait=False)

    def close(self) -> None:
        for _, future in self.queue:
            future.cancel()
        self.queue.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def joined(self) -> "Speech | None":
        if not self.clips:
            return None
        from .tts import concat_speech

        try:
            return concat_speech(self.clips)
        except SpeechSynthesisError as error:
            self.error = error.spoken
            return self.clips[0]
