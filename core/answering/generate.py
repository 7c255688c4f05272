"""The generate stage: the model writes the answer, piece by piece, and never says the bare "Unanswerable"."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import GenerationError
from ..events import AnswerText, Event
from ..honesty import ANSWERABLE_NOTE, Answerability, cannot_tell
from ..i18n import N_
from ..vlm.prompt import language_note
from .base import Draft, Question, Rest

if TYPE_CHECKING:
    from ..vlm import VisionLanguageModel

__all__ = ["Generate"]


class Generate:
    """``AnswerText`` for each piece the model writes. The model may say the photo cannot answer
    (:data:`~core.honesty.ANSWERABLE_NOTE`): that word is held back, the model stopped, and what to change
    said instead (:mod:`core.honesty`). Where asked (``Question.samples``) and the engine can, the answer is
    written again with sampling, for the judge's agreement; the turn on the model is still this question's."""

    def __init__(self, vlm: VisionLanguageModel) -> None:
        self.vlm = vlm

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        from ..language import language_name

        draft.engines["vlm"] = self.vlm.name
        notes = [*question.notes, ANSWERABLE_NOTE]
        if question.language:
            notes.append(language_note(language_name(question.language)))
        t = time.perf_counter()
        yield from self._write(question, notes, draft)
        draft.timings["generate"] = time.perf_counter() - t
        if not draft.text.strip():
            raise GenerationError(N_("I could not come up with an answer."),
                                  N_("Please ask again, perhaps in other words."))
        if question.samples and self.vlm.can_sample and not draft.unanswerable:
            t = time.perf_counter()  # while the answer is being spoken
            draft.samples = [self.vlm.sample(question.photo, list(question.history), question.text,
                                             max_new_tokens=question.max_new_tokens, notes=notes, seed=seed)
                             for seed in range(question.samples)]
            draft.timings["samples"] = time.perf_counter() - t
        yield from rest(question)

    def _write(self, question: Question, notes: list[str], draft: Draft) -> Iterator[Event]:
        gate = Answerability()
        pieces = self.vlm.stream(question.photo, list(question.history), question.text,
                                 max_new_tokens=question.max_new_tokens, min_new_tokens=question.min_new_tokens,
                                 notes=notes, tokens=draft.tokens)
        try:
            for piece in pieces:
                shown = gate.feed(piece or "")
                if gate.unanswerable:
                    break  # the model says the photo cannot answer: stop it, and say what to change instead
                if shown:
                    draft.text += shown
                    yield AnswerText(shown)
            else:
                shown = gate.finish()
                if shown:
                    draft.text += shown
                    yield AnswerText(shown)
        finally:
            pieces.close()
        if gate.unanswerable:
            draft.unanswerable, draft.text = True, cannot_tell(question.text, question.words_language)
            yield AnswerText(draft.text)
