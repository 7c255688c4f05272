"""Ask by voice (or by typing) about the photo; follow-up questions keep the conversation."""

from __future__ import annotations

import streamlit as st

from ui import asking, browser, page, widgets
from ui.render import guard, show_photo
from ui.state import session

conf = page.setup("Ask by voice")
st.title("Ask by voice", anchor=False)
if conf is None:
    st.stop()
s = session()


def new_photo() -> None:
    s.clear_photo()
    browser.announce_later("The photo and the conversation are cleared. Take or choose a new photo.")


# --- the photo (shared with the Describe page) --------------------------------------------------
if s.photo is None:
    arrived = widgets.photo_inputs("ask")
    if arrived is not None:
        with guard():
            asking.take_photo(arrived)
            st.success("Photo received. Now ask your question below.")
if s.photo is not None:
    st.header("Your photo", anchor=False)
    show_photo(s, s.photo.key)
    st.markdown("**New photo** forgets this photo and this conversation (your history keeps them).")
    st.button("New photo", on_click=new_photo)

# --- the question -------------------------------------------------------------------------------
st.header("Ask a question", anchor=False)
st.markdown(
    "Press **Record your question**, ask, then press **Stop recording**. SeeSay answers out loud. "
    "Or type your question below and press Enter."
)
recording = st.audio_input("Record your question", key=f"ask-recording-{s.round}")
text_key = f"ask-text-{s.question_round}"
with st.form("typed-question", border=False):
    st.text_input("Or type your question", key=text_key, max_chars=conf.max_question_chars,
                  placeholder="For example: what colour is the shirt?")
    typed = st.form_submit_button("Ask")

question = None
if recording is not None:
    data = recording.getvalue()
    if s.is_new(f"ask-recording-{s.round}", data):
        question = ("voice", data)
if typed:
    question = ("typed", st.session_state.get(text_key, ""))

# --- the conversation ---------------------------------------------------------------------------
st.header("Conversation", anchor=False)
entries = s.conversation_entries()
if not entries and question is None:
    st.markdown("No questions about this photo yet." if s.photo is not None else
                "Take or choose a photo first, then ask about it.")
asked = 0
for i, entry in enumerate(entries, start=1):
    if entry.kind in ("describe", "detail"):
        heading = "Description" if entry.kind == "describe" else "Detailed description"
    else:
        asked += 1
        heading = f"Question {asked}"
    widgets.show_entry(entry, heading=heading, play=(i == len(entries) and question is None))

if question is not None:
    kind, value = question
    entry = None
    area = st.container()
    area.subheader(f"Question {asked + 1}", anchor=False)
    with guard(area):
        if kind == "voice":
            asking.hear_recording(value)
        entry = asking.answer(value, kind=kind, target=area)
    if entry is not None and kind == "typed":
        # An empty box for the next question (after an error the text stays to be corrected).
        # The page is drawn again from the session: the answer and its speech carry on.
        s.question_round += 1
        st.rerun()

# --- the recording, as a picture with a text alternative ----------------------------------------
if s.recording_view is not None:
    png, description = s.recording_view
    st.header("Your last recording", anchor=False)
    # The text right after the picture is its description (WCAG technique G74), so the alt text
    # does not say it twice.
    st.image(png, alt="Spectrogram of your last recording, described below.", width="stretch")
    st.markdown(f"Your last recording: {description}")
