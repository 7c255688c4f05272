"""History: every question and answer of this visit, to replay, delete or download."""

from __future__ import annotations

import streamlit as st

from ui import asking, history, page, widgets
from ui.render import guard
from ui.state import session

page.setup("History")  # works without settings and without any model
st.title("History", anchor=False)
widgets.flash(session())
with guard():
    history.show()
asking.follow()  # last: the answers being written, as they come
