"""The double-check stage: what matters in an answer, held against the label, said after it."""

from __future__ import annotations

from collections.abc import Iterator

from ..checks import REMINDER, domain, double_check
from ..errors import SeeSayError
from ..events import Event, Remark
from ..honesty import asks_about_text
from ..i18n import translator
from .base import Draft, Question, Rest

__all__ = ["DoubleCheck"]


class DoubleCheck:
    """Once the answer is written: for medicine, money, allergens and dates, its values compared with the
    text found on the label (:mod:`core.checks`), and the reminder to check with someone sighted; with a
    question about text, how to frame the text better (it runs off an edge, it is too small)."""

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        yield from rest(question)
        reading = question.reading
        unread = reading is None or isinstance(reading, SeeSayError)
        label = None if unread else reading.text if reading.has_text else ""  # the words on it; None: unread
        answer = draft.text.strip()
        language = question.words_language
        draft.double_check = double_check(question.text, answer, label, language) if label is not None else None
        remarks = []
        if asks_about_text(question.text) and label is not None:
            from ..ocr import framing

            remarks += [advice.guidance for advice in framing(reading, language)]
        if draft.double_check is not None:
            remarks += draft.double_check.remarks
        elif label is None and domain(question.text, answer):
            remarks.append(translator(language)(REMINDER))  # nothing to check against: the reminder all the same
        for remark in remarks:
            yield Remark(remark, after=True)
