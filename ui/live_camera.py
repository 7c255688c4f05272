"""The live camera: guidance while the person aims, and the photo taken by itself when it is good.

A Streamlit component (Components v2: mounted in the page itself, no iframe) beside Streamlit's camera:
a **Live camera** toggle opens the back camera, and the browser judges every frame it can and says what
to change through SeeSay's live region (``assets/live-camera.js``; the words, the limits and the rules
are :mod:`core.aiming`'s). Two things come back here, as the component's trigger values:

* ``frame``: a small JPEG for the text check, sent at most twice a second and only one at a time, and
  only while the picture is otherwise good. It is checked in a callback of the component's own fragment
  (:func:`core.pipeline.Pipeline.guide`), so it reruns the fragment and never the page, and the answer
  reaches the browser with that rerun;
* ``photo``: the photo, at the camera's full resolution. The page is run again and
  :func:`live_camera` returns its bytes, which the page hands to :func:`ui.asking.take_photo`, as any
  photo (quality check, reading, the question).
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import logging
from typing import Any, Callable, Optional

import streamlit as st

from core.aiming import CUES, FRAME_MAX_BYTES, LABELS, MESSAGES, browser_limits
from core.errors import SeeSayError

from . import resources
from .browser import asset
from .state import Prefs, session
from .words import words

__all__ = ["live_camera", "settings", "REPEATS"]

log = logging.getLogger(__name__)

#: the choices of how often the same guidance may be said again, in seconds (Prefs.cue_seconds)
REPEATS = (2.0, 3.0, 5.0, 8.0)


def _html() -> str:
    """The toggle, what was said last (shown), and the view that opens: the video, Take photo now, the text option."""
    name = {key: html.escape(text) for key, text in LABELS.items()}
    return ('<div class="seesay-live">'
            f'<button type="button" class="seesay-live-toggle" aria-pressed="false">{name["toggle"]}</button>'
            '<p class="seesay-live-said"></p>'
            '<div class="seesay-live-view" hidden>'
            '<video class="seesay-live-video" muted playsinline aria-hidden="true"></video>'
            '<div class="seesay-live-actions">'
            f'<button type="button" class="seesay-live-take">{name["take"]}</button>'
            '<label class="seesay-live-option"><input type="checkbox" class="seesay-live-text" checked> '
            f'{name["text"]}</label>'
            '</div></div></div>')


# Registered once per process; in the page's DOM (isolate_styles=False), so SeeSay's CSS (target sizes,
# focus, larger text, high contrast) applies to it as to everything else.
_COMPONENT = st.components.v2.component("seesay_live_camera", html=_html(), css=asset("live-camera.css"),
                                        js=asset("live-camera.js"), isolate_styles=False)


def live_camera(page: str) -> Optional[bytes]:
    """The Live camera control. Returns the bytes of a photo it has just taken (each photo once), or None."""
    key = f"{page}-live-{session().round}"
    _view(key)
    return st.session_state.pop(_taken(key), None)


@st.fragment
def _view(key: str) -> None:
    _COMPONENT(key=key, data=_data(key, session().prefs), on_frame_change=functools.partial(_check, key),
               on_photo_change=functools.partial(_keep, key))
    if st.session_state.pop(_arrived(key), False):
        st.rerun()  # the whole page, which takes the photo


def _data(key: str, prefs: Prefs) -> dict:
    """What the browser side needs: its words and the controls' names in the page's language (core.aiming's
    texts, marked there), the limits, the preferences, the latest text check."""
    _ = words()
    return {"words": {name: _(text) for name, text in {**CUES, **MESSAGES}.items()},
            "labels": {name: _(text) for name, text in LABELS.items()}, "limits": browser_limits(),
            "prefs": {"every": prefs.cue_seconds, "tone": prefs.tone}, "check": st.session_state.get(_checked(key))}


def _taken(key: str) -> str:
    return f"{key}-photo"


def _arrived(key: str) -> str:
    return f"{key}-arrived"


def _checked(key: str) -> str:
    return f"{key}-check"


def _trigger(key: str, name: str) -> Any:
    state = st.session_state.get(key)
    return state.get(name) if hasattr(state, "get") else None


def _decode(value: Any, limit: int) -> Optional[bytes]:
    """Base64 text from the browser -> bytes, or None when it is not that or is over ``limit`` bytes."""
    if not isinstance(value, str) or len(value) > limit * 4 // 3 + 4:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _check(key: str) -> None:
    """A frame for the text check came: check it now; the answer goes to the browser with this rerun."""
    frame = _trigger(key, "frame")
    if not isinstance(frame, dict) or not isinstance(frame.get("id"), int):
        return
    answer: dict = {"frame": frame["id"], "unavailable": True}  # the photo then waits for no text check
    data = _decode(frame.get("image"), FRAME_MAX_BYTES)
    side = frame.get("side") if isinstance(frame.get("side"), int) else 0
    if data is not None:
        try:
            answer = {"frame": frame["id"], "advice": list(resources.pipeline().guide(data, side).advice)}
        except SeeSayError as error:
            log.debug("live camera: no text check for this frame: %s", error.message)
    st.session_state[_checked(key)] = answer


def _keep(key: str) -> None:
    """The photo came: keep it for the page, which is run again to take it."""
    photo = _trigger(key, "photo")
    if not isinstance(photo, dict):
        return
    data = _decode(photo.get("image"), resources.settings().max_image_bytes)
    if data is not None:
        st.session_state[_taken(key)] = data
        st.session_state[_arrived(key)] = True


def settings(bound: Callable[[str], str]) -> None:
    """The live camera's part of the Settings page; ``bound(name)`` is the widget key holding preference ``name``."""
    _ = words()
    st.header(_("Live camera"), anchor=False)
    st.markdown(_("While you aim the **Live camera**, SeeSay says what to change (too dark, blurry, text cut "
                  "off) and takes the photo by itself when it is good."))
    st.radio(_("Say the same guidance again at most every"), REPEATS, key=bound("cue_seconds"),
             horizontal=True, format_func=lambda seconds: _.ngettext("{count} second", "{count} seconds",
                                                                     int(seconds), count=seconds))
    st.toggle(_("Sharpness tone"), key=bound("tone"))
    st.markdown(_("The sharpness tone beeps while you aim, higher as the picture gets sharper."))
