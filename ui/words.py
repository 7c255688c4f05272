"""SeeSay's own words on the page, in the person's language (core.i18n's catalogues).

The language of SeeSay's words is chosen in ONE place, :func:`language`: the person's Language setting;
else the language of their last question; else their browser's; else English (``core.i18n.choose``).
Pages and ``ui`` modules write ``_ = words()`` and mark every text with ``_("...")``; constants are
marked with ``N_`` and said with ``_(CONSTANT)``.
"""

from __future__ import annotations

from typing import Optional

import streamlit as st

from core.i18n import Translator, supported, translator, words_language

from .state import Session, session

__all__ = ["browser_language", "language", "words"]


def browser_language() -> str:
    """The browser's language, as SeeSay speaks it ("" when SeeSay does not speak it): Streamlit's
    ``st.context.locale`` (the browser's ``navigator.language``), else the Accept-Language header."""
    try:
        locale = getattr(st.context, "locale", None)
    except Exception:  # no browser (a bare script run)
        locale = None
    if supported(locale):
        return supported(locale)
    try:
        header = st.context.headers.get("Accept-Language", "") or ""
    except Exception:
        header = ""
    for part in header.split(","):  # "es-ES,es;q=0.9,en;q=0.8": the first SeeSay speaks
        found = supported(part.split(";")[0])
        if found:
            return found
    return ""


def language(s: Optional[Session] = None, heard: str = "") -> str:
    """The language of SeeSay's words for this session; ``heard``: about a question heard in that
    language. The same rule as core's for one question: the setting, the question's language, the
    last question's else the browser's (``Choices.ui_language``), English."""
    return words_language((s or session()).choices(), heard)


def words(s: Optional[Session] = None, heard: str = "") -> Translator:
    """``_`` for this session's language (``heard``: see :func:`language`): ``_("text {name}", name=value)``."""
    return translator(language(s, heard))
