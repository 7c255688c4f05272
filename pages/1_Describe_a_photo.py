"""Describe a photo: take or choose one, hear a short description, ask for more detail."""

from __future__ import annotations

import streamlit as st

from core.pipeline import DESCRIBE, DESCRIBE_DETAIL
from ui import asking, page, widgets
from ui.render import LAST_ANSWER_ID, guard, show_answer, show_photo, show_speech
from ui.state import Kind, session

conf = page.setup("Describe a photo")
st.title("Describe a photo", anchor=False)
if conf is None:
    st.stop()
s = session()

arrived = widgets.photo_inputs("describe")
new_photo = False
if arrived is not None:
    with guard():
        asking.take_photo(arrived)
        new_photo = True

st.header("Description", anchor=False)
if s.photo is None:
    st.markdown("No photo yet. Take or choose one above, and SeeSay describes it out loud.")
    st.stop()

photo_slot = st.empty()
show_photo(s, s.photo.key, photo_slot)
descriptions = [e for e in s.conversation_entries() if e.kind.is_description]
asking_more = bool(st.session_state.get("more-detail"))  # the button below, pressed
for i, entry in enumerate(descriptions):
    latest = i == len(descriptions) - 1 and not (new_photo or asking_more)
    st.subheader("Short description" if entry.kind == Kind.DESCRIBE else "Detailed description", anchor=False)
    show_answer(entry.answer, entry.language, element_id=LAST_ANSWER_ID if latest else "")
    if latest:
        show_speech(entry)

area = st.container()
st.markdown("**More detail** asks for a longer description, with any writing read out word for word.")
more = st.button("More detail", key="more-detail")
st.page_link("pages/2_Ask_by_voice.py", label="Ask a question about this photo")

with guard(area):
    if new_photo:
        area.subheader("Short description", anchor=False)
        asking.answer(DESCRIBE, kind=Kind.DESCRIBE, target=area)
        show_photo(s, s.photo.key, photo_slot)  # its alt text is the description now
        asking.answer_pending(target=area)  # questions asked on the Ask page while the photo was arriving
    elif more:
        area.subheader("Detailed description", anchor=False)
        asking.answer(DESCRIBE_DETAIL, kind=Kind.DETAIL, detail=True, target=area)
