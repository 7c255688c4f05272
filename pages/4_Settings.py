"""Settings for this visit: language, speech, voice, privacy, answers, text size and contrast."""

from __future__ import annotations

import streamlit as st

from core.engines import answer_tokens
from core.i18n import N_
from ui import asking, live_camera, page, settings
from ui.state import LANGUAGES, LENGTHS, RATES, VOICES, session
from ui.words import words

settings.take_changes()
conf = page.setup(N_("Settings"))
_ = words()
st.title(_("Settings"), anchor=False)
st.markdown(_("These settings last for this visit, in this browser tab."))
forced = settings.private_for_everyone(conf)

st.header(_("Language"), anchor=False)
st.selectbox(_("Language"), list(LANGUAGES), key=settings.key("language"), format_func=settings.language_label)
st.markdown(_("The language SeeSay speaks, shows and answers in. Automatic follows the language of your "
              "last question, and before any question your browser's language."))

st.header(_("Speech"), anchor=False)
st.toggle(_("Speak answers automatically"), key=settings.key("auto_speak"))
st.markdown(_("When this is off, answers are shown as text with a Play button, for your screen reader "
              "to read in its own voice."))
st.radio(_("Speech speed"), RATES, key=settings.key("rate"), horizontal=True, format_func=settings.rate_label)
private = st.toggle(_("Private mode"), key=settings.key("private"), disabled=forced)
st.markdown(settings.privacy_note(conf))
st.radio(_("Voice"), list(VOICES), key=settings.key("voice"), format_func=settings.voice_label,
         disabled=private or forced)
st.markdown(_("Automatic uses the Google voice when it can be reached, and the offline voice otherwise. "
              "The Google voice sends the text of each answer to Google; the offline voice sends nothing."))

st.header(_("Answers"), anchor=False)
st.radio(_("Answer length"), list(LENGTHS), key=settings.key("length"), format_func=settings.length_label,
         horizontal=True)

live_camera.settings(settings.key)
st.header(_("Display"), anchor=False)
st.toggle(_("Larger text"), key=settings.key("large_text"))
st.toggle(_("High contrast"), key=settings.key("high_contrast"))

if conf is not None:
    limit = answer_tokens(conf, session().choices())
    st.caption(_("Answers are at most about {limit} tokens long (a token is about three quarters of a word).",
                 limit=limit))
asking.follow()  # last: the answers being written, as they come
