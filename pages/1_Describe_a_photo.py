"""Describe a photo: take or choose one, hear a short description, ask for more detail or a quick question."""

from __future__ import annotations

import streamlit as st

from core.pipeline import DESCRIBE, DESCRIBE_DETAIL, QUICK
from ui import asking, page, widgets
from ui.render import LAST_ANSWER_ID, guard, show_answer, show_confidence, show_photo, show_speech
from ui.state import Kind, session

conf = page.setup("Describe a photo")
st.title("Describe a photo", anchor=False)
if conf is None:
    st.stop()
s = session()
QUICK_HERE = ("read", "colours", "people", "ahead")

arrived = widgets.photo_inputs("describe")
new_photo = False
if arrived is not None:
    with guard():
        asking.take_photo(arrived)
        new_photo = True


def describe_anyway() -> None:
    s.anyway = True
    st.session_state["describe-now"] = True


st.header("Description", anchor=False)
if s.photo is None:
    st.markdown("No photo yet. Take or choose one above, and SeeSay describes it out loud.")
    st.stop()

photo_slot = st.empty()
show_photo(s, s.photo.key, photo_slot)
entries = s.conversation_entries()
pressed = {name for name in QUICK_HERE if st.session_state.get(f"describe-quick-{name}")}
busy = new_photo or bool(st.session_state.get("more-detail")) or bool(pressed) or \
    bool(st.session_state.get("describe-now"))  # an answer is coming in this run
for i, entry in enumerate(entries):
    latest = i == len(entries) - 1 and not busy
    heading = {Kind.DESCRIBE: "Short description", Kind.DETAIL: "Detailed description"}.get(entry.kind)
    st.subheader(heading or widgets.entry_heading(entry, i + 1), anchor=False)
    show_answer(entry.answer, entry.language, element_id=LAST_ANSWER_ID if latest else "", remarks=entry.remarks)
    show_confidence(entry)
    if latest:
        show_speech(entry)

if s.flawed:
    asking.show_guidance()
    st.markdown("**Describe anyway** describes this photo as it is.")
    st.button("Describe anyway", key="describe-anyway", on_click=describe_anyway)
area = st.container()
more = False
if not s.flawed:
    st.markdown("**More detail** asks for a longer description, with any writing read out word for word.")
    more = st.button("More detail", key="more-detail")
quick = widgets.quick_buttons("describe", QUICK_HERE)
st.page_link("pages/2_Ask_by_voice.py", label="Ask a question about this photo")

with guard(area):
    if (new_photo and not s.flawed) or st.session_state.pop("describe-now", False):
        area.subheader("Short description", anchor=False)
        asking.answer(DESCRIBE, kind=Kind.DESCRIBE, target=area)
        show_photo(s, s.photo.key, photo_slot)  # its alt text is the description now
        asking.answer_pending(target=area)  # questions asked on the Ask page while the photo was arriving
    elif more:
        area.subheader("Detailed description", anchor=False)
        asking.answer(DESCRIBE_DETAIL, kind=Kind.DETAIL, detail=True, target=area)
    elif quick:
        s.anyway = True  # a question asked after the guidance: the person chose to go on
        area.subheader(QUICK[quick].label, anchor=False)
        asking.answer(quick, kind=Kind.QUICK, target=area)
