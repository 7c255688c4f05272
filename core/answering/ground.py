"""The ground stage: the answer grounded in the text the text reader found in the photo."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ..errors import SeeSayError, TextReadingError
from ..events import Event, Remark
from ..i18n import N_, translator
from ..vlm.prompt import reference_note
from .base import Draft, Question, Rest

__all__ = ["Ground", "TEXT_READER_DOWN", "TEXT_UNREAD"]

#: said before an answer when the text reader could not run, or could not read this photo
TEXT_READER_DOWN = N_("The text reader is not working right now, so this answer comes from the answering "
                      "model alone, which often misreads text.")
TEXT_UNREAD = N_("I could not read the text in this photo with the text reader, so this answer comes from the "
                 "answering model alone, which often misreads text.")


class Ground:
    """The words found in the photo go to the model as a note after the question (the model misreads small
    print; the reader does not); when the photo could not be read, the person is told so before the answer."""

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        reading = question.reading
        if isinstance(reading, SeeSayError):
            said = TEXT_UNREAD if isinstance(reading, TextReadingError) else TEXT_READER_DOWN
            yield Remark(translator(question.words_language)(said))
        elif reading is not None and reading.has_text:
            question = dataclasses.replace(question, notes=(*question.notes, reference_note(reading.text)))
        yield from rest(question)
