"""The judge stage: how sure the model was of its answer, and whether the answer is hedged. Decided here only."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..confidence import THRESHOLD, agreement, confidence
from ..events import AnswerText, Event, Remark
from ..i18n import N_, translator
from ..speaker import split_sentences
from .base import Draft, Question, Rest

if TYPE_CHECKING:
    from ..vlm import Token

__all__ = ["Judge", "DIFFERENT_AGAIN"]

#: said after an answer the model did not give again when asked again (SEESAY_CONFIDENCE_SAMPLES)
DIFFERENT_AGAIN = N_("Careful: asked again, I did not give the same answer, so I am not sure of this one.")


class Judge:
    """Whether the answer is hedged ("I am not sure, but ...") is decided once, as soon as its first sentence
    has ended (it is spoken then, before the rest is written), on the tokens that spell what was written by
    then; an answer shorter than a sentence is judged whole. "I cannot tell" is never hedged. Once the answer
    is written, its confidence (:mod:`core.confidence`): its tokens', lowered by any disagreement with the
    answers written again, and said when the hedge did not already say it."""

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        for event in rest(question):
            if isinstance(event, AnswerText) and draft.hedged is None and (
                    draft.unanswerable or split_sentences(draft.text)[0]):
                draft.hedged = _hedged(draft, written(draft.tokens, len(draft.text)))
            yield event
        if draft.hedged is None:
            draft.hedged = _hedged(draft, draft.tokens)
        sure = confidence(draft.tokens).value
        draft.agreement = agreement(draft.text, draft.samples) if draft.samples else None
        # a model that answers differently when asked again is not sure, whatever its probabilities say
        draft.confidence = min((v for v in (sure, draft.agreement) if v is not None), default=None)
        if draft.agreement is not None and draft.agreement < THRESHOLD and not draft.hedged:
            yield Remark(translator(question.words_language)(DIFFERENT_AGAIN), after=True)


def _hedged(draft: Draft, tokens: Sequence[Token]) -> bool:
    return not draft.unanswerable and confidence(tokens).unsure


def written(tokens: Sequence[Token], length: int) -> list[Token]:
    """The tokens that spell the first ``length`` characters of the answer: the same whatever the engine has
    computed beyond them by now, so the hedge does not depend on timing."""
    out, spelled = [], 0
    for token in list(tokens):  # a copy: the engine may still be appending on its own thread
        spelled += len(token.text)
        if spelled > length + 1:  # +1: a leading space the answer's cleaning drops
            break
        out.append(token)
    return out
