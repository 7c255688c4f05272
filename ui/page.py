"""What every page does first: page config, CSS and the browser side, settings, sidebar."""

from __future__ import annotations

from typing import Optional

import streamlit as st

from core.engines import is_private
from core.errors import ConfigError

from . import browser, resources
from .state import LANGUAGES, LENGTHS, VOICES, session

__all__ = ["setup", "announce_once"]


def setup(title: str):
    """Start a page. Returns the Settings, or None when they are wrong (the error is shown)."""
    st.set_page_config(page_title=f"{title} · SeeSay", page_icon="👁️", layout="centered")
    s = session()
    browser.start(s.prefs)
    try:
        conf = resources.settings()
    except ConfigError as error:
        st.error(f"SeeSay is not set up correctly. {error.spoken}")
        announce_once("config", f"SeeSay is not set up correctly. {error.spoken}")
        conf = None
    _sidebar(conf)
    return conf


def announce_once(key: str, text: str) -> None:
    """Announce ``text`` the first time ``key`` comes up in this session (not on every rerun)."""
    s = session()
    if key not in s.said:
        s.said.add(key)
        browser.announce(text)


def _sidebar(conf: Optional[object]) -> None:
    p = session().prefs
    voice = VOICES[p.voice]
    if conf is not None and is_private(conf, p.choices()):
        voice = "Offline voice (private mode)"
    st.sidebar.markdown("**Your settings**")
    language = LANGUAGES[p.language] if p.language else "the language of the question"
    st.sidebar.caption(
        f"Speaks answers: {'on' if p.auto_speak else 'off'}. Speed: {p.rate:g}x. Voice: {voice}. "
        f"Answers: {LENGTHS[p.length].lower()}, in {language}."
    )
