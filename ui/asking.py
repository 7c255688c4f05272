"""Photos in, questions in, answers out: the pages' one way to the pipeline.

:func:`take_photo` reads a new photo; the rest of its preparation (loading the models the first
time, the model reading it, the text reader) goes on in the background. :func:`ask` (and the
widget callbacks :func:`ask_typed`, :func:`ask_recorded`) queues a question; :func:`go_on` has a
photo answered despite its guidance. Answers are written by the session's worker (:mod:`ui.jobs`),
apart from the page's runs, so a click while one is written loses nothing.

:func:`show_conversation` (Ask, Describe) and :func:`follow` (every other page) put that work on the
page as it comes, following it while it goes on: the question as understood, the answer growing
in one place, each sentence's speech queued in the player, one announcement per step (never the
streamed words, never a timer). What has been said and played is counted on the job, so a rerun
says nothing twice.
"""

from __future__ import annotations

from typing import Union

import streamlit as st

from core.i18n import N_
from core.pipeline import DESCRIBE, QUICK, AnswerAudio, Asked, Done, Loading, Queued, Transcribed, in_words

from . import browser, jobs, resources
from .render import answer_html, entry_heading, problem, question_html, say_error, show_entry, speak_message
from .state import Kind, Pending, Session, session
from .words import language, words

__all__ = ["take_photo", "show_guidance", "ask", "ask_typed", "ask_recorded", "new_photo", "go_on",
           "show_conversation", "follow", "LOADING", "WAITING_FOR_PHOTO", "WAITING_FOR_ANSWER"]

# (marked here, said in the person's language: ``words()(LOADING)``)
LOADING = N_("Loading the models first. This can take a few minutes.")
WAITING_FOR_PHOTO = N_("Your question is kept: SeeSay answers it as soon as your photo has arrived. "
                       "If you have not chosen a photo yet, take or choose one now.")
WAITING_FOR_ANSWER = N_("Your question is kept: SeeSay answers it as soon as the answer before it is ready.")
WAITING_FOR_CHOICE = N_("Your question waits for your choice: take the photo again, or answer it as it is.")
STILL_WRITING = N_("SeeSay is still writing an answer. It appears in the history as soon as it is ready, and is "
                   "spoken then if speech is on.")
OTHERS_FIRST = N_("Other people's questions are being answered first. Please wait.")
#: the longest a page's run following an answer waits without a message to the browser: a click
#: stops a run only when it sends one
HEARTBEAT_SECONDS = 0.25
_WORK = "_seesay_work_place"  # st.session_state: where this run draws the work going on, and the count so far


# --- in ------------------------------------------------------------------------------------------

def take_photo(data: bytes, *, describe: bool = False) -> None:
    """Make ``data`` the current photo (raises ImageError) and get it ready for questions in the
    background; ``describe``: then describe it (the Describe page).

    A photo too flawed to answer well gets its guidance first, announced and spoken (and shown by
    :func:`show_guidance`); its questions wait until the person chooses to go on.
    """
    s = session()
    pipeline = resources.pipeline()
    events = pipeline.take_photo(data, s.choices())
    taken, checked = next(events), next(events)  # read and checked: quick; the rest goes on in the background
    with s.lock:
        _forget_failed(s)
        s.set_photo(taken.photo, checked.quality)
        if checked.quality.ok:
            s.jobs.append(jobs.photo_job(events))
            if describe:  # first, before the questions that waited for this photo
                description = Pending(DESCRIBE, Kind.DESCRIBE, photo=taken.photo, conversation=s.conversation)
                s.pending.insert(0, description)
        jobs.start(s, pipeline)
    _ = words(s)
    browser.stop()
    browser.announce(_("Photo received."))
    if not checked.quality.ok:
        browser.announce(checked.quality.guidance)
        if s.prefs.auto_speak:
            speak_message(checked.quality.guidance)
    elif not describe:
        st.success(_("Photo received. Your question is answered below.") if s.pending else
                   _("Photo received. Now ask your question below."))


def show_guidance(*, describe: bool) -> None:
    """The current photo's quality guidance (it was said when the photo came), and the choice to go on:
    **Describe anyway** (``describe``, the Describe page), or **Answer anyway** when questions wait for it."""
    s = session()
    if not s.flawed:
        return
    _ = words(s)
    st.warning(s.quality.said_in(language(s)).guidance)  # in today's language, if it changed since
    if describe:
        st.markdown(_("**Describe anyway** describes this photo as it is."))
        st.button(_("Describe anyway"), key="describe-anyway", on_click=ask, args=(DESCRIBE, Kind.DESCRIBE))
    elif any(question.photo is s.photo for question in s.pending):
        st.markdown(_("**Answer anyway** answers the question you asked about this photo as it is."))
        st.button(_("Answer anyway"), key="answer-anyway", on_click=go_on)


def ask(question: Union[str, bytes], kind: Kind, detail: bool = False) -> None:
    """Queue a question about the current photo, or, without one yet (it may still be on its way from
    the phone), about the next photo to arrive. Answered in turn by the session's worker.

    ``question`` is the typed text, a recording's bytes, or (``kind`` QUICK) a quick question's name.
    Asked after the photo's guidance, it means the person chose to go on. Used as a widget callback:
    what it says waits for the page's run.
    """
    s = session()
    with s.lock:
        _forget_failed(s)
        answering = any(job.kind is not None and not job.done for job in s.jobs)
        photo = s.photo
        s.pending.append(Pending(question, kind, detail, photo=photo,
                                 conversation=s.conversation if photo is not None else 0))
        if photo is not None:
            s.go_on()
        jobs.start(s, resources.pipeline())
    _ = words(s)
    if photo is None:
        browser.announce_later(_(WAITING_FOR_PHOTO))
    elif answering:
        browser.announce_later(_(WAITING_FOR_ANSWER))


def ask_typed(key: str) -> None:
    """The question box ``key`` was sent: its question is asked, and the box emptied for the next one
    (a question that fails comes back to it, to be corrected)."""
    text = st.session_state.get(key, "")
    st.session_state[key] = ""
    ask(text, Kind.TYPED)


def ask_recorded(key: str) -> None:
    """The recorder ``key`` has a new recording: it is asked (a cleared recorder asks nothing)."""
    recording = st.session_state.get(key)
    if recording is not None:
        ask(recording.getvalue(), Kind.VOICE)


def new_photo() -> None:
    """"New photo": forget the photo and this conversation (the history keeps them)."""
    session().clear_photo()
    _ = words()
    browser.announce_later(_("The photo and the conversation are cleared. Take or choose a new photo."))


def go_on() -> None:
    """"Describe anyway" / "Answer anyway": the current photo's questions are answered as it is."""
    s = session()
    with s.lock:
        s.go_on()
        jobs.start(s, resources.pipeline())


def _forget_failed(s: Session) -> None:
    """A new question or photo: the errors of earlier ones have been shown and said."""
    s.jobs = [job for job in s.jobs if not (job.closed and job.error is not None)]


# --- out -----------------------------------------------------------------------------------------

def show_conversation(*, say_when_empty: bool) -> None:
    """The conversation about the current photo: its answers, then a place for those being written and
    those waiting (Ask and Describe), which :func:`follow` keeps up to date. ``say_when_empty``: with
    none of these, say so (and, without a photo, to take one first)."""
    s = session()
    _close_finished(s)
    with s.lock:
        entries = s.conversation_entries()
        busy = s.worker is not None or any(not job.closed for job in s.jobs)
    asked = 0
    for i, entry in enumerate(entries, start=1):
        asked += not entry.kind.is_description
        show_entry(entry, heading=entry_heading(entry.kind, entry.question, asked),
                   play=i == len(entries) and not busy)
    empty, _ = "", words(s)
    if say_when_empty and not entries:
        empty = (_("No questions about this photo yet.") if s.photo is not None else
                 _("Take or choose a photo first, then ask about it."))
    st.session_state[_WORK] = (st.empty(), asked, empty)


def follow() -> None:
    """The last call of every page: the work still going on is said, played and drawn as it comes
    (where :func:`show_conversation` kept a place for it; on other pages, that an answer is being
    written), until it is done; then the page is drawn again, whole. A click stops this run at once
    (a new run follows on from where it stopped): the work itself goes on, on its own thread."""
    s = session()
    place, asked, empty = st.session_state.pop(_WORK, (None, 0, ""))
    conversation = place is not None
    if not conversation:
        for job in _close_finished(s):
            if job.error is not None:
                st.error(problem(job.error))  # shown where it is said; its conversation keeps it
        place = st.empty()
    beat = st.empty()
    drawn = None
    while True:
        version = s.version  # what comes after this look wakes the wait below
        with s.lock:  # one look: the worker adds the next job before it marks this one done
            busy = s.worker is not None
            looks = [(job, *job.snapshot()) for job in s.jobs]
            waiting = [q for q in s.pending if conversation and q.conversation in (0, s.conversation)]
            state = (s.conversation, s.photo, s.flawed)
        for job, events, _done in looks:
            if job.started and not job.closed:
                _say(job, events, final=False)
        shape = [(id(job), len(events), done) for job, events, done in looks] + [id(q) for q in waiting]
        if shape != drawn:
            with place.container():
                _draw(looks, waiting, conversation, asked, empty, *state)
            drawn = shape
        else:
            beat.empty()  # a message to the browser: the moment a click can stop this run
        if any(done and not job.closed for job, _events, done in looks):
            st.rerun()  # an answer is whole: the page draws it as such, and says it is ready
        if not busy:
            return
        s.wait_for_change(version, HEARTBEAT_SECONDS)


def _close_finished(s: Session) -> list[jobs.Job]:
    """Say the rest and the end of every finished job, then let go of it (one that failed stays with
    its conversation until the next question). Returns the jobs closed."""
    with s.lock:
        looks = [(job, *job.snapshot()) for job in s.jobs if not job.closed]
    closed = [job for job, _events, done in looks if done]
    for job, events, done in looks:
        if done:
            _say(job, events, final=True)
    with s.lock:
        s.jobs = [job for job in s.jobs if not job.closed or job.error is not None]
    return closed


def _draw(looks: list, waiting: list, conversation: bool, asked: int, empty: str, current: int, photo,
          flawed: bool) -> None:
    """The work going on: in the conversation, each question as it is answered and those waiting (or
    ``empty``, without any); elsewhere, that an answer is being written."""
    if not conversation:
        if any(job.kind is not None and not done for job, _events, done in looks):
            st.info(words()(STILL_WRITING))
        return
    shown = [(job, events) for job, events, _done in looks if job.conversation == current or job.kind is None]
    if empty and not waiting and not any(job.kind is not None for job, _events in shown):
        st.markdown(empty)
    for job, events in shown:
        asked = _show(job, events, asked)
    for question in waiting:
        asked += not question.kind.is_description
        _show_waiting(question, asked, photo, flawed)


def _say(job: jobs.Job, events: list, *, final: bool) -> None:
    """Say and play what ``job`` has done since the page last did, each thing once; ``final``: and its
    end (the answer ready, or what went wrong)."""
    if job.kind is not None and "begun" not in job.said:
        job.said.add("begun")
        browser.new_answer(job.clip_id, speak=job.speak)
    for event in events[job.shown:]:
        if isinstance(event, Done) and not final:
            break  # said by the page's own run, with the answer drawn whole
        job.shown += 1
        _say_event(job, event)
    if final and not job.closed:
        job.closed = True
        if job.error is not None:
            say_error(job.error)


def _say_event(job: jobs.Job, event) -> None:
    _ = words()
    if isinstance(event, Loading):
        _once(job, "loading", _(LOADING))
        return
    if isinstance(event, Queued):
        _once(job, "queued", _(OTHERS_FIRST))  # once, not a countdown
        return
    if isinstance(event, Asked) and not job.spoken:
        # a typed question's language is known now: "Thinking…" is said in it
        _ = words(heard=event.language) if job.kind is Kind.TYPED else _
    if job.kind is not None:
        _once(job, "opening", _("Recording received. Listening…") if job.spoken else _("Thinking…"))
    if isinstance(event, Transcribed):
        # the question's language is known now: SeeSay's words follow it (unless the setting says otherwise)
        _ = words(heard=event.transcript.language)
        browser.announce(_("Thinking…"))
    elif isinstance(event, AnswerAudio):
        browser.play(event.speech.audio, event.speech.mime, answer=job.clip_id, index=event.index,
                     autoplay=job.speak)
    elif isinstance(event, Done):
        _ = words(heard=event.answer.question_language) if job.kind in (Kind.VOICE, Kind.TYPED) else _
        browser.announce(_("Answer ready."))
        result = event.answer
        if "vlm" in result.engines and result.confidence is not None:
            browser.announce(_(in_words(result.confidence)))  # how sure, said once, after


def _once(job: jobs.Job, key: str, text: str) -> None:
    if key not in job.said:
        job.said.add(key)
        browser.announce(text)


def _label(kind: Kind, question) -> str:
    return words()(QUICK[question].label) if kind == Kind.QUICK and question in QUICK else str(question)


def _show(job: jobs.Job, events: list, asked: int) -> int:
    """A job in the conversation: its heading, the question, the answer so far (or what it waits for)."""
    view = job.view(events, words())
    if job.kind is None:  # a photo being prepared: only what it waits for, or what went wrong
        if job.closed:
            st.error(problem(job.error))
        elif view.waiting:
            st.info(view.waiting)
        return asked
    asked += not job.kind.is_description
    st.subheader(entry_heading(job.kind, _label(job.kind, job.question), asked), anchor=False)
    if view.question and not job.kind.is_description:
        st.html(question_html(view.question, view.question_language))
    if job.closed:
        st.error(problem(job.error))
    elif view.waiting:
        st.info(view.waiting)
    if view.text or view.remarks:
        st.html(answer_html(view.text, view.language, remarks=view.remarks))
    return asked


def _show_waiting(question: Pending, asked: int, photo, flawed: bool) -> None:
    st.subheader(entry_heading(question.kind, _label(question.kind, question.question), asked),
                 anchor=False)
    if question.kind == Kind.TYPED:
        st.html(question_html(str(question.question), ""))
    if question.photo is None:
        st.info(words()(WAITING_FOR_PHOTO))
    elif question.photo is photo and flawed:
        st.info(words()(WAITING_FOR_CHOICE))
    else:
        st.info(words()(WAITING_FOR_ANSWER))
