"""Settings for this visit: speech, voice, privacy, answers, text size and contrast."""

from __future__ import annotations

import streamlit as st

from core.engines import answer_tokens
from ui import live_camera, page
from ui.state import LANGUAGES, LENGTHS, RATES, VOICES, Prefs, session

s = session()
# A change made on this page must already count for this run (the text size, the speech rate):
# take the widgets' new values before the page is set up.
s.set_prefs(**{name: st.session_state[f"pref-{name}"] for name in Prefs.__dataclass_fields__
               if f"pref-{name}" in st.session_state})
conf = page.setup("Settings")
st.title("Settings", anchor=False)
st.markdown("These settings last for this visit, in this browser tab.")


def bound(name: str) -> str:
    """Widget key for preference ``name``, holding the current value (widgets forget theirs
    when another page is shown, the preferences do not)."""
    key = f"pref-{name}"
    if key not in st.session_state:
        st.session_state[key] = getattr(s.prefs, name)
    return key


st.header("Speech", anchor=False)
auto = st.toggle("Speak answers automatically", key=bound("auto_speak"))
st.markdown("When this is off, answers are shown as text with a Play button, for your screen reader "
            "to read in its own voice.")
rate = st.radio("Speech speed", RATES, key=bound("rate"), horizontal=True,
                format_func=lambda r: f"{r:g}x" + (" (normal)" if r == 1 else ""))
private_forced = conf is not None and conf.private
private = st.toggle("Private mode", key=bound("private"), disabled=private_forced)
st.markdown(
    "In private mode answers are read by the offline voice, and the Google voice is never used" +
    (": nothing you do leaves this SeeSay server." if conf is None or conf.vlm_engine != "openai" else
     ". Your photos and questions still go to the answering server whoever runs SeeSay chose.") +
    (" Whoever runs SeeSay has switched private mode on for everyone." if private_forced else "")
)
voice = st.radio("Voice", list(VOICES), key=bound("voice"), format_func=VOICES.get,
                 disabled=private or private_forced)
st.markdown("Automatic uses the Google voice when it can be reached, and the offline voice otherwise. "
            "The Google voice sends the text of each answer to Google; the offline voice sends nothing.")

st.header("Answers", anchor=False)
length = st.radio("Answer length", list(LENGTHS), key=bound("length"), format_func=LENGTHS.get,
                  horizontal=True)
language = st.selectbox("Answer language", list(LANGUAGES), key=bound("language"),
                        format_func=LANGUAGES.get)

live_camera.settings(bound)
st.header("Display", anchor=False)
large = st.toggle("Larger text", key=bound("large_text"))
contrast = st.toggle("High contrast", key=bound("high_contrast"))

s.set_prefs(auto_speak=auto, rate=rate, private=private, voice=voice, length=length,
            language=language, large_text=large, high_contrast=contrast)
if conf is not None:
    limit = answer_tokens(conf, s.prefs.choices())
    st.caption(f"Answers are at most about {limit} tokens long (a token is about three quarters of a word).")
