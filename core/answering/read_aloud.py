"""The read-aloud stage: "Read the text" answered by the text reader, word for word, never by the model."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import SeeSayError
from ..events import AnswerText, Event, Remark
from ..i18n import translator
from .base import Draft, Question, Rest

__all__ = ["ReadAloud"]


class ReadAloud:
    """In place of the model: the text reader's words exactly as found (or that there are none), then how
    to frame the text better. The question's reading must be one (the model reads when the reader could not)."""

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        from ..ocr import NO_TEXT, framing

        reading = question.reading
        if reading is None or isinstance(reading, SeeSayError):
            raise ValueError("ReadAloud needs the text reader's reading of the photo")
        draft.engines["ocr"] = reading.engine
        language = question.words_language
        draft.text = reading.text if reading.has_text else translator(language)(NO_TEXT)
        yield AnswerText(draft.text)
        for advice in framing(reading, language):  # also without text: text too small to read is "move closer"
            yield Remark(advice.guidance, after=True)
        yield from rest(question)
