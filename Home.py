"""SeeSay's home page: what it does, how to use it without sight, model status, privacy."""

from __future__ import annotations

import streamlit as st

from core.i18n import N_
from ui import asking, home, page
from ui.render import guard
from ui.words import words

conf = page.setup(N_("Home"))
_ = words()

st.title(_("SeeSay: hear what is in a photo"), anchor=False)
st.markdown(_(
    "Take a photo or choose one, and SeeSay tells you what is in it, out loud. "
    "Then ask about it by voice or by typing: *what does the label say?*, *is the light on?* "
    "The answer is read aloud and shown as text. Everything runs on this SeeSay server."
))

st.header(_("How to use SeeSay without sight"), anchor=False)
st.markdown(_(
    """
- **Stop speaking** and **Play answer again** are the first two buttons on every page, at the very top.
- **Describe a photo**: a heading and a short instruction, then the camera (the back lens on a phone;
  **Switch camera** turns to the front one) and its **Take photo** button,
  then **Upload** to choose a photo, which on a phone can also open the phone's own camera.
  SeeSay speaks a short description as soon as the photo arrives; **More detail** asks for a longer one.
  If the photo is blurred, too dark, too bright or shows almost nothing, SeeSay says so first and how
  to take it again; **Describe anyway** describes it as it is.
- **Quick questions**, under the photo: **Read the text** reads every word exactly as written, with a
  text reader made for that; **What colours?**, **Who is there?**, **What is ahead?** (obstacles first,
  with clock directions).
- **Ask by voice**: the photo, then **Record your question** (press again to stop),
  or type your question and press Enter. Follow-up questions are about the same photo;
  **New photo** starts again.
- **History**: every question and answer of this visit, to replay, delete or download.
- **Settings**: language, automatic speech on or off, speech speed, voice, private mode, answer
  length, larger text, high contrast.

Pages are listed in the sidebar navigation. SeeSay tells your screen reader when a photo or a
recording has arrived, when it is thinking, when the answer is ready, and how sure it is of it.
When it is not sure, it says so; when the photo cannot answer the question, it says what to change.
Answers about medicine, money, allergens or dates are checked against the label's own text, and end
with a reminder to check with someone sighted before acting on them.
"""
))

st.header(_("Models"), anchor=False)
with guard():
    home.show_models(conf)

st.header(_("Privacy"), anchor=False)
st.markdown(home.privacy(conf))
asking.follow()  # last: the answers being written, as they come
