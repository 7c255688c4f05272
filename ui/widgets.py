"""Inputs shared by the pages: the photo inputs, the question inputs, the quick questions."""

from __future__ import annotations

from typing import Optional

import streamlit as st

from core.pipeline import QUICK

from . import asking
from .live_camera import live_camera
from .state import Kind, Session, session
from .words import words

__all__ = ["PHOTO_TYPES", "photo_inputs", "question_inputs", "quick_buttons", "recording_view", "flash"]

#: the question box's widget key
TYPED_KEY = "ask-text"
#: what the uploader accepts; phones offer their own camera for these
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "heic", "heif", "bmp", "tiff", "tif"]


def photo_inputs(page: str) -> Optional[bytes]:
    """A heading, an instruction, the live camera, the camera and the uploader.

    Streamlit hides the camera's label from screen readers, so the visible heading and the
    instruction come right before it. Returns the bytes of a photo that has just arrived (each
    photo once), or None.
    """
    s = session()
    _ = words(s)
    st.header(_("Take or choose a photo"), anchor=False)
    st.markdown(_(
        "Press **Live camera** and point the phone at what you want to know about: SeeSay says what "
        "to change (too dark, blurry, text cut off) and takes the photo by itself when it is good. "
        "Or hold the phone about an arm's length away and press "
        "**Take photo** (the camera starts after your browser asks for permission). The camera "
        "uses the phone's back lens; **Switch camera** turns to the front one. "
        "Or press **Upload**, under *Choose a photo*, to pick a picture; on a phone this can "
        "also open the phone's own camera app."
    ))
    live = live_camera(page)
    camera_key, upload_key = f"{page}-camera-{s.round}", f"{page}-upload-{s.round}"
    shot = st.camera_input(_("Camera"), key=camera_key)
    upload = st.file_uploader(_("Choose a photo (JPEG, PNG, WebP, GIF, HEIC, BMP or TIFF)"),
                              type=PHOTO_TYPES, key=upload_key)
    if live is not None:
        return live
    for key, value in ((camera_key, shot), (upload_key, upload)):
        if value is not None:
            data = value.getvalue()
            if s.is_new(key, data):
                return data
    return None


def question_inputs(max_chars: int) -> None:
    """The recorder and the question box (at most ``max_chars``): what is recorded or sent is asked
    (:mod:`ui.asking`), by their callbacks, before the page runs."""
    s = session()
    _ = words(s)
    st.markdown(_(
        "Press **Record your question**, ask, then press **Stop recording**. SeeSay answers out loud. "
        "Or type your question below and press Enter."
    ))
    recording_key = f"ask-recording-{s.round}"
    st.audio_input(_("Record your question"), key=recording_key, on_change=asking.ask_recorded,
                   args=(recording_key,))
    if s.draft:  # a question that could not be answered, back in the box to be corrected
        st.session_state[TYPED_KEY], s.draft = s.draft, ""
    with st.form("typed-question", border=False):
        st.text_input(_("Or type your question"), key=TYPED_KEY, max_chars=max_chars,
                      placeholder=_("For example: what colour is the shirt?"))
        st.form_submit_button(_("Ask"), on_click=asking.ask_typed, args=(TYPED_KEY,))


def quick_buttons(page: str, names: tuple[str, ...]) -> None:
    """One button per quick question (``names`` from core's QUICK); a press asks it."""
    _ = words()
    st.subheader(_("Quick questions"), anchor=False)
    st.markdown(_("One press asks a whole question. **Read the text** reads every word exactly as it is "
                  "written, with a text reader made for that."))
    row = st.container(horizontal=True, wrap=True, key=f"{page}-quick")  # a row that wraps on a phone
    for name in names:
        row.button(_(QUICK[name].label), key=f"{page}-quick-{name}", on_click=asking.ask,
                   args=(name, Kind.QUICK))


def recording_view() -> None:
    """The last recording as a picture, with its text alternative."""
    view = session().recording_view
    if view is not None:
        png, description = view
        _ = words()
        st.header(_("Your last recording"), anchor=False)
        # The text right after the picture is its description (WCAG technique G74), so the alt text
        # does not say it twice.
        st.image(png, alt=_("Spectrogram of your last recording, described below."), width="stretch")
        st.markdown(_("Your last recording: {description}", description=description))


def flash(s: Session) -> None:
    """Show (once) the confirmation left by a button's callback."""
    if s.flash:
        st.success(s.flash)
        s.flash = ""
