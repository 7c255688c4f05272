"""Photo + question (spoken or typed) + conversation so far -> a spoken answer, as events.

:class:`Pipeline` is the one way to the models for the app, the command line and the benchmarks:

* :meth:`Pipeline.take_photo` reads a photo, checks its quality, prepares it for questions and reads
  its text;
* :meth:`Pipeline.ask` answers a question about it, with the text found in it as reference;
* :meth:`Pipeline.quick` answers a quick question (:mod:`core.quick`): "Read the text" by the text
  reader, word for word; the others by the model, with their own prompts;
* :meth:`Pipeline.speak` says a text ("Speak this answer", a message) with the visitor's voice.

They are generators of events (:mod:`core.events`); what a person can act on is raised as
:class:`~core.errors.SeeSayError`. In the order they can come:

* ``PhotoTaken(photo)``    the photo has been read (``take_photo``);
* ``Checked(quality)``     its quality: when it is not ok, its guidance comes first and no model runs
                           until the person asks anyway;
* ``Loading(stages)``      the models this work needs are being loaded first (once per process);
* ``Queued(ahead)``        the shared model is busy with other people's work;
* ``TextRead(reading)``    the text in the photo, in reading order, and framing advice;
* ``Heard(check, ...)``    a recording has been decoded and checked for speech (draw it now);
* ``Transcribed(...)``     a spoken question has been written down;
* ``Asked(text, lang)``    the question, as SeeSay understood it;
* ``Remark(text)``         something said with the answer (a note before it, advice after it);
* ``AnswerText(text)``     each piece of the answer as the model writes it;
* ``AnswerAudio(...)``     each sentence's speech, in order, while the model writes the next one;
* ``Done(answer)``         the whole answer, its whole audio, timings per stage.

:func:`ask` and :func:`prepare` (:mod:`core.answering`) are the same work on engines passed in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Union

from .answering import ask, prepare
from .engines import AskOptions, Choices, Engines, Models, ask_options
from .errors import SeeSayError, SpeechSynthesisError
from .events import (Answer, AnswerAudio, AnswerText, Asked, Checked, Done, Event, Heard, Loading, PhotoTaken,
                     Queued, Remark, TextRead, Transcribed)
from .confidence import hedge, in_words
from .quick import QUICK, READ_BY_MODEL, quick
from .speaker import split_sentences
from .vlm.prompt import Turn, reference_note

if TYPE_CHECKING:
    from .aiming import TextCheck
    from .config import Settings
    from .images import Photo
    from .ocr import Reading
    from .tts import Speech

__all__ = [
    "Pipeline", "Engines", "AskOptions", "Choices", "Turn", "Answer", "Event", "Loading", "PhotoTaken", "Checked",
    "TextRead", "Queued", "Heard", "Transcribed", "Asked", "Remark", "AnswerText", "AnswerAudio", "Done", "ask",
    "prepare", "split_sentences", "QUICK", "DESCRIBE", "DESCRIBE_DETAIL", "in_words", "spoken_text", "with_reading",
]

log = logging.getLogger(__name__)

DESCRIBE = "Describe this photo for me."
DESCRIBE_DETAIL = "Describe this photo again, in more detail: everything you can see, and any text, word for word."
#: said with an answer when the text reader could not run, or could not read this photo
TEXT_READER_DOWN = ("The text reader is not working right now, so this answer comes from the answering "
                    "model alone, which often misreads text.")
TEXT_UNREAD = ("I could not read the text in this photo with the text reader, so this answer comes from the "
               "answering model alone, which often misreads text.")
#: readings kept, least recently used dropped (a reading is small: text and boxes)
KEPT_READINGS = 32


def _unread(error: SeeSayError) -> str:
    from .errors import TextReadingError

    return TEXT_UNREAD if isinstance(error, TextReadingError) else TEXT_READER_DOWN


def spoken_text(answer: str, remarks: Sequence[Remark] = (), hedged: bool = False) -> str:
    """What is said for an answer, as one text ("Speak this answer"): the notes before it, the answer
    (hedged when it was), the remarks after it."""
    parts = [r.text for r in remarks if not r.after]
    parts.append(hedge(answer) if hedged else answer)
    parts += [r.text for r in remarks if r.after]
    return " ".join(p for p in parts if p)


def with_reading(reading: Reading | SeeSayError) -> dict:
    """The keyword arguments of :func:`ask` that come from the text reader's reading of the photo: the
    words found as a note for the model, the double-check's label, the framing advice; or, when it
    could not read, the remark that says so."""
    from .ocr import framing

    if isinstance(reading, SeeSayError):
        return {"before": [_unread(reading)], "label": None}
    return {"notes": [reference_note(reading.text)] if reading.has_text else [],
            "label": reading.text if reading.has_text else "",
            "framing": [advice.guidance for advice in framing(reading)]}


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

        A photo too flawed to answer well gets its guidance (``Checked``) and nothing more, unless
        ``anyway``: no model runs before the person hears it. Otherwise, on a fresh process, every
        model a question can need (speech recognition too when questions may be ``spoken``) is
        loaded here, so that loading is said once, before the first work it delays; the model
        reads the photo ahead of the question, and the text reader reads its text. A model that
        cannot be loaded does not stop the photo: the reason is said when a question needs it.
        """
        from .images import load_photo
        from .quality import check_quality

        conf = self.settings
        photo = load_photo(data, max_bytes=conf.max_image_bytes, max_pixels=conf.max_image_pixels,
                           max_side=conf.image_max_side)
        yield PhotoTaken(photo)
        quality = check_quality(photo.image, photo.original_size)
        yield Checked(quality)
        if not quality.ok and not anyway:
            return
        waiting = self.models.unloaded(choices, spoken=spoken, speak=choices.speak)
        if waiting:
            yield Loading(tuple(waiting))
        try:
            vlm = self.models.vlm()
        except SeeSayError:
            vlm = None
        if vlm is not None:
            yield from prepare(Engines(vlm=vlm, lock=self.models.lock), photo)
        reading = self.reading(photo)
        if not isinstance(reading, SeeSayError):
            yield TextRead(reading, self._advice(reading))
        self.models.preload(choices, spoken=spoken, speak=choices.speak)

    def reading(self, photo: Photo) -> Reading | SeeSayError:
        """The text in ``photo`` (read once, then kept), or the error that kept the text reader from it."""
        with self._readings_lock:
            if photo.key in self._readings:
                self._readings.move_to_end(photo.key)
                return self._readings[photo.key]
        try:
            found: Reading | SeeSayError = self.models.ocr().read(photo.image)
        except SeeSayError as error:  # the text reader is missing or failed: answers go on without it
            log.warning("text reading failed: %s", error.message)
            found = error
        with self._readings_lock:
            self._readings[photo.key] = found
            while len(self._readings) > KEPT_READINGS:
                self._readings.popitem(last=False)
        return found

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
        spoken = isinstance(question, (bytes, bytearray))
        options = ask_options(self.settings, choices, detail=detail, max_tokens=max_tokens, min_tokens=min_tokens,
                              samples=samples)
        waiting = self.models.unloaded(choices, spoken=spoken, speak=options.speak)
        if waiting:
            yield Loading(tuple(waiting))
        engines, voice_problem = self.models.engines(choices, spoken=spoken)
        events = ask(engines, photo, bytes(question) if spoken else question, history, options,
                     **with_reading(self.reading(photo)))
        yield from self._with_voice_problem(events, voice_problem, options)

    def quick(self, photo: Photo, name: str, history: Sequence[Turn] = (),
              choices: Choices = Choices()) -> Iterator[Event]:
        """A quick question (:data:`core.quick.QUICK`); "read" is answered by the text reader."""
        asked = quick(name)
        if asked.name != "read":  # the model gets the prompt; the person hears and sees the button's name
            for event in self.ask(photo, asked.prompt, history, choices, detail=asked.detail):
                if isinstance(event, Asked):
                    event = Asked(asked.label, "en")
                elif isinstance(event, Done):
                    event.answer.question = asked.label
                yield event
            return
        reading = self.reading(photo)
        if isinstance(reading, SeeSayError):  # the model reads instead, and the person is told so
            options = ask_options(self.settings, choices, detail=True)
            waiting = self.models.unloaded(choices, spoken=False, speak=options.speak)
            if waiting:
                yield Loading(tuple(waiting))
            engines, voice_problem = self.models.engines(choices, spoken=False)
            events = ask(engines, photo, READ_BY_MODEL, history, options, before=[_unread(reading)])
            yield from self._with_voice_problem(events, voice_problem, options)
            return
        yield from self._read_aloud(photo, asked.label, reading, choices)

    def _read_aloud(self, photo: Photo, label: str, reading: Reading, choices: Choices) -> Iterator[Event]:
        """The text reader's words, exactly as found (or that there are none), spoken like an answer."""
        from .ocr import NO_TEXT
        from .speaker import Speaker

        t0 = time.perf_counter()
        options = ask_options(self.settings, choices)
        voice, problem = self.models.voice_for(choices) if options.speak else (None, "")
        yield Asked(label, "en")
        text = reading.text if reading.has_text else NO_TEXT
        advice = [a.guidance for a in self._advice(reading)]
        answer = Answer(question=label, language="en", text=text, question_language="en",
                        engines={"ocr": reading.engine}, remarks=tuple(Remark(a, after=True) for a in advice))
        yield AnswerText(text)
        yield from answer.remarks
        if voice is not None:
            speaker = Speaker(voice, "en")
            for line in [*text.splitlines(), *advice]:
                if line.strip():
                    speaker.say(line)
            for index, sentence, speech in speaker.finish():
                answer.timings.setdefault("first_audio", time.perf_counter() - t0)
                yield AnswerAudio(speech, index, sentence)
            answer.speech, answer.speech_error = speaker.joined(), speaker.error
            if answer.speech is not None:
                answer.engines["tts"] = answer.speech.engine
        elif options.speak:
            answer.speech_error = problem
        answer.timings["total"] = time.perf_counter() - t0
        yield Done(answer)

    @staticmethod
    def _advice(reading: Reading) -> tuple:
        from .ocr import framing

        return framing(reading)  # also without text: text too small to read is "move closer", not "no text"

    @staticmethod
    def _with_voice_problem(events: Iterator[Event], problem: str, options: AskOptions) -> Iterator[Event]:
        for event in events:
            if isinstance(event, Done) and problem and options.speak and not event.answer.speech_error:
                event.answer.speech_error = problem
            yield event

    # -- speech on demand --------------------------------------------------------------------------
    def speak(self, text: str, language: str, choices: Choices = Choices()) -> Speech:
        """``text`` in the visitor's voice (the offline voice if that fails). Raises SpeechSynthesisError."""
        voice, problem = self.models.voice_for(choices)
        if voice is None:
            raise SpeechSynthesisError("No voice could speak just now.", problem or "The text is on the page.")
        return voice.synthesize(text, language)
