"""Photos in, questions in, answers out: the pages' one call into ``core``.

:func:`take_photo` turns uploaded bytes into the session's current photo and starts preparing it
for the model. :func:`answer` runs :func:`core.pipeline.ask` and puts each event on the page as it
comes: the transcript, the answer text growing in one place, each sentence's speech queued in the
player, one announcement per step (never the streamed words, never a timer).
"""

from __future__ import annotations

import logging
from typing import Optional, Union

import streamlit as st

from core.errors import SeeSayError

from . import browser, resources
from .render import LAST_ANSWER_ID, answer_html, question_html, show_speech
from .state import Entry, session

__all__ = ["take_photo", "answer", "options_for", "voice_for", "language_turns", "hear_recording"]

log = logging.getLogger(__name__)


def take_photo(data: bytes) -> None:
    """Make ``data`` the current photo (raises ImageError) and prepare it for questions."""
    from core.images import load_photo
    from core.pipeline import Engines, prepare_photo

    conf = resources.settings()
    photo = load_photo(data, max_bytes=conf.max_image_bytes, max_pixels=conf.max_image_pixels,
                       max_side=conf.image_max_side)
    s = session()
    s.set_photo(photo)
    browser.stop()
    browser.announce("Photo received.")
    loading = _loading_notice(resources.tried("vlm"))
    try:
        vlm = resources.vlm()
    except SeeSayError:
        return  # said when a question is asked; the photo is kept
    finally:
        loading.empty()
    # Encoding the photo now makes the first answer faster. It runs on the shared model, so it
    # takes its turn like a question does.
    lock = resources.turns()
    ticket = lock.take()
    try:
        while lock.ahead(ticket):
            lock.wait(ticket)
        prepare_photo(Engines(vlm=vlm, turns=lock), photo)
    finally:
        lock.release(ticket)


def _loading_notice(ready: bool, target=None):
    """Say so before the first, long load of a model (once per process, not on every question)."""
    slot = (target or st).empty()
    if not ready:
        slot.info("Loading SeeSay's models. The first time, this can take a few minutes.")
        browser.announce("Loading the models first. This can take a few minutes.")
    return slot


def voice_for(conf):
    """The session's voice engine, or None (with the reason) when no voice can be had."""
    s = session()
    name = s.prefs.voice_engine(conf)
    try:
        return resources.tts(name, s.prefs.is_private(conf)), ""
    except SeeSayError as error:
        if name != "offline":
            try:
                return resources.tts("offline", True), ""
            except SeeSayError:
                pass
        return None, error.spoken


def options_for(conf, *, max_tokens: Optional[int] = None):
    from core.pipeline import AskOptions

    prefs = session().prefs
    return AskOptions(
        max_new_tokens=max_tokens or prefs.max_tokens(conf),
        # Speech is made only to be heard: with automatic speech off, "Speak this answer" makes it
        # when asked (ui.render.show_speech), so nothing goes to a voice service unasked and the
        # voice does not take the processor from the model while it writes.
        speak=prefs.auto_speak,
        language=prefs.language or None,
        max_audio_seconds=conf.max_audio_seconds,
        min_audio_seconds=conf.min_audio_seconds,
        max_question_chars=conf.max_question_chars,
        log_content=conf.debug,
    )


def language_turns(language: str) -> list:
    """A fixed answer language, told to the model as the opening of the conversation."""
    if not language:
        return []
    from core.language import language_name
    from core.vlm import Turn

    name = language_name(language)
    return [Turn(f"Please answer all my questions in {name}.", f"Of course. I will answer in {name}.")]


def hear_recording(data: bytes) -> None:
    """Keep a picture and a text description of the recording for the page (never raises)."""
    s = session()
    s.recording_view = None
    try:
        from core import audio

        conf = resources.settings()
        rec = audio.decode_audio(data, max_seconds=conf.max_audio_seconds, min_seconds=0.0)
        check = audio.check_speech(rec.samples)
        s.recording_view = (audio.spectrogram_png(rec.samples), check.describe())
    except SeeSayError:
        pass  # ask() says what is wrong with it
    except Exception:
        log.exception("could not draw the recording")


def answer(question: Union[str, bytes], *, kind: str, max_tokens: Optional[int] = None,
           target=None) -> Optional[Entry]:
    """Ask about the current photo and show the answer as it comes. Raises SeeSayError."""
    from core.language import detect_language
    from core.pipeline import AnswerAudio, AnswerText, Done, Engines, Queued, Transcribed, ask

    s = session()
    if s.photo is None:
        from core.errors import ImageError

        raise ImageError("There is no photo yet.", "Please take or choose a photo first.")
    conf = resources.settings()
    spoken = isinstance(question, (bytes, bytearray))
    area = target or st.container()
    browser.announce("Recording received. Listening…" if spoken else "Thinking…")
    loading = _loading_notice(resources.tried("vlm") and (resources.tried("stt") or not spoken), area)
    try:
        vlm = resources.vlm()
        stt = resources.stt() if spoken else None
    finally:
        loading.empty()
    tts, voice_problem = voice_for(conf)
    engines = Engines(vlm=vlm, stt=stt, tts=tts, turns=resources.turns())
    options = options_for(conf, max_tokens=max_tokens)
    s.last_options = options
    history = language_turns(s.prefs.language) + s.turns()
    photo = s.photo
    answer_id = s.clip_id(s.next_id)  # the entry this answer becomes

    if not options.speak:
        browser.new_answer(answer_id)
    question_slot, status_slot, text_slot = area.empty(), area.empty(), area.empty()
    if not spoken and kind == "typed":
        question_slot.html(question_html(" ".join(question.split()), detect_language(question)))
    text, language, said_queue = "", options.language or "en", False
    for event in ask(engines, photo, bytes(question) if spoken else question, history, options):
        if isinstance(event, Queued):
            status_slot.info(f"Waiting for the model: {event.ahead} "
                             f"question{'s' if event.ahead != 1 else ''} ahead of yours.")
            if not said_queue:  # once, not a countdown
                browser.announce("Other people's questions are being answered first. Please wait.")
                said_queue = True
        elif isinstance(event, Transcribed):
            t = event.transcript
            language = options.language or t.language
            question_slot.html(question_html(t.text, t.language))
            browser.announce("Thinking…")
        elif isinstance(event, AnswerText):
            if not text:
                status_slot.empty()
            text += event.text
            text_slot.html(answer_html(text, language))
        elif isinstance(event, AnswerAudio):
            browser.play(event.speech.audio, event.speech.mime, answer=answer_id, index=event.index,
                         autoplay=s.prefs.auto_speak)
        elif isinstance(event, Done):
            result = event.answer
            text_slot.html(answer_html(result.text, result.language, element_id=LAST_ANSWER_ID))
            entry = s.add_entry(kind=kind, answer=result, photo_key=photo.key)
            if voice_problem and not entry.speech_error:
                entry.speech_error = voice_problem
            show_speech(entry, area)
            browser.announce("Answer ready.")
            return entry
    return None
