"""The record stage: each answer's timings in the log; its words only when debugging is switched on."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from ..events import Event
from .base import Draft, Question, Rest

__all__ = ["Record"]

log = logging.getLogger("core.answering")


class Record:
    """Logs how long each stage took and how sure the answer is, once it is done. ``content`` (SEESAY_DEBUG)
    adds the question and the answer: the person's own words, so never by default."""

    def __init__(self, content: bool = False) -> None:
        self.content = content

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        yield from rest(question)
        if log.isEnabledFor(logging.INFO):
            log.info("answered in %.2fs (%s); confidence %s", time.perf_counter() - draft.started,
                     ", ".join(f"{k} {v:.2f}s" for k, v in draft.timings.items()), draft.confidence)
        if self.content:
            log.info("question (%s): %r; answer: %r", question.answer_language,
                     draft.asked.question if draft.asked else question.text, draft.text)
