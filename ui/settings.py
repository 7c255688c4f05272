"""The Settings page's preferences: the widgets hold them while the page is shown, the session keeps
them for the visit (widgets forget their values when another page is shown)."""

from __future__ import annotations

import streamlit as st

from .state import LANGUAGES, LENGTHS, VOICES, Prefs, session
from .words import words

__all__ = ["take_changes", "key", "rate_label", "language_label", "voice_label", "length_label", "private_for_everyone", "privacy_note"]


def key(name: str) -> str:
    """Widget key for preference ``name``, holding the current value."""
    widget = f"pref-{name}"
    if widget not in st.session_state:
        st.session_state[widget] = getattr(session().prefs, name)
    return widget


def take_changes() -> None:
    """Keep what the person changed on the Settings page, once per run, before the page is set up:
    a change must already count for this run (the text size, the speech rate). A widget's new value
    is in the session state before the page's script runs."""
    session().set_prefs(**{name: st.session_state[f"pref-{name}"] for name in Prefs.__dataclass_fields__
                           if f"pref-{name}" in st.session_state})


def rate_label(rate: float) -> str:
    _ = words()
    return _("{rate}x (normal)", rate=rate) if rate == 1 else _("{rate}x", rate=rate)


def voice_label(voice: str) -> str:
    return words()(VOICES[voice])


def length_label(length: str) -> str:
    return words()(LENGTHS[length])


def language_label(code: str) -> str:
    """A language by its own name; Automatic in the page's language."""
    return words()(LANGUAGES[code]) if not code else LANGUAGES[code]


def private_for_everyone(conf) -> bool:
    """Whoever runs SeeSay switched private mode on (``conf`` None: the settings are wrong)."""
    return conf is not None and conf.private


def privacy_note(conf) -> str:
    """What private mode keeps on this server, with these settings (``conf`` None: they are wrong)."""
    forced, _ = private_for_everyone(conf), words()
    if conf is None or conf.vlm_engine != "openai":
        note = _("In private mode answers are read by the offline voice, and the Google voice is never used: "
                 "nothing you do leaves this SeeSay server.")
    else:
        note = _("In private mode answers are read by the offline voice, and the Google voice is never used. "
                 "Your photos and questions still go to the answering server whoever runs SeeSay chose.")
    if forced:
        note += " " + _("Whoever runs SeeSay has switched private mode on for everyone.")
    return note
