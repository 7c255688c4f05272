"""Describe a photo: take or choose one, hear a short description, ask for more detail or a quick question."""

from __future__ import annotations

import streamlit as st

from core.i18n import N_
from core.pipeline import DESCRIBE_DETAIL
from ui import asking, page, widgets
from ui.render import guard, show_photo
from ui.state import Kind, session
from ui.words import words

conf = page.setup(N_("Describe a photo"))
_ = words()
st.title(_("Describe a photo"), anchor=False)
if conf is None:
    st.stop()
s = session()

arrived = widgets.photo_inputs("describe")
if arrived is not None:
    with guard():
        asking.take_photo(arrived, describe=True)

st.header(_("Description"), anchor=False)
if s.photo is None:
    st.markdown(_("No photo yet. Take or choose one above, and SeeSay describes it out loud."))
    asking.follow()  # an answer about an earlier photo may still be coming
    st.stop()
show_photo(s, s.photo.key)  # its alt text is its description, once there is one
with guard():
    asking.show_conversation(say_when_empty=False)
asking.show_guidance(describe=True)
if not s.flawed:
    st.markdown(_("**More detail** asks for a longer description, with any writing read out word for word."))
    st.button(_("More detail"), key="more-detail", on_click=asking.ask,
              args=(DESCRIBE_DETAIL, Kind.DETAIL, True))
widgets.quick_buttons("describe", ("read", "colours", "people", "ahead"))
st.page_link("pages/2_Ask_by_voice.py", label=_("Ask a question about this photo"))
asking.follow()  # last: the answers being written, as they come
