"""Inputs shared by the pages: the photo inputs and the conversation view."""

from __future__ import annotations

from typing import Optional

import streamlit as st

from core.pipeline import QUICK

from .live_camera import live_camera
from .render import LAST_ANSWER_ID, show_answer, show_confidence, show_question, show_speech
from .state import Entry, Kind, Session, session

__all__ = ["PHOTO_TYPES", "photo_inputs", "quick_buttons", "entry_heading", "show_entry", "flash"]

#: what the uploader accepts; phones offer their own camera for these
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "heic", "heif", "bmp", "tiff", "tif"]


def photo_inputs(page: str, heading: str = "Take or choose a photo") -> Optional[bytes]:
    """A heading, an instruction, the live camera, the camera and the uploader.

    Streamlit hides the camera's label from screen readers, so the visible heading and the
    instruction come right before it. Returns the bytes of a photo that has just arrived (each
    photo once), or None.
    """
    s = session()
    st.header(heading, anchor=False)
    st.markdown(
        "Press **Live camera** and point the phone at what you want to know about: SeeSay says what "
        "to change (too dark, blurry, text cut off) and takes the photo by itself when it is good. "
        "Or hold the phone about an arm's length away and press "
        "**Take photo** (the camera starts after your browser asks for permission). The camera "
        "uses the phone's back lens; **Switch camera** turns to the front one. "
        "Or press **Upload**, under *Choose a photo*, to pick a picture; on a phone this can "
        "also open the phone's own camera app."
    )
    live = live_camera(page)
    camera_key, upload_key = f"{page}-camera-{s.round}", f"{page}-upload-{s.round}"
    shot = st.camera_input("Camera", key=camera_key)
    upload = st.file_uploader("Choose a photo (JPEG, PNG, WebP, GIF, HEIC, BMP or TIFF)",
                              type=PHOTO_TYPES, key=upload_key)
    if live is not None:
        return live
    for key, value in ((camera_key, shot), (upload_key, upload)):
        if value is not None:
            data = value.getvalue()
            if s.is_new(key, data):
                return data
    return None


def quick_buttons(page: str, names: tuple[str, ...]) -> Optional[str]:
    """One button per quick question (``names`` from core's QUICK); returns the one pressed, if any."""
    st.subheader("Quick questions", anchor=False)
    st.markdown("One press asks a whole question. **Read the text** reads every word exactly as it is "
                "written, with a text reader made for that.")
    pressed = None
    row = st.container(horizontal=True, wrap=True, key=f"{page}-quick")  # a row that wraps on a phone
    for name in names:
        if row.button(QUICK[name].label, key=f"{page}-quick-{name}"):
            pressed = name
    return pressed


def entry_heading(entry: Entry, number: int) -> str:
    """The heading of an entry in a conversation: what kind of question it was."""
    if entry.kind == Kind.DESCRIBE:
        return "Description"
    if entry.kind == Kind.DETAIL:
        return "Detailed description"
    if entry.kind == Kind.QUICK:
        return entry.question
    return f"Question {number}"


def show_entry(entry: Entry, *, heading: str, play: bool = True) -> None:
    """One question and answer: a heading, "You asked: …", the answer, its Play control."""
    st.subheader(heading, anchor=False)
    if not entry.kind.is_description:  # SeeSay's own request, not the person's words
        show_question(entry.question, entry.question_language)
    # The latest answer on the page has a stable id (browser tests and skip links use it).
    show_answer(entry.answer, entry.language, element_id=LAST_ANSWER_ID if play else "", remarks=entry.remarks)
    show_confidence(entry)
    if play:
        show_speech(entry)


def flash(s: Session) -> None:
    """Show (once) the confirmation left by a button's callback."""
    if s.flash:
        st.success(s.flash)
        s.flash = ""
