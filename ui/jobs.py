"""A session's work on the models, done on a thread of its own: a click does not stop it.

Streamlit runs a page's script again on every click (Stop speaking, a setting, another page); an
answer written inside that run was cut off by it and never reached the history. So each question
(and the rest of a new photo's preparation) is a :class:`Job`: one worker thread per session reads
the pipeline's events into the job's plain record (no Streamlit call on that thread), and adds the
answer to the history itself when it is done, whether a page is watching or not. Questions are
answered one at a time, in the order they were asked (``Session.pending``).

Pages only read the record (:mod:`ui.asking`), and count there what they have said and played,
so a rerun says nothing twice; the session wakes the page's run that follows the work
(``Session.poke``) as each piece comes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from core.errors import SeeSayError
from core.i18n import translator
from core.pipeline import AnswerText, Asked, Done, Heard, Loading, Queued, Remark

from .state import Kind, Pending, Session

__all__ = ["Job", "View", "start", "photo_job"]

log = logging.getLogger(__name__)


@dataclass
class View:
    """What a page shows of a job so far."""

    question: str = ""  # the question as SeeSay understood it ("You asked: ...")
    question_language: str = "en"
    text: str = ""  # the answer written so far
    language: str = "en"  # the answer's language
    remarks: tuple = ()  # core Remark events said with the answer
    waiting: str = ""  # what it waits for before the answer starts (the models loading, other people)


@dataclass(eq=False)
class Job:
    """One question being answered (or a new photo being prepared), and what has come of it so far."""

    kind: Optional[Kind]  # None: the rest of a new photo's preparation (loading, reading it)
    question: Union[str, bytes] = ""  # typed text, a recording's bytes, a quick question's name
    conversation: int = 0  # where its answer goes
    photo_key: str = ""  # the photo it is about
    entry_id: int = 0  # the history entry the answer becomes (its clips are named after it)
    clip_id: str = ""  # the player's name for its speech
    speak: bool = True  # the answer is spoken as it is written
    language: str = ""  # the answer language chosen in the settings ("": the question's)
    events: list = field(default_factory=list)  # core events so far, in order
    started: bool = False  # the worker has taken it
    done: bool = False  # no more events will come
    error: Optional[BaseException] = None  # what stopped it (a SeeSayError, or a bug)
    # Kept by the pages (ui.asking), on the script thread only:
    shown: int = 0  # events already said and played
    said: set = field(default_factory=set)  # statuses said once
    closed: bool = False  # its end (answer ready, or the error) has been said
    run: Optional[Callable[[], Iterator[Any]]] = field(default=None, repr=False)  # the pipeline's events
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def spoken(self) -> bool:
        return isinstance(self.question, (bytes, bytearray))

    def snapshot(self) -> tuple[list, bool]:
        """The events so far and whether it is done, as one consistent look."""
        with self._lock:
            return list(self.events), self.done

    def view(self, events: list, _=None) -> View:
        """What ``events`` (from :meth:`snapshot`) show: the question, the answer so far, the wait
        (``_``: SeeSay's words, core.i18n's translator; English without)."""
        view = View(question=self.question if self.kind == Kind.TYPED else "", language=self.language or "en")
        for event in events:
            if isinstance(event, (Loading, Queued)):
                view.waiting = _waiting(event, _ or translator("en"))
            elif isinstance(event, Asked):
                view.question, view.question_language = event.question, event.language
                view.language = self.language or event.language
            elif isinstance(event, AnswerText):
                view.text += event.text
            elif isinstance(event, Remark):
                view.remarks += (event,)
        if view.text:
            view.waiting = ""
        return view

    def _consume(self, session: Session) -> None:
        """Read the pipeline's events into the record (on the worker thread)."""
        try:
            for event in self.run():
                if isinstance(event, Heard):  # its picture is drawn here, off the page's run
                    session.keep_recording_view(event)
                elif isinstance(event, Done):  # in the history before any page hears it is done
                    session.add_entry(kind=self.kind, answer=event.answer, photo_key=self.photo_key,
                                      entry_id=self.entry_id, conversation=self.conversation)
                with self._lock:
                    self.events.append(event)
                session.poke()
        except SeeSayError as error:
            self.error = error
        except Exception as error:  # a bug: the page says sorry, the log keeps the details
            log.exception("bug while answering")
            self.error = error
        if self.error is not None and self.kind == Kind.TYPED:
            session.draft = str(self.question)  # back in the box, to be corrected

    def _finish(self) -> None:
        with self._lock:
            self.done = True


def _waiting(event: Union[Loading, Queued], _) -> str:
    if isinstance(event, Loading):
        return _("Loading SeeSay's models. The first time, this can take a few minutes.")
    return _.ngettext("Waiting for the model: {count} question ahead of yours.",
                      "Waiting for the model: {count} questions ahead of yours.", event.ahead, count=event.ahead)


def photo_job(events: Iterator[Any]) -> Job:
    """The rest of a new photo's preparation (``Pipeline.take_photo`` after ``QualityMeasured``), as a job."""
    return Job(kind=None, run=lambda: events)


def start(session: Session, pipeline: Any) -> None:
    """Make sure the session's worker is running if there is work for it (call after adding work)."""
    with session.lock:
        if session.worker is None:
            session.worker = threading.Thread(target=_work, args=(session, pipeline), daemon=True,
                                              name=f"seesay-answers-{session.nonce}")
            session.worker.start()


def _work(session: Session, pipeline: Any) -> None:
    """The worker: each job in turn, then each question that can be answered, until none is left."""
    job: Optional[Job] = None
    try:
        while True:
            with session.lock:
                # The next job is in the session before this one is marked done, so a page that looks
                # (under the lock) never finds the session idle between two questions.
                upcoming = next((j for j in session.jobs if not j.started), None)
                if upcoming is None:
                    question = session.next_question()
                    if question is not None:
                        upcoming = _question_job(session, pipeline, question)
                        session.jobs.append(upcoming)
                if job is not None:
                    job._finish()
                if upcoming is None:
                    session.worker = None  # under the lock: a question asked from now on starts a new one
                    return
                upcoming.started = True
                job = upcoming
            session.poke()
            job._consume(session)
    finally:  # also when something escapes a job: no page may wait for this worker any longer
        with session.lock:
            if job is not None:
                job._finish()
            if session.worker is threading.current_thread():
                session.worker = None
        session.poke()


def _question_job(session: Session, pipeline: Any, question: Pending) -> Job:
    """A job for ``question``, about its photo, with its conversation so far (under the session's lock)."""
    choices = session.choices()
    turns = session.turns(question.conversation)
    photo, text = question.photo, question.question
    if question.kind == Kind.QUICK:
        def run():
            return pipeline.quick(photo, str(text), turns, choices)
    else:
        def run():
            return pipeline.ask(photo, text, turns, choices, detail=question.detail)
    entry_id = session.reserve_id()
    return Job(kind=question.kind, question=text, conversation=question.conversation, photo_key=photo.key,
               entry_id=entry_id, clip_id=session.clip_id(entry_id), speak=choices.speak,
               language=choices.language, run=run)
