"""What the pipeline tells its caller, as it happens: one frozen dataclass per kind of event.

The app, the command line and the benchmarks read the same events (see :mod:`core.pipeline` for the
order they come in). :class:`Answer` is the whole of one answer, carried by :class:`Done`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from .audio import Recording, SpeechCheck
    from .checks import Verdict
    from .images import Photo
    from .ocr import Advice, Reading
    from .quality import Quality
    from .stt import Transcript
    from .tts import Speech

__all__ = ["Loading", "PhotoTaken", "QualityMeasured", "TextRead", "Queued", "Heard", "Transcribed", "Asked", "Remark",
           "AnswerText", "AnswerAudio", "Answer", "Done", "Event"]


# --- events --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Loading:
    stages: tuple[str, ...]  # "vlm", "stt", "voice": loaded now, before the work they delay


@dataclass(frozen=True)
class PhotoTaken:
    photo: Photo  # read, upright and downscaled; being prepared for questions next


@dataclass(frozen=True)
class QualityMeasured:
    quality: Quality  # the photo's quality; when it is not ok, its guidance is said before any model runs


@dataclass(frozen=True)
class TextRead:
    reading: Reading  # the text found in the photo, in reading order (kept for the questions about it)
    advice: tuple[Advice, ...] = ()  # how to frame the text better (it runs off an edge, it is too small)


@dataclass(frozen=True)
class Queued:
    ahead: int  # questions before this one (the one running included)


@dataclass(frozen=True, eq=False)
class Heard:
    speech_check: SpeechCheck  # length, loudness, whether a voice was heard
    recording: Recording  # the decoded samples

    def spectrogram_png(self) -> bytes:
        """A picture of the recording (its text alternative is ``speech_check.describe()``)."""
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
class Remark:
    text: str  # something the person should hear with the answer: a note, a warning, advice
    after: bool = False  # said after the answer (advice on what to do next); else before it


@dataclass(frozen=True)
class AnswerText:
    text: str  # the next piece of the answer


@dataclass(frozen=True)
class AnswerAudio:
    speech: Speech
    index: int  # 0 for the first sentence
    text: str  # the sentence spoken


@dataclass(frozen=True)
class Answer:
    """The whole of one answer, made once every stage is done (:func:`core.answering.run`); never changed."""

    question: str  # as the person sees it: what they typed or said, or a quick question's name
    language: str  # language of the answer (and of its speech)
    text: str
    question_language: str = ""  # language of the question
    speech: Speech | None = None  # the whole answer as one clip
    transcript: Transcript | None = None  # when the question was spoken
    speech_error: str = ""  # when no voice could speak; the text is still there
    remarks: tuple[Remark, ...] = ()  # what was said with the answer besides it, before or after it
    confidence: float | None = None  # 0..1 from the model's own token probabilities; None: unknown
    agreement: float | None = None  # 0..1 between the answer and answers sampled again; None: not measured
    hedged: bool = False  # the spoken answer began "I am not sure, but ..."
    unanswerable: bool = False  # the model said the photo cannot answer; the text says what to change
    double_check: Verdict | None = None  # the answer against the label, for medicine, money, allergens, dates
    engines: dict[str, str] = field(default_factory=dict)  # stage -> the engine that did it ("vlm", "tts", ...)
    timings: dict[str, float] = field(default_factory=dict)  # seconds, from the end of the question


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Union[Loading, PhotoTaken, QualityMeasured, TextRead, Queued, Heard, Transcribed, Asked, Remark, AnswerText,
              AnswerAudio, Done]
