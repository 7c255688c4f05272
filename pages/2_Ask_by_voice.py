"""Ask by voice (or by typing) about the photo; follow-up questions keep the conversation."""

from __future__ import annotations

import streamlit as st

from core.pipeline import QUICK
from ui import asking, browser, page, widgets
from ui.render import guard, show_photo
from ui.state import Kind, Pending, session

conf = page.setup("Ask by voice")
st.title("Ask by voice", anchor=False)
if conf is None:
    st.stop()
s = session()


def new_photo() -> None:
    s.clear_photo()
    browser.announce_later("The photo and the conversation are cleared. Take or choose a new photo.")


def answer_anyway() -> None:
    s.anyway = True


# --- the photo (shared with the Describe page) --------------------------------------------------
if s.photo is None:
    arrived = widgets.photo_inputs("ask")
    if arrived is not None:
        with guard():
            asking.take_photo(arrived)
            if not s.flawed:
                st.success("Photo received. Your question is answered below." if s.pending else
                           "Photo received. Now ask your question below.")
if s.photo is not None:
    st.header("Your photo", anchor=False)
    show_photo(s, s.photo.key)
    if s.flawed:
        asking.show_guidance()
        if s.pending:
            st.markdown("**Answer anyway** answers the question you asked about this photo as it is.")
            st.button("Answer anyway", key="answer-anyway", on_click=answer_anyway)
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
quick = widgets.quick_buttons("ask", tuple(QUICK))

new: list[Pending] = []  # asked in this run
if recording is not None:
    data = recording.getvalue()
    if s.is_new(f"ask-recording-{s.round}", data):
        new.append(Pending(data, Kind.VOICE))
if typed:
    new.append(Pending(st.session_state.get(text_key, ""), Kind.TYPED))
if quick:
    new.append(Pending(quick, Kind.QUICK))
if new and s.photo is not None:
    s.anyway = True  # asked after hearing the photo's guidance: the person chose to go on
questions: list[Pending] = []  # to answer in this run: those that waited for the photo, then the new ones
if s.photo is not None and not s.flawed:
    questions, s.pending = s.pending, []
questions += new

# --- the conversation ---------------------------------------------------------------------------
st.header("Conversation", anchor=False)
entries = s.conversation_entries()
if not entries and not questions:
    st.markdown("No questions about this photo yet." if s.photo is not None else
                "Take or choose a photo first, then ask about it.")
asked = 0
for i, entry in enumerate(entries, start=1):
    asked += not entry.kind.is_description
    widgets.show_entry(entry, heading=widgets.entry_heading(entry, asked), play=(i == len(entries) and not questions))

answered_typed = False
for question in questions:
    area = st.container()
    asked += 1
    area.subheader(QUICK[question.question].label if question.kind == Kind.QUICK else f"Question {asked}",
                   anchor=False)
    with guard(area):
        entry = asking.answer(question.question, kind=question.kind, target=area)
        answered_typed |= entry is not None and question.kind == Kind.TYPED
if answered_typed:
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
