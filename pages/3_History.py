"""History: every question and answer of this visit, to replay, delete or download."""

from __future__ import annotations

import streamlit as st

from ui import asking, history, page, widgets
from ui.render import guard
from ui.state import session

page.setup("History")  # works without settings and without any model
st.title("History", anchor=False)
widgets.flash(session())
asking.follow()  # an answer still being written is listed here as soon as it is ready
with guard():
    history.show()
