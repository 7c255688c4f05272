"""Ask by voice (or by typing) about the photo; follow-up questions keep the conversation."""

from __future__ import annotations

import streamlit as st

from core.i18n import N_
from core.pipeline import QUICK
from ui import asking, page, widgets
from ui.render import guard, show_photo
from ui.state import session
from ui.words import words

conf = page.setup(N_("Ask by voice"))
_ = words()
st.title(_("Ask by voice"), anchor=False)
if conf is None:
    st.stop()
s = session()

# --- the photo (shared with the Describe page) --------------------------------------------------
if s.photo is None:
    arrived = widgets.photo_inputs("ask")
    if arrived is not None:
        with guard():
            asking.take_photo(arrived, describe=False)
if s.photo is not None:
    st.header(_("Your photo"), anchor=False)
    show_photo(s, s.photo.key)
    asking.show_guidance(describe=False)
    st.markdown(_("**New photo** forgets this photo and this conversation (your history keeps them)."))
    st.button(_("New photo"), on_click=asking.new_photo)

# --- the question -------------------------------------------------------------------------------
st.header(_("Ask a question"), anchor=False)
widgets.question_inputs(conf.max_question_chars)
widgets.quick_buttons("ask", tuple(QUICK))

# --- the conversation ---------------------------------------------------------------------------
st.header(_("Conversation"), anchor=False)
with guard():
    asking.show_conversation(say_when_empty=True)
widgets.recording_view()
asking.follow()  # last: the answers being written, as they come
