"""SeeSay's pipeline for this process, shared by every session: the only ``st.cache_resource``.

The pipeline holds the models (:class:`core.engines.Models`): each is loaded once, on first use,
and shared by every visitor; a model that fails to load is remembered with the reason until
:func:`retry`. Nothing here changes an engine after it is loaded.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.config import Settings, load_settings
from core.errors import ConfigError
from core.pipeline import Pipeline

__all__ = ["settings", "pipeline", "retry"]


@dataclass(frozen=True)
class _Outcome:
    value: Any = None
    error: ConfigError | None = None


@st.cache_resource(show_spinner=False)
def _settings() -> _Outcome:
    _log_to_console()
    try:
        return _Outcome(value=load_settings())
    except ConfigError as error:  # shown on every page until the setting is fixed
        return _Outcome(error=error)


@st.cache_resource(show_spinner=False)
def _pipeline() -> Pipeline:
    return Pipeline(settings())


def _log_to_console() -> None:
    """SeeSay's own log lines (models loaded, answer timings, warnings) on the server's console.

    Streamlit sets up only its own loggers; without this, INFO lines from core and ui are dropped.
    """
    for name in ("core", "ui"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def settings() -> Settings:
    """The validated settings; raises ConfigError."""
    outcome = _settings()
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def pipeline() -> Pipeline:
    """The pipeline of this process (its models load on first use); raises ConfigError."""
    settings()
    return _pipeline()


def retry(which: str) -> None:
    """Try again: "settings" reads the settings anew and starts a new pipeline (every model loads
    again); a stage ("vlm", "stt", "voice") forgets that model's failed load."""
    if which == "settings":
        _settings.clear()
        _pipeline.clear()
    else:
        pipeline().models.retry(which)
