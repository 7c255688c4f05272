"""What every answering stage shares: the :class:`Question` that flows down, the :class:`Draft` each stage
writes its findings into, and the :class:`Stage` protocol."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Union

from ..events import Answer, AnswerAudio, AnswerText, Asked, Event, Remark, Transcribed

if TYPE_CHECKING:
    from ..checks import Verdict
    from ..errors import SeeSayError
    from ..images import Photo
    from ..ocr import Reading
    from ..stt import Transcript
    from ..tts import Speech
    from ..vlm import Token
    from ..vlm.prompt import Turn

__all__ = ["Question", "Draft", "Stage", "Rest"]


@dataclass(frozen=True)
class Question:
    """One question on its way down the stages: what was asked, about which photo, and how to answer it.

    A stage that learns something the stages after it need (the words heard, a note for the model)
    passes them a changed copy (``dataclasses.replace``); no stage changes it in place.
    """

    photo: Photo
    text: str = ""  # as typed; once heard, as heard
    recording: bytes | None = None  # a spoken question's recording, until the hear stage has heard it
    history: tuple[Turn, ...] = ()  # the conversation so far about this photo
    shown: str = ""  # what the person sees as their question; "" = the text (a quick question: its name)
    asked_in: str = ""  # the question's language; "" = found when it is heard
    language: str = ""  # the language the person chose for answers; "" = the question's
    ui_language: str = ""  # SeeSay's words until this question's language is known (Choices.ui_language)
    words: str = ""  # SeeSay's words' language when decided before (a quick question's name is SeeSay's)
    reading: Union[Reading, SeeSayError, None] = None  # the text in the photo, or why it could not be read
    notes: tuple[str, ...] = ()  # lines for the model after the question (the text found in the photo)
    max_new_tokens: int = 200  # answer length limit
    min_new_tokens: int = 0  # benchmarks force a length; 0 for people
    samples: int = 0  # answers written again with sampling, for the agreement (the confidence)

    @property
    def answer_language(self) -> str:
        """The language of the answer and of its speech."""
        return self.language or self.asked_in or "en"

    @property
    def words_language(self) -> str:
        """The language of SeeSay's own words about this question (remarks, hedges, advice, errors): the
        one rule, :func:`core.i18n.words_language`."""
        from ..i18n import choose, supported

        return supported(self.words) or choose(self.language, self.asked_in, self.ui_language)


@dataclass
class Draft:
    """One answer in the making. Each field has one writer, named here; :func:`core.answering.run` turns the
    draft into the :class:`~core.events.Answer` that ``Done`` carries once every stage is done, and keeps what
    the events tell it (:meth:`saw`)."""

    question: Question  # as it was asked, before any stage
    started: float = field(default_factory=time.perf_counter)
    asked: Asked | None = None  # run: the question as understood
    transcript: Transcript | None = None  # run: a spoken question's transcript
    remarks: list[Remark] = field(default_factory=list)  # run: said with the answer, in order
    text: str = ""  # the stage that writes the answer (the model's, or the text reader's words)
    tokens: list[Token] = field(default_factory=list)  # Generate: the model's tokens and their probabilities
    samples: list[str] = field(default_factory=list)  # Generate: the answer written again, with sampling
    unanswerable: bool = False  # Generate: the photo cannot answer; the text says what to change
    hedged: bool | None = None  # Judge: decided once, with the first sentence
    confidence: float | None = None  # Judge
    agreement: float | None = None  # Judge
    double_check: Verdict | None = None  # DoubleCheck
    speech: Speech | None = None  # Speak: the whole answer as one clip
    speech_error: str = ""  # Speak: why no voice spoke (the text is still there)
    engines: dict[str, str] = field(default_factory=dict)  # each stage: the engine it used
    timings: dict[str, float] = field(default_factory=dict)  # each stage: its own seconds; run: the marks

    def saw(self, event: Event) -> None:
        """Keep what ``event`` tells about the answer, and when it came (seconds from the start)."""
        at = time.perf_counter() - self.started
        if isinstance(event, Asked):
            self.asked = event
            self.timings.setdefault("transcript", at)
        elif isinstance(event, Transcribed):
            self.transcript = event.transcript
        elif isinstance(event, Remark):
            self.remarks.append(event)
        elif isinstance(event, AnswerText):
            self.timings.setdefault("first_token", at)
        elif isinstance(event, AnswerAudio):
            self.timings.setdefault("first_audio", at)

    def answer(self) -> Answer:
        """The whole answer, as the stages left it."""
        q = self.question
        asked = self.asked or Asked(q.shown or q.text, q.asked_in or "en")
        return Answer(
            question=asked.question, language=q.language or asked.language, text=self.text.strip(),
            question_language=asked.language, speech=self.speech, transcript=self.transcript,
            speech_error=self.speech_error, remarks=tuple(self.remarks), confidence=self.confidence,
            agreement=self.agreement, hedged=bool(self.hedged), unanswerable=self.unanswerable,
            double_check=self.double_check, engines=dict(self.engines),
            timings={**self.timings, "total": time.perf_counter() - self.started})


#: the stages after this one, as one: hand it the question (changed or not), pass its events up
Rest = Callable[[Question], Iterator[Event]]


class Stage(Protocol):
    """One step of answering. The question flows down through the stages, their events flow up."""

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        """Do this stage's part: work before (yielding its own events), ``yield from rest(question)`` once
        (the events of the stages after it pass up through here, to be passed on, acted on or added to),
        then work after. Findings go into ``draft``, each in the field this stage writes."""
