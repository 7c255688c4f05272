"""What every page does first: page config, CSS and the browser side, settings, sidebar."""

from __future__ import annotations

from typing import Optional

import streamlit as st

from core.engines import is_private
from core.errors import ConfigError

from . import browser, resources
from .state import LANGUAGES, LENGTHS, VOICES, session
from .words import browser_language, language, words

__all__ = ["setup", "announce_once"]


def setup(title: str):
    """Start a page (``title`` marked with ``N_``, said in the person's language). Returns the Settings,
    or None when they are wrong (the error is shown)."""
    s = session()
    s.browser_language = browser_language()
    _ = words(s)
    st.set_page_config(page_title=_("{page} · SeeSay", page=_(title)), page_icon="👁️", layout="centered")
    browser.start(s.prefs, language(s), _)
    try:
        conf = resources.settings()
    except ConfigError as error:
        message = _("SeeSay is not set up correctly. {problem}", problem=error.spoken_in(language(s)))
        st.error(message)
        announce_once("config", message)
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
    s = session()
    p, _ = s.prefs, words(s)
    voice = _(VOICES[p.voice])
    if conf is not None and is_private(conf, s.choices()):
        voice = _("Offline voice (private mode)")
    st.sidebar.markdown(_("**Your settings**"))
    answers = (_("in {language}", language=LANGUAGES[p.language]) if p.language else
               _("in the language of the question"))
    speaks = _("on") if p.auto_speak else _("off")
    st.sidebar.caption(_("Speaks answers: {speaks}. Speed: {rate}x. Voice: {voice}. Answers: {length}, {language}.",
                         speaks=speaks, rate=p.rate, voice=voice, length=_(LENGTHS[p.length]).lower(),
                         language=answers))
