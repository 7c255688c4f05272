"""Photos in, questions in, answers out: the pages' one call into ``core``.

:func:`take_photo` hands uploaded bytes to the pipeline, which reads the photo and prepares it for
questions. :func:`answer` asks the pipeline and puts each event on the page as it comes: the
question as understood, the answer text growing in one place, each sentence's speech queued in the
player, one announcement per step (never the streamed words, never a timer). A question that comes
before its photo has arrived is kept and answered as soon as the photo is there.
"""

from __future__ import annotations

import logging
from typing import Optional, Union

import streamlit as st

from core.pipeline import (AnswerAudio, AnswerText, Asked, Done, Heard, Loading, PhotoTaken, QualityMeasured,
                           Queued, Remark, Transcribed, in_words)

from . import browser, resources
from .render import LAST_ANSWER_ID, answer_html, question_html, show_confidence, show_speech, speak_message
from .state import Entry, Kind, Pending, session

__all__ = ["take_photo", "show_guidance", "answer", "answer_pending", "LOADING", "WAITING_FOR_PHOTO"]

log = logging.getLogger(__name__)

LOADING = "Loading the models first. This can take a few minutes."
WAITING_FOR_PHOTO = ("Your question is kept: SeeSay answers it as soon as your photo has arrived. "
                     "If you have not chosen a photo yet, take or choose one now.")


class _Status:
    """One place on the page for what SeeSay is waiting for; each kind of wait is said once."""

    def __init__(self, target) -> None:
        self.slot = target.empty()
        self.said: set[str] = set()

    def show(self, event) -> None:
        if isinstance(event, Loading):
            self.slot.info("Loading SeeSay's models. The first time, this can take a few minutes.")
            self._say("loading", LOADING)
        elif isinstance(event, Queued):
            self.slot.info(f"Waiting for the model: {event.ahead} "
                           f"question{'s' if event.ahead != 1 else ''} ahead of yours.")
            self._say("queued", "Other people's questions are being answered first. Please wait.")

    def clear(self) -> None:
        self.slot.empty()

    def _say(self, key: str, text: str) -> None:
        if key not in self.said:  # once, not a countdown
            self.said.add(key)
            browser.announce(text)


def take_photo(data: bytes, target=None) -> None:
    """Make ``data`` the current photo (raises ImageError) and get it ready for questions.

    A photo too flawed to answer well gets its guidance first, shown, announced and spoken; the
    models wait until the person asks anyway (``Session.flawed``).
    """
    s = session()
    status = _Status(target or st)
    try:
        for event in resources.pipeline().take_photo(data, s.prefs.choices()):
            if isinstance(event, PhotoTaken):
                s.set_photo(event.photo)
                browser.stop()
                browser.announce("Photo received.")
            elif isinstance(event, QualityMeasured):
                s.quality = event.quality
                if not event.quality.ok:
                    browser.announce(event.quality.guidance)
                    if s.prefs.auto_speak:
                        speak_message(event.quality.guidance)
            else:
                status.show(event)
    finally:
        status.clear()


def show_guidance(target=None) -> None:
    """The current photo's quality guidance, on the page (it was said when the photo came)."""
    s = session()
    if s.flawed:
        (target or st).warning(s.quality.guidance)


def answer(question: Union[str, bytes], *, kind: Kind, detail: bool = False,
           target=None) -> Optional[Entry]:
    """Ask about the current photo and show the answer as it comes. Raises SeeSayError.

    ``question`` is the typed text, a recording's bytes, or (``kind`` QUICK) a quick question's
    name. Without a photo yet (it may still be on its way from the phone), the question is kept
    and answered by :func:`answer_pending` when the photo arrives; None is returned then.
    """
    s = session()
    area = target or st.container()
    if s.photo is None:
        s.pending.append(Pending(question, kind))
        area.info(WAITING_FOR_PHOTO)
        browser.announce(WAITING_FOR_PHOTO)
        return None
    spoken = isinstance(question, (bytes, bytearray))
    choices = s.prefs.choices()
    photo = s.photo
    answer_id = s.clip_id(s.next_id)  # the entry this answer becomes
    if not choices.speak:
        browser.new_answer(answer_id)
    question_slot, status, text_slot = area.empty(), _Status(area), area.empty()
    opening = "Recording received. Listening…" if spoken else "Thinking…"
    text, language, heard, remarks = "", choices.language or "en", None, []
    pipeline = resources.pipeline()
    if kind == Kind.QUICK:
        events = pipeline.quick(photo, str(question), s.turns(), choices)
    else:
        events = pipeline.ask(photo, question, s.turns(), choices, detail=detail)
    try:
        for event in events:
            if isinstance(event, (Loading, Queued)):
                status.show(event)
                continue
            if opening:
                browser.announce(opening)
                opening = ""
            if isinstance(event, Heard):
                heard = event
            elif isinstance(event, Transcribed):
                browser.announce("Thinking…")
            elif isinstance(event, Asked):
                language = choices.language or event.language
                question_slot.html(question_html(event.question, event.language))
            elif isinstance(event, Remark):
                remarks.append(event)
                text_slot.html(answer_html(text, language, remarks=remarks))
            elif isinstance(event, AnswerText):
                if not text:
                    status.clear()
                text += event.text
                text_slot.html(answer_html(text, language, remarks=remarks))
            elif isinstance(event, AnswerAudio):
                browser.play(event.speech.audio, event.speech.mime, answer=answer_id, index=event.index,
                             autoplay=choices.speak)
            elif isinstance(event, Done):
                result = event.answer
                text_slot.html(answer_html(result.text, result.language, element_id=LAST_ANSWER_ID,
                                           remarks=result.remarks))
                entry = s.add_entry(kind=kind, answer=result, photo_key=photo.key)
                show_confidence(entry, area)
                show_speech(entry, area)
                browser.announce("Answer ready.")
                if "vlm" in result.engines and result.confidence is not None:
                    browser.announce(in_words(result.confidence))  # how sure, said once, after
                return entry
    finally:
        status.clear()
        if heard is not None:
            s.keep_recording_view(heard)
    return None


def answer_pending(target=None) -> Optional[Entry]:
    """Answer the questions that came before the photo (now there), oldest first; returns the last entry."""
    s = session()
    entry = None
    while s.pending and s.photo is not None and not s.flawed:
        waiting = s.pending.pop(0)
        entry = answer(waiting.question, kind=waiting.kind, target=target)
    return entry
