"""The session's worker (ui/jobs.py): answers written apart from the page's runs, on a scripted pipeline.

No Streamlit run and no model: a page is not needed for an answer to be written and kept, questions
are answered one at a time in the order they were asked, each knowing the answers before it, and a
question waits for its photo and for the person's choice to go on past the photo's guidance.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from core.errors import SeeSayError
from core.pipeline import Answer, AnswerText, Asked, Done, Loading
from core.quality import Finding, Quality
from ui import jobs
from ui.state import Kind, Pending, Session

OK = Quality(findings=(), measures={}, seconds=0.0)
BLURRY = Quality(findings=(Finding("blurred", 0.9, "The photo is blurry."),), measures={}, seconds=0.0)


@dataclass(frozen=True)
class FakePhoto:
    key: str
    original_size: tuple = (64, 48)

    def jpeg(self) -> bytes:
        return b"jpeg"


class ScriptedPipeline:
    """``ask`` answers "answer to <question>" in two pieces; a question in ``held`` waits before its end
    until its event is set; "empty" fails as an empty question does."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list]] = []  # (question, the conversation it was asked with)
        self.held: dict[str, threading.Event] = {}

    def ask(self, photo, question, history=(), choices=None, *, detail=False):
        self.asked.append((question, list(history)))
        if question == "empty":
            raise SeeSayError("The question is empty.", "Type a question, then press Ask.")
        yield Asked(question, "en")
        yield AnswerText("answer ")
        if question in self.held:
            assert self.held[question].wait(10)
        yield AnswerText(f"to {question}")
        yield Done(Answer(question=question, language="en", text=f"answer to {question}",
                          engines={"vlm": "scripted"}))


def answered(s: Session, timeout: float = 10) -> None:
    """Wait until the worker has nothing left it can do."""
    while (worker := s.worker) is not None:
        worker.join(timeout)
        assert not worker.is_alive(), "the worker did not finish"
        assert s.worker is not worker, "the worker stopped without saying so: pages would wait for it forever"


def asking(s: Session, question: str, photo=None) -> None:
    s.pending.append(Pending(question, Kind.TYPED, photo=photo, conversation=s.conversation if photo else 0))


def test_questions_are_answered_in_order_each_knowing_the_answers_before_it_with_no_page_watching():
    s, pipeline, photo = Session(), ScriptedPipeline(), FakePhoto("p1")
    s.set_photo(photo, OK)
    for question in ("first", "second", "third"):
        asking(s, question, photo)
    jobs.start(s, pipeline)
    answered(s)
    asked = ("first", "second", "third")
    assert [(e.question, e.answer) for e in s.entries] == [(q, f"answer to {q}") for q in asked]
    assert [len(history) for _, history in pipeline.asked] == [0, 1, 2]
    assert pipeline.asked[2][1][1].answer == "answer to second"
    assert all(job.done and job.error is None for job in s.jobs) and not s.pending
    # Each answer is kept under the id its clips were named after when it started.
    assert [s.clip_id(e.id) for e in s.entries] == [job.clip_id for job in s.jobs]


def test_a_question_waits_for_its_photo_then_for_the_choice_to_go_on_past_its_guidance():
    s, pipeline, photo = Session(), ScriptedPipeline(), FakePhoto("p1")
    asking(s, "before the photo")
    jobs.start(s, pipeline)
    answered(s)
    assert s.entries == [] and len(s.pending) == 1  # no photo yet: kept
    s.set_photo(photo, BLURRY)
    jobs.start(s, pipeline)
    answered(s)
    assert s.entries == [] and s.pending[0].photo is photo  # its photo came, with guidance: it waits
    s.go_on()
    jobs.start(s, pipeline)
    answered(s)
    assert [e.question for e in s.entries] == ["before the photo"] and not s.pending


def test_while_an_answer_is_written_the_next_question_waits_and_new_photo_forgets_it():
    s, pipeline, photo = Session(), ScriptedPipeline(), FakePhoto("p1")
    pipeline.held["first"] = threading.Event()
    s.set_photo(photo, OK)
    asking(s, "first", photo)
    asking(s, "second", photo)
    jobs.start(s, pipeline)
    while not (s.jobs and s.jobs[0].events):
        threading.Event().wait(0.01)
    conversation = s.conversation
    s.clear_photo()  # "New photo" while the first answer is being written
    assert not s.pending  # the question not yet started about the forgotten photo goes with it
    pipeline.held["first"].set()
    answered(s)
    # The answer being written went on, into the conversation it was asked in.
    assert [(e.question, e.conversation) for e in s.entries] == [("first", conversation)]
    assert s.conversation_entries() == []


def test_a_question_that_fails_is_kept_as_its_error_and_a_typed_one_goes_back_to_the_box():
    s, pipeline, photo = Session(), ScriptedPipeline(), FakePhoto("p1")
    s.set_photo(photo, OK)
    asking(s, "empty", photo)
    asking(s, "after it", photo)
    jobs.start(s, pipeline)
    answered(s)
    failed, next_one = s.jobs
    assert isinstance(failed.error, SeeSayError) and failed.done and s.draft == "empty"
    assert [e.question for e in s.entries] == ["after it"] and next_one.error is None


def test_what_a_job_shows_so_far():
    job = jobs.Job(kind=Kind.TYPED, question="What is it?", language="fr")
    assert job.view([]).question == "What is it?"  # typed: shown as asked before it is understood
    waiting = job.view([Loading(("vlm",))])
    assert waiting.waiting.startswith("Loading") and not waiting.text
    view = job.view([Loading(("vlm",)), Asked("What is it?", "en"), AnswerText("Un "), AnswerText("chat.")])
    assert (view.text, view.language, view.question_language, view.waiting) == ("Un chat.", "fr", "en", "")


@pytest.mark.parametrize("kind, question", [(Kind.VOICE, b"RIFF"), (Kind.QUICK, "read")])
def test_a_spoken_or_quick_question_is_not_shown_before_it_is_understood(kind, question):
    assert jobs.Job(kind=kind, question=question).view([]).question == ""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_stopped_by_something_unexpected_leaves_no_page_waiting_for_it():
    class Escaped(BaseException):
        """Not an Exception: nothing in a job catches it."""

    class Breaking(ScriptedPipeline):
        def ask(self, *args, **kwargs):
            raise Escaped
            yield  # a generator, as the pipeline's are

    s, photo = Session(), FakePhoto("p1")
    s.set_photo(photo, OK)
    asking(s, "first", photo)
    jobs.start(s, Breaking())
    answered(s)
    assert s.worker is None and s.jobs[0].done and s.entries == []
