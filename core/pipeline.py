"""Photo + question (spoken or typed) + conversation so far -> a spoken answer, as events.

:class:`Pipeline` is the one way to the models for the app, the command line and the benchmarks:

* :meth:`Pipeline.take_photo` reads a photo, checks its quality, prepares it for questions and reads
  its text;
* :meth:`Pipeline.ask` answers a question about it, with the text found in it as reference;
* :meth:`Pipeline.quick` answers a quick question (:mod:`core.quick`): "Read the text" by the text
  reader, word for word; the others by the model, with their own prompts;
* :meth:`Pipeline.speak` says a text ("Speak this answer", a message) with the visitor's voice.

Questions are answered by the stages of :mod:`core.answering`, put together by
:func:`core.answering.compose`. The engines come from :class:`~core.engines.Models` (tests and benchmarks
give it their own through :class:`~core.engines.Loaders`).

They are generators of events (:mod:`core.events`); what a person can act on is raised as
:class:`~core.errors.SeeSayError`. In the order they can come:

* ``PhotoTaken(photo)``        the photo has been read (``take_photo``);
* ``QualityMeasured(quality)`` its quality: when it is not ok, its guidance comes first and no model
                               runs until the person asks anyway;
* ``Loading(stages)``          the models this work needs are being loaded first (once per process,
                               said by the work that begins the load);
* ``Queued(ahead)``            the shared model is busy with other people's work;
* ``TextRead(reading)``        the text in the photo, in reading order, and framing advice;
* ``Heard(speech_check, ...)`` a recording has been decoded and checked for speech (draw it now);
* ``Transcribed(...)``         a spoken question has been written down;
* ``Asked(text, lang)``        the question, as SeeSay understood it;
* ``Remark(text)``             something said with the answer (a note before it, advice after it);
* ``AnswerText(text)``         each piece of the answer as the model writes it;
* ``AnswerAudio(...)``         each sentence's speech, in order, while the model writes the next one;
* ``Done(answer)``             the whole answer, its whole audio, timings per stage.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Union

from .answering import Question, compose, in_turn, run
from .confidence import hedge, in_words
from .engines import Choices, Models, answer_tokens
from .errors import SeeSayError, SpeechSynthesisError
from .i18n import N_, translator, words_language
from .events import (Answer, AnswerAudio, AnswerText, Asked, Done, Event, Heard, Loading, PhotoTaken,
                     QualityMeasured, Queued, Remark, TextRead, Transcribed)
from .quick import QUICK, READ_BY_MODEL, quick_question
from .vlm.prompt import Turn

if TYPE_CHECKING:
    from .aiming import TextCheck
    from .config import Settings
    from .images import Photo
    from .ocr import Reading
    from .tts import Speech

__all__ = [
    "Pipeline", "Choices", "Turn", "Answer", "Event", "Loading", "PhotoTaken", "QualityMeasured", "TextRead",
    "Queued", "Heard", "Transcribed", "Asked", "Remark", "AnswerText", "AnswerAudio", "Done", "QUICK", "DESCRIBE",
    "DESCRIBE_DETAIL", "in_words", "spoken_text",
]

log = logging.getLogger(__name__)

DESCRIBE = "Describe this photo for me."
DESCRIBE_DETAIL = "Describe this photo again, in more detail: everything you can see, and any text, word for word."
#: readings kept, least recently used dropped (a reading is small: text and boxes)
KEPT_READINGS = 32


def spoken_text(answer: str, remarks: Sequence[Remark] = (), hedged: bool = False, language: str = "en") -> str:
    """What is said for an answer, as one text ("Speak this answer"): the notes before it, the answer
    (hedged when it was, the hedge in ``language``, SeeSay's words'), the remarks after it."""
    parts = [r.text for r in remarks if not r.after]
    parts.append(hedge(answer, language) if hedged else answer)
    parts += [r.text for r in remarks if r.after]
    return " ".join(p for p in parts if p)


class Pipeline:
    """SeeSay on the models of one process (:class:`~core.engines.Models`), for any number of visitors."""

    def __init__(self, settings: Settings, models: Models | None = None) -> None:
        self.settings = settings
        self.models = models or Models(settings)
        self._readings: OrderedDict[str, Reading | SeeSayError] = OrderedDict()
        self._readings_lock = threading.Lock()

    # -- photos ----------------------------------------------------------------------------------
    def take_photo(self, data: bytes, choices: Choices = Choices(), *, spoken: bool = True,
                   anyway: bool = False) -> Iterator[Event]:
        """Read a photo (raises ImageError), check its quality, then get it ready for questions.

        A photo too flawed to answer well gets its guidance (``QualityMeasured``) and nothing more,
        unless ``anyway``: no model runs before the person hears it. Otherwise every model a question
        can need (speech recognition too when questions may be ``spoken``) is loaded first, so that
        loading is said once, before the first work it delays; then the model reads the photo ahead
        of the question, in its turn, and the text reader reads its text. A model that cannot be
        loaded does not stop the photo: the reason is said when a question needs it.
        """
        from .images import load_photo
        from .ocr import framing
        from .quality import check_quality

        conf = self.settings
        photo = load_photo(data, max_bytes=conf.max_image_bytes, max_pixels=conf.max_image_pixels,
                           max_side=conf.image_max_side)
        yield PhotoTaken(photo)
        quality = check_quality(photo.image, photo.original_size, words_language(choices))
        yield QualityMeasured(quality)
        if not quality.ok and not anyway:
            return
        with self.models.budget.in_use(photo.key):  # its kept state is not freed while its work goes on
            yield from self.models.load(choices, spoken=spoken)
            try:
                vlm = self.models.vlm()
            except SeeSayError:
                vlm = None
            if vlm is not None:
                yield from in_turn(self.models.lock, lambda: self._prepare(vlm, photo))
            reading = self.reading(photo)
            if not isinstance(reading, SeeSayError):
                yield TextRead(reading, framing(reading, words_language(choices)))  # also without text: too small to read is "move closer"

    @staticmethod
    def _prepare(vlm, photo: Photo) -> None:
        """The model reads the photo ahead of its questions; with no room for it now (the memory budget,
        core.vlm.budget), its first question reads it, or says so then."""
        try:
            vlm.prepare(photo)
        except SeeSayError as error:
            log.warning("the photo was not read ahead of its questions: %s", error.message)

    def reading(self, photo: Photo) -> Reading | SeeSayError:
        """The text in ``photo`` (read once, then kept), or the error that kept the text reader from it."""
        with self._readings_lock:
            if photo.key in self._readings:
                self._readings.move_to_end(photo.key)
                self.models.budget.used(photo.key, "reading")
                return self._readings[photo.key]
        try:
            found: Reading | SeeSayError = self.models.ocr().read(photo.image)
        except SeeSayError as error:  # the text reader is missing or failed: answers go on without it
            log.warning("text reading failed: %s", error.message)
            found = error
        budget = self.models.budget
        with self._readings_lock:
            self._readings[photo.key] = found
            while len(self._readings) > KEPT_READINGS:
                budget.forget(self._readings.popitem(last=False)[0], "reading")
        budget.keep(photo.key, "reading", _reading_bytes(found), lambda: self._forget_reading(photo.key))
        return found

    def _forget_reading(self, key: str) -> None:
        """Forget a photo's reading (the memory budget): read again if the photo is asked about again."""
        with self._readings_lock:
            self._readings.pop(key, None)

    def guide(self, frame: bytes, photo_side: int) -> TextCheck:
        """The live camera's text check of one small frame (:func:`core.aiming.check_frame`), judged for the photo
        SeeSay would keep of a camera picture ``photo_side`` pixels long. Raises SeeSayError (ImageError,
        ModelUnavailableError, TextReadingError)."""
        from .aiming import check_frame

        keep = min(photo_side, self.settings.image_max_side) if photo_side > 0 else self.settings.image_max_side
        return check_frame(frame, self.models.ocr(), photo_side=keep)

    # -- questions -------------------------------------------------------------------------------
    def ask(self, photo: Photo, question: Union[str, bytes], history: Sequence[Turn] = (),
            choices: Choices = Choices(), *, detail: bool = False, max_tokens: int | None = None,
            min_tokens: int = 0, samples: int | None = None) -> Iterator[Event]:
        """Answer ``question`` (text, or a recording's bytes) about ``photo``; see the module's doc.
        ``samples``: answers sampled again for the agreement (default: SEESAY_CONFIDENCE_SAMPLES)."""
        with self.models.budget.in_use(photo.key):  # its kept state is not freed while it is asked about
            yield from self._ask(photo, question, history, choices, detail=detail, max_tokens=max_tokens,
                                 min_tokens=min_tokens, samples=samples)

    def _ask(self, photo: Photo, question: Union[str, bytes], history: Sequence[Turn], choices: Choices, *,
             detail: bool, max_tokens: int | None, min_tokens: int, samples: int | None) -> Iterator[Event]:
        spoken = isinstance(question, (bytes, bytearray))
        yield from self.models.load(choices, spoken=spoken)
        asked = Question(
            photo, text="" if spoken else question, recording=bytes(question) if spoken else None,
            history=tuple(history), language=choices.language, ui_language=choices.ui_language,
            reading=self.reading(photo),
            max_new_tokens=max_tokens or answer_tokens(self.settings, choices, detail=detail),
            min_new_tokens=min_tokens, samples=self.settings.confidence_samples if samples is None else samples)
        engines = self.models.engines(choices, spoken=spoken)
        yield from run(asked, compose(engines, self.settings, speak=choices.speak))

    def quick(self, photo: Photo, name: str, history: Sequence[Turn] = (),
              choices: Choices = Choices()) -> Iterator[Event]:
        """A quick question (:data:`core.quick.QUICK`), shown as its name; "read" is answered by the text
        reader, or, when it could not read the photo, by the model, and the person is told so."""
        with self.models.budget.in_use(photo.key):  # its kept state is not freed while it is asked about
            yield from self._quick(photo, name, history, choices)

    def _quick(self, photo: Photo, name: str, history: Sequence[Turn], choices: Choices) -> Iterator[Event]:
        chosen = quick_question(name)
        reading = self.reading(photo)
        read_aloud = chosen.name == "read" and not isinstance(reading, SeeSayError)
        yield from self.models.load(choices, spoken=False, model=not read_aloud)
        words = words_language(choices)  # its name is SeeSay's own words: in the language of SeeSay's words
        asked = Question(
            photo, text=chosen.label if read_aloud else chosen.prompt or READ_BY_MODEL, history=tuple(history),
            shown=translator(words)(chosen.label), asked_in="en", words=words,  # the model's prompt is English
            language="" if read_aloud else choices.language, reading=reading,
            max_new_tokens=answer_tokens(self.settings, choices, detail=chosen.detail or chosen.name == "read"),
            samples=self.settings.confidence_samples)
        engines = self.models.engines(choices, spoken=False, model=not read_aloud)
        yield from run(asked, compose(engines, self.settings, speak=choices.speak, read_aloud=read_aloud))

    # -- speech on demand --------------------------------------------------------------------------
    def speak(self, text: str, language: str, choices: Choices = Choices()) -> Speech:
        """``text`` in the visitor's voice (the offline voice if that fails). Raises SpeechSynthesisError."""
        voice, problem = self.models.voice_for(choices)
        if voice is None:
            raise SpeechSynthesisError(N_("No voice could speak just now."), problem or N_("The text is on the page."))
        return voice.synthesize(text, language)


def _reading_bytes(reading: Reading | SeeSayError) -> int:
    """About what a kept reading holds (its words and their boxes): a few kilobytes."""
    if isinstance(reading, SeeSayError):
        return 1024
    return 1024 + 4 * len(reading.text) + 256 * len(reading.lines)
