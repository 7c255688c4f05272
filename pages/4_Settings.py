"""Settings for this visit: speech, voice, privacy, answers, text size and contrast."""

from __future__ import annotations

import streamlit as st

from core.engines import answer_tokens
from ui import asking, live_camera, page, settings
from ui.state import LANGUAGES, LENGTHS, RATES, VOICES, session

settings.take_changes()
conf = page.setup("Settings")
st.title("Settings", anchor=False)
st.markdown("These settings last for this visit, in this browser tab.")
forced = settings.private_for_everyone(conf)

st.header("Speech", anchor=False)
st.toggle("Speak answers automatically", key=settings.key("auto_speak"))
st.markdown("When this is off, answers are shown as text with a Play button, for your screen reader "
            "to read in its own voice.")
st.radio("Speech speed", RATES, key=settings.key("rate"), horizontal=True, format_func=settings.rate_label)
private = st.toggle("Private mode", key=settings.key("private"), disabled=forced)
st.markdown(settings.privacy_note(conf))
st.radio("Voice", list(VOICES), key=settings.key("voice"), format_func=VOICES.get, disabled=private or forced)
st.markdown("Automatic uses the Google voice when it can be reached, and the offline voice otherwise. "
            "The Google voice sends the text of each answer to Google; the offline voice sends nothing.")

st.header("Answers", anchor=False)
st.radio("Answer length", list(LENGTHS), key=settings.key("length"), format_func=LENGTHS.get, horizontal=True)
st.selectbox("Answer language", list(LANGUAGES), key=settings.key("language"), format_func=LANGUAGES.get)

live_camera.settings(settings.key)
st.header("Display", anchor=False)
st.toggle("Larger text", key=settings.key("large_text"))
st.toggle("High contrast", key=settings.key("high_contrast"))

if conf is not None:
    limit = answer_tokens(conf, session().choices())
    st.caption(f"Answers are at most about {limit} tokens long (a token is about three quarters of a word).")
asking.follow()  # last: the answers being written, as they come
