"""The browser side: the announcer (one live region), the audio player, labels and CSS.

The JavaScript in ``assets/seesay.js`` creates the live region and the player once, in
``document.body``, outside Streamlit's React tree, so reruns and page changes do not rebuild them.
Python talks to it through *commands* (announce a message, queue a clip), each sent as a small
``st.html`` script appended to a hidden container at the top of the page. Each command is a new
element, so the browser runs every one of them even when updates arrive in a burst, and each has
an id, so a rerun never says or plays anything twice.

Everything sent is also written to the session (``Session.sent``), which is what tests read.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import json
import wave
from importlib import resources as _files
from typing import Any

import streamlit as st

from .state import Prefs, session

__all__ = ["start", "announce", "announce_later", "play", "new_answer", "stop", "css", "data_url", "script", "asset"]

_BRIDGE = "seesay_bridge"  # key of the hidden container (CSS class st-key-seesay_bridge)
_RUN_KEY = "_seesay_bridge_run"  # the container of the current run, in st.session_state
# Commands of the latest run, sent again by the next one: a run that ends in st.rerun(), or is cut
# short by a click, can lose its last commands before the browser gets them. The browser skips ids it
# has already run.
_LAST_RUN = "_seesay_bridge_sent"
_counter = itertools.count()
_MAX_LOG = 500


def asset(name: str) -> str:
    """The text of ``ui/assets/<name>`` (scripts and styles shipped with the app)."""
    return _files.files("ui").joinpath("assets", name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _silence() -> str:
    """A tenth of a second of silence as a data: URL (the iPhone unlock clip)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    return data_url(buf.getvalue(), "audio/wav")


@functools.lru_cache(maxsize=1)
def _boot_js() -> str:
    return asset("seesay.js").replace("__SEESAY_SILENCE__", _silence())


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def script(payload: dict) -> str:
    """A <script> that hands ``payload`` to the browser side (queued if it has not started yet)."""
    # JSON inside a script: escape "<" so nothing can close the script or look like a tag
    # (DOMPurify also drops scripts containing "<" followed by a letter or slash).
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c")
    return ('<span class="seesay-js" hidden></span><script>(function(p){'
            'if(window.SeeSay){window.SeeSay.run(p);}'
            'else{(window.SeeSayPending=window.SeeSayPending||[]).push(p);}'
            f'}})({text});</script>')


def css(prefs: Prefs) -> str:
    """The page's CSS: target sizes, focus, the player bar; larger text and high contrast."""
    parts = [asset("seesay.css")]
    if prefs.large_text:
        parts.append(asset("large-text.css"))
    if prefs.high_contrast:
        parts.append(asset("high-contrast.css"))
    return "<style>\n" + "\n".join(parts) + "\n</style>"


def browser_words(_) -> dict[str, str]:
    """The browser side's own words (player bar, its announcements, names for Streamlit's unlabelled
    controls), in the page's language: the script has none of its own."""
    return {
        "bar": _("Answer voice"), "stop": _("Stop speaking"), "replay": _("Play answer again"),
        "audio": _("SeeSay answer voice"), "stopped": _("Stopped."),
        "blocked": _("Your browser did not let SeeSay speak by itself. "
                     "Press Play answer again, at the top of the page, to hear it."),
        "no_sound": _("This answer has no sound yet. Use Speak this answer, below it."),
        "nothing": _("There is no answer to play yet."),
        "take_photo": _("Take photo"), "clear_photo": _("Clear photo"), "upload": _("Upload a photo"),
        "choose_file": _("Choose a photo file"), "record": _("Record your question"),
        "stop_recording": _("Stop recording"), "play_recording": _("Play your recording"),
        "pause_recording": _("Pause your recording"),
    }


def start(prefs: Prefs, language: str = "en", _=None) -> None:
    """Every page calls this first: CSS, the browser side, the player's speed, the page's language
    (``<html lang>``) and the browser side's words in it (``_``, from :func:`ui.words.words`)."""
    from .words import words

    st.html(css(prefs))
    bridge = st.container(key=_BRIDGE)
    st.session_state[_RUN_KEY] = bridge
    config = {"rate": prefs.rate, "lang": language, "words": browser_words(_ or words())}
    bridge.html(f"<script>{_boot_js()}</script>" + script({"config": config}),
                unsafe_allow_javascript=True)
    previous = st.session_state.get(_LAST_RUN, [])
    st.session_state[_LAST_RUN] = []
    if previous:
        bridge.html(script({"commands": previous}), unsafe_allow_javascript=True)
    s = session()
    later, s.later = s.later, []
    for text in later:
        announce(text)


def announce_later(text: str) -> None:
    """Announce ``text`` at the start of the next run (for widget callbacks, which run first)."""
    session().later.append(text)


def _send(command: dict[str, Any]) -> str:
    s = session()
    command["id"] = f"{s.nonce}-{next(_counter)}"
    record = {k: v for k, v in command.items() if k != "src"}
    s.sent.append(record)
    del s.sent[:-_MAX_LOG]
    bridge = st.session_state.get(_RUN_KEY)
    if bridge is not None:
        bridge.html(script({"commands": [command]}), unsafe_allow_javascript=True)
    st.session_state.setdefault(_LAST_RUN, []).append(command)
    return command["id"]


def announce(text: str) -> None:
    """Say ``text`` through the live region (screen readers read it once, politely)."""
    _send({"type": "announce", "text": text})


def play(audio: bytes, mime: str, *, answer: str, index: int, autoplay: bool,
         kind: str = "answer") -> None:
    """Give a clip to the player.

    ``answer`` groups the clips of one answer (played in ``index`` order, without overlap; a new
    answer stops the old one). ``autoplay`` False only keeps it for "Play answer again".
    ``kind`` "answer" clips are what "Play answer again" replays; "message" clips (errors) are not.
    """
    _send({"type": "clip", "answer": answer, "index": index, "play": bool(autoplay), "kind": kind,
           "mime": mime, "src": data_url(audio, mime)})


def new_answer(answer: str, *, speak: bool) -> None:
    """Answer ``answer`` is being written (``speak``: its clips will come as it is). "Stop speaking"
    silences it too; without speech, "Play answer again" must not replay the one before it."""
    _send({"type": "answer", "answer": answer, "speak": bool(speak)})


def stop() -> None:
    """Stop speaking, and keep quiet the answers already begun (for example when the photo changes)."""
    _send({"type": "stop"})
