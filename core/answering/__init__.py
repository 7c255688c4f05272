"""Answering a question, as a list of stages: the question flows down through them, events flow up.

Each stage is a callable ``stage(question, draft, rest)`` (:class:`~core.answering.base.Stage`): it does its
part before and after ``rest(question)``, the stages after it, whose events pass up through it to be passed
on, acted on or added to. It hands the stages after it a changed copy of the :class:`Question` when it has
learnt something they need, and writes what it finds into the :class:`Draft`. :func:`run` drives a list of
stages and ends with ``Done``: the draft made into the whole :class:`~core.events.Answer`, once.

:func:`compose` is the one place SeeSay's stages are put together, outermost first:

* :class:`Record`      the timings in the log once the answer is done (the words only with SEESAY_DEBUG);
* :class:`Hear`        a recording heard, checked, written down; the question tidied, its language found;
                       ``Heard``, ``Transcribed``, ``Asked``;
* :class:`Speak`       each sentence spoken as soon as it ends, each remark in its place: ``AnswerAudio``;
* :class:`Ground`      the text found in the photo as a note for the model, or, when it could not be
                       read, a ``Remark`` saying so;
* :class:`DoubleCheck` doses, amounts, allergens, dates held against the label: ``Remark`` after the answer;
* :class:`Judge`       whether the answer is hedged (with its first sentence), its confidence;
* :class:`TakeTurn`    the rest in this question's turn on the shared model: ``Queued``;
* :class:`Generate`    the model writes: ``AnswerText``; "Unanswerable" turned into what to change.

"Read the text" is the same list with :class:`ReadAloud` (the text reader's words) in place of the model
and what needs it. Speaking starts while the model writes: the speak stage transforms the stream as it
passes, it never waits for the end. A stage is added or replaced by changing the list, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..events import Done, Event
from .base import Draft, Question, Rest, Stage
from .double_check import DoubleCheck
from .generate import Generate
from .ground import TEXT_READER_DOWN, TEXT_UNREAD, Ground
from .hear import Hear
from .judge import DIFFERENT_AGAIN, Judge
from .read_aloud import ReadAloud
from .record import Record
from .speak import Speak
from .turn import TakeTurn, in_turn

if TYPE_CHECKING:
    from ..config import Settings
    from ..engines import Engines

__all__ = ["Question", "Draft", "Stage", "Rest", "run", "compose", "in_turn", "Record", "Hear", "Speak",
           "Ground", "DoubleCheck", "Judge", "TakeTurn", "Generate", "ReadAloud", "DIFFERENT_AGAIN",
           "TEXT_READER_DOWN", "TEXT_UNREAD"]


def run(question: Question, stages: Sequence[Stage]) -> Iterator[Event]:
    """``question`` down ``stages`` (the first outermost), their events up, then ``Done`` with the answer."""
    draft = Draft(question)
    for event in _down(question, draft, tuple(stages)):
        draft.saw(event)
        yield event
    yield Done(draft.answer())


def _down(question: Question, draft: Draft, stages: tuple[Stage, ...]) -> Iterator[Event]:
    if not stages:
        return iter(())
    return stages[0](question, draft, lambda changed: _down(changed, draft, stages[1:]))


def compose(engines: Engines, settings: Settings | None = None, *, speak: bool = True,
            read_aloud: bool = False) -> list[Stage]:
    """SeeSay's stages for one question on ``engines``, outermost first; ``settings`` give the limits of a
    question and whether the log may hold its words. ``speak``: the answer is spoken as it is written.
    ``read_aloud``: "Read the text", answered by the text reader (the question carries its reading)."""
    from ..config import Settings

    conf = settings or Settings()
    hear = Hear(engines.stt, max_audio_seconds=conf.max_audio_seconds,
                min_audio_seconds=conf.min_audio_seconds, max_question_chars=conf.max_question_chars)
    voice = [Speak(engines.voice, engines.no_voice)] if speak else []
    if read_aloud:
        return [Record(conf.debug), hear, *voice, ReadAloud()]
    if engines.vlm is None:
        raise ValueError("a question for the model needs the model")
    return [Record(conf.debug), hear, *voice, Ground(), DoubleCheck(), Judge(), TakeTurn(engines.lock),
            Generate(engines.vlm)]
