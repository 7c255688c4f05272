"""Photo + question (spoken or typed) + conversation so far -> a spoken answer, as events.

:class:`Pipeline` is the one way to the models for the app, the command line and the benchmarks:

* :meth:`Pipeline.take_photo` reads a photo and prepares it for questions;
* :meth:`Pipeline.ask` answers a question about it;
* :meth:`Pipeline.speak` says a text ("Speak this answer", a message) with the visitor's voice.

They are generators of events; what a person can act on is raised as :class:`~core.errors.SeeSayError`.
In the order they can come:

* ``Loading(stages)``      the models this work needs are being loaded first (once per process);
* ``PhotoTaken(photo)``    the photo has been read (``take_photo``);
* ``Queued(ahead)``        the shared model is busy with other people's work;
* ``Heard(check, ...)``    a recording has been decoded and checked for speech (draw it now);
* ``Transcribed(...)``     a spoken question has been written down;
* ``Asked(text, lang)``    the question, as SeeSay understood it;
* ``AnswerText(text)``     each piece of the answer as the model writes it;
* ``AnswerAudio(...)``     each sentence's speech, in order, while the model writes the next one;
* ``Done(answer)``         the whole answer, its whole audio, timings per stage.

:func:`ask` and :func:`prepare` are the same work on engines passed in, for tests and benchmarks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .engines import AskOptions, Choices, Engines, Models, ask_options
from .errors import GenerationError, NoSpeechError, QuestionError, SeeSayError, SpeechSynthesisError
from .speaker import Speaker, split_sentences
from .vlm.prompt import Turn, language_note

if TYPE_CHECKING:
    from .audio import Recording, SpeechCheck
    from .config import Settings
    from .images import Photo
    from .stt import Transcript
    from .tts import Speech

__all__ = [
    "Pipeline", "Engines", "AskOptions", "Choices", "Turn", "Answer", "Event", "Loading", "PhotoTaken",
    "Queued", "Heard", "Transcribed", "Asked", "AnswerText", "AnswerAudio", "Done", "ask", "prepare",
    "split_sentences", "DESCRIBE", "DESCRIBE_DETAIL",
]

log = logging.getLogger(__name__)

DESCRIBE = "Describe this photo for me."
DESCRIBE_DETAIL = "Describe this photo again, in more detail: everything you can see, and any text, word for word."

# Whisper marks a segment as probably not speech above this (its own default threshold).
NO_SPEECH_THRESHOLD = 0.6


# --- events --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Loading:
    stages: tuple[str, ...]  # "vlm", "stt", "voice": loaded now, before the work they delay


@dataclass(frozen=True)
class PhotoTaken:
    photo: Photo  # read, upright and downscaled; being prepared for questions next


@dataclass(frozen=True)
class Queued:
    ahead: int  # questions before this one (the one running included)


@dataclass(frozen=True, eq=False)
class Heard:
    check: SpeechCheck  # length, loudness, whether a voice was heard
    recording: Recording  # the decoded samples

    def spectrogram_png(self) -> bytes:
        """A picture of the recording (its text alternative is ``check.describe()``)."""
        from .audio import spectrogram_png

        return spectrogram_png(self.recording.samples)


@dataclass(frozen=True)
class Transcribed:
    transcript: Transcript


@dataclass(frozen=True)
class Asked:
    question: str  # the question as the model gets it: typed, or heard
    language: str  # the question's language, detected once


@dataclass(frozen=True)
class AnswerText:
    text: str  # the next piece of the answer


@dataclass(frozen=True)
class AnswerAudio:
    speech: Speech
    index: int  # 0 for the first sentence
    text: str  # the sentence spoken


@dataclass
class Answer:
    question: str
    language: str  # language of the answer (and of its speech)
    text: str
    question_language: str = ""  # language of the question
    speech: Speech | None = None  # the whole answer as one clip
    transcript: Transcript | None = None  # when the question was spoken
    speech_error: str = ""  # when no voice could speak; the text is still there
    engines: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds, from the end of the question


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Union[Loading, PhotoTaken, Queued, Heard, Transcribed, Asked, AnswerText, AnswerAudio, Done]


# --- the front door ------------------------------------------------------------------------
class Pipeline:
    """SeeSay on the models of one process (:class:`~core.engines.Models`), for any number of visitors."""

    def __init__(self, settings: Settings, models: Models | None = None) -> None:
        self.settings = settings
        self.models = models or Models(settings)

    def take_photo(self, data: bytes, choices: Choices = Choices(), *, spoken: bool = True) -> Iterator[Event]:
        """Read a photo (raises ImageError), then prepare it for questions on the shared model.

        On a fresh process every model a question about it can need (speech recognition too when
        questions may be ``spoken``) is loaded here, so that loading is said once, before the first
        work it delays. A model that cannot be loaded does not stop the
        photo: the reason is said when a question needs that model.
        """
        from .images import load_photo

        conf = self.settings
        photo = load_photo(data, max_bytes=conf.max_image_bytes, max_pixels=conf.max_image_pixels,
                           max_side=conf.image_max_side)
        yield PhotoTaken(photo)
        waiting = self.models.unloaded(choices, spoken=spoken, speak=choices.speak)
        if waiting:
            yield Loading(tuple(waiting))
        try:
            vlm = self.models.vlm()
        except SeeSayError:
            vlm = None
        if vlm is not None:
            yield from prepare(Engines(vlm=vlm, lock=self.models.lock), photo)
        self.models.preload(choices, spoken=spoken, speak=choices.speak)

    def ask(self, photo: Photo, question: Union[str, bytes], history: Sequence[Turn] = (),
            choices: Choices = Choices(), *, detail: bool = False, max_tokens: int | None = None,
            min_tokens: int = 0) -> Iterator[Event]:
        """Answer ``question`` (text, or a recording's bytes) about ``photo``; see the module's doc."""
        spoken = isinstance(question, (bytes, bytearray))
        options = ask_options(self.settings, choices, detail=detail, max_tokens=max_tokens, min_tokens=min_tokens)
        waiting = self.models.unloaded(choices, spoken=spoken, speak=options.speak)
        if waiting:
            yield Loading(tuple(waiting))
        engines, voice_problem = self.models.engines(choices, spoken=spoken)
        for event in ask(engines, photo, bytes(question) if spoken else question, history, options):
            if isinstance(event, Done) and voice_problem and options.speak and not event.answer.speech_error:
                event.answer.speech_error = voice_problem
            yield event

    def speak(self, text: str, language: str, choices: Choices = Choices()) -> Speech:
        """``text`` in the visitor's voice (the offline voice if that fails). Raises SpeechSynthesisError."""
        voice, problem = self.models.voice_for(choices)
        if voice is None:
            raise SpeechSynthesisError("No voice could speak just now.", problem or "The text is on the page.")
        return voice.synthesize(text, language)


# --- the work, on engines passed in ----------------------------------------------------------
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
) -> Iterator[Event]:
    """Answer ``question`` (text, or the bytes of a recording) about ``photo``. See the module's doc."""
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
    notes = [language_note(language_name(options.language))] if options.language else []

    answer = Answer(question=text, language=language, text="", question_language=asked_in, transcript=transcript)
    answer.engines = {"vlm": engines.vlm.name}
    if transcript is not None:
        answer.engines["stt"] = transcript.engine

    speaker = Speaker(engines.tts, language) if (options.speak and engines.tts) else None
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
    if speaker:
        rest = pending.strip()
        if rest:
            speaker.say(rest)
        yield from _clips(speaker.finish(), timings, t0)
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


def _clips(ready: Iterator[tuple[int, str, Speech]], timings: dict, t0: float) -> Iterator[AnswerAudio]:
    for index, sentence, speech in ready:
        timings.setdefault("first_audio", time.perf_counter() - t0)
        yield AnswerAudio(speech, index, sentence)
