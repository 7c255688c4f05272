"""History: every question and answer of this visit, to replay, delete or download."""

from __future__ import annotations

import streamlit as st

from core.i18n import N_
from ui import asking, history, page, widgets
from ui.render import guard
from ui.state import session
from ui.words import words

page.setup(N_("History"))  # works without settings and without any model
_ = words()
st.title(_("History"), anchor=False)
widgets.flash(session())
with guard():
    history.show()
asking.follow()  # last: the answers being written, as they come
