"""The Streamlit app, driven headless with AppTest on the tiny real models (and a few pure parts).

Model tests run the real pipeline: tiny random-weight LLaVA (its words are noise: never asserted),
real Whisper tiny.en, the offline voice. What is checked is what a person gets: the answer on the
page as escaped text with its language, clips handed to the player, announcements, errors shown
(never a traceback) with the photo, the typed question and the history kept.
"""

from __future__ import annotations

import html
import io
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
HOME = str(ROOT / "Home.py")
DESCRIBE, ASK, HISTORY, SETTINGS = ("pages/1_Describe_a_photo.py", "pages/2_Ask_by_voice.py",
                                    "pages/3_History.py", "pages/4_Settings.py")
TIMEOUT = 180  # seconds per script run: the first run loads the models
NORMAL_TOKENS, DETAIL_TOKENS = 12, 20  # small: random weights, fast tests


# --- helpers ----------------------------------------------------------------------------------

def jpeg(color=(200, 40, 40), seed: int = 0) -> bytes:
    """A photo that passes the quality check (a plain colour would be 'featureless')."""
    from tests.media import scene_bytes

    return scene_bytes(seed, "JPEG", tint=color)


def png(color=(20, 160, 60), seed: int = 1) -> bytes:
    from tests.media import scene_bytes

    return scene_bytes(seed, "PNG", tint=color)


def flat_png(color=(120, 120, 120)) -> bytes:
    """A plain grey picture: what a photo of a blank wall, or of a finger over the lens, looks like."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(buf, "PNG")
    return buf.getvalue()


def wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def spoken_question() -> bytes:
    """A real spoken question: the offline voice (espeak-ng) reading it, as WAV."""
    from core.tts import load_tts

    speech = load_tts("espeak", private=True, timeout=5).synthesize("What colour is the car?", "en")
    assert speech.mime == "audio/wav"
    return speech.audio


def session(at):
    return at.session_state["seesay"]


def sent(at, kind):
    return [c for c in session(at).sent if c["type"] == kind]


def announced(at) -> list[str]:
    return [c["text"] for c in sent(at, "announce")]


def button(at, label):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


def answers_html(at) -> list[str]:
    return [h.value for h in at.get("html") if 'class="seesay-answer"' in h.value]


def last_answers(at) -> int:
    return sum('id="seesay-last-answer"' in h for h in answers_html(at))


def assert_no_crash(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not any("Traceback" in e.value for e in at.error)


@pytest.fixture
def app_env(monkeypatch, test_models):
    """Point SeeSay at the tiny local models; engines stay cached between tests that agree."""
    monkeypatch.setenv("SEESAY_LLAVA_MODEL", str(test_models.llava))
    monkeypatch.setenv("SEESAY_WHISPER_MODEL", str(test_models.whisper_tiny_en))
    monkeypatch.setenv("SEESAY_STT_ENGINE", "openai-whisper")
    monkeypatch.setenv("SEESAY_TTS_ENGINE", "offline")
    monkeypatch.setenv("SEESAY_DEVICE", "cpu")
    monkeypatch.setenv("SEESAY_MAX_ANSWER_TOKENS", str(NORMAL_TOKENS))
    monkeypatch.setenv("SEESAY_DETAIL_ANSWER_TOKENS", str(DETAIL_TOKENS))
    return test_models


@pytest.fixture
def asked(monkeypatch):
    """Every question the app asks (core.answering.Question: its length limit, its language), in order."""
    from core import pipeline

    seen = []

    def question(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    real = pipeline.Question
    monkeypatch.setattr(pipeline, "Question", question)
    return seen


def app(page: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    if page is None:
        return at.run()
    return at.switch_page(page).run()  # straight there, as with a link: Home does not run first


def with_photo(page=ASK, photo=None):
    at = app(page)
    at.file_uploader[0].upload("photo.png", photo or png(), "image/png")
    at.run()
    assert_no_crash(at)
    assert session(at).photo is not None
    return at


def ask_typed(at, text):
    at.text_input(key="ask-text").input(text)
    at.form_submit_button[0].click()
    return at.run()


def settings_page(at):
    return at.switch_page(SETTINGS).run()


# --- pure parts: no Streamlit run, no models ---------------------------------------------------

def _luminance(hex_color: str) -> float:
    r, g, b = (int(hex_color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_theme_contrast(mode):
    theme = tomllib.loads((ROOT / ".streamlit/config.toml").read_text())["theme"][mode]
    bg, panel = theme["backgroundColor"], theme["secondaryBackgroundColor"]
    for name in ("textColor", "primaryColor", "linkColor"):
        for back in (bg, panel):
            assert contrast(theme[name], back) >= 4.5, (mode, name, back)
    assert contrast(theme["borderColor"], bg) >= 3.0  # input boundaries (WCAG 1.4.11)
    for colour in ("red", "green", "blue", "yellow"):
        assert contrast(theme[f"{colour}TextColor"], theme[f"{colour}BackgroundColor"]) >= 4.5, colour


def test_server_config_is_locked_down():
    conf = tomllib.loads((ROOT / ".streamlit/config.toml").read_text())
    assert conf["server"]["enableXsrfProtection"] is True
    assert 1 <= conf["server"]["maxUploadSize"] <= 25
    assert conf["browser"]["gatherUsageStats"] is False
    assert conf["client"]["toolbarMode"] == "minimal"
    assert conf["client"]["showErrorDetails"] == "none"


def test_answer_html_is_plain_text_with_language():
    from ui.render import answer_html

    evil = 'See ![x](http://example.com/leak) and [link](http://example.com) <script>alert(1)</script>\x07'
    out = answer_html(evil, "es")
    assert '<script>' not in out and "<img" not in out and "<a " not in out
    assert html.escape("![x](http://example.com/leak)") in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert 'lang="es"' in out and "\x07" not in out
    assert 'dir="rtl"' in answer_html("مرحبا", "ar")
    assert 'lang=' not in answer_html("hi", '" onmouseover="x')  # a bad code is dropped, not injected


def test_browser_scripts_survive_dompurify():
    """DOMPurify (Streamlit's st.html) drops a script whose text has '<' then a letter, '/' or '!'."""
    from ui import browser
    from ui.state import Prefs

    risky = re.compile(r"<[/\w!]")
    assert not risky.search((ROOT / "ui/assets/seesay.js").read_text())
    for name in ("seesay.css", "large-text.css", "high-contrast.css"):
        assert not risky.search((ROOT / "ui/assets" / name).read_text()), name
    tag = browser.script({"commands": [{"type": "announce", "text": "</script><b>hi</b>"}]})
    body = tag.split("<script>", 1)[1].rsplit("</script>", 1)[0]
    assert not risky.search(body)
    payload = json.loads(re.search(r"\}\)\((.*)\);$", body).group(1))
    assert payload["commands"][0]["text"] == "</script><b>hi</b>"
    css = browser.css(Prefs(large_text=True, high_contrast=True))
    assert "font-size: 20px" in css and "#000000" in css


def test_prefs_map_to_voice_and_token_limits():
    from core.config import Settings
    from core.engines import answer_tokens, voice_name
    from ui.state import Prefs

    def tokens(prefs, conf):
        return answer_tokens(conf, prefs.choices())

    def voice(prefs, conf):
        return voice_name(conf, prefs.choices())

    conf = Settings(max_answer_tokens=200, detail_answer_tokens=500, tts_engine="auto")
    assert [tokens(Prefs(length=n), conf) for n in ("short", "normal", "detailed")] == [100, 200, 500]
    assert voice(Prefs(), conf) == "auto"
    assert voice(Prefs(voice="gtts"), conf) == "gtts"
    assert voice(Prefs(voice="gtts", private=True), conf) == "offline"
    assert voice(Prefs(voice="gtts"), Settings(private=True)) == "offline"
    assert voice(Prefs(voice="offline"), Settings(tts_engine="espeak")) == "espeak"
    assert Prefs(auto_speak=False, language="es").choices().speak is False


def test_the_settings_page_offers_the_choices_core_knows():
    from core import engines
    from ui.state import LENGTHS, VOICES

    assert tuple(VOICES) == engines.VOICES and tuple(LENGTHS) == engines.LENGTHS


def _history_session():
    from core.pipeline import Answer
    from core.tts import Speech
    from ui.state import Session

    class FakePhoto:
        key = "k1"
        original_size = (96, 64)

        def jpeg(self):
            return jpeg()

    s = Session()
    s.set_photo(FakePhoto())
    speech = Speech(audio=b"RIFF", mime="audio/wav", engine="espeak", language="en")
    s.add_entry(kind="describe", photo_key="k1", answer=Answer(
        question="Describe this photo for me.", language="en", text='A "red" <b>square</b>.', speech=speech))
    s.add_entry(kind="typed", photo_key="k1", answer=Answer(
        question="¿Qué dice? <script>x()</script>", language="es",
        text="<script>alert(1)</script> ![x](http://example.com/leak)"))
    return s


def test_history_exports_escape_everything():
    from ui.export import to_html, to_json

    s = _history_session()
    s.set_prefs(language="en")  # SeeSay's words in English (else they follow the last, Spanish, question)
    doc = to_html(s)
    assert doc.startswith("<!DOCTYPE html>") and '<html lang="en">' in doc
    assert "<script>" not in doc and "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "![x](http://example.com/leak)" in doc and "<img src=\"http" not in doc
    assert 'lang="es"' in doc  # the Spanish answer says so
    assert 'src="data:image/jpeg;base64,' in doc
    assert 'alt="Photo: A &quot;red&quot; &lt;b&gt;square&lt;/b&gt;."' in doc  # the first description
    data = json.loads(to_json(s))
    assert [e["answer"] for e in data["entries"]][1] == "<script>alert(1)</script> ![x](http://example.com/leak)"
    assert data["photos"]["k1"]["description"] == 'A "red" <b>square</b>.'


def test_deleting_history_forgets_unused_photos():
    s = _history_session()
    first, second = (e.id for e in s.entries)
    s.clear_photo()
    assert s.delete_entry(first) and "k1" in s.photos
    assert s.delete_entry(second) and not s.photos and not s.entries
    assert not s.delete_entry(second)


# --- the app on the tiny models ----------------------------------------------------------------

@pytest.mark.models
def test_home_shows_models_ready_and_privacy(app_env):
    at = app()
    assert_no_crash(at)
    assert [t.value for t in at.title] == ["SeeSay: hear what is in a photo"]
    assert [h.value for h in at.header][:2] == ["How to use SeeSay without sight", "Models"]
    ready = [s.value for s in at.success]
    assert len(ready) == 4 and all(v.endswith("ready.") for v in ready)
    page = " ".join(m.value for m in at.markdown)
    assert "Stop speaking" in page and "gTTS" in page and "private mode" in page
    assert "SeeSay is ready." in announced(at)


@pytest.mark.models
def test_photo_from_camera_is_described_and_spoken(app_env):
    at = app(DESCRIBE)
    assert [h.value for h in at.header][0] == "Take or choose a photo"  # before the camera
    at.camera_input[0].upload("photo.jpg", jpeg(), "image/jpeg")
    at.run()
    assert_no_crash(at)
    s = session(at)
    assert [e.kind for e in s.entries] == ["describe"]
    entry = s.entries[0]
    assert entry.answer and entry.question.startswith("Describe")
    assert s.photos[s.photo.key].description == entry.answer
    assert at.image[0].proto.imgs[0].alt == "Photo: " + entry.answer  # alt text = first description
    clips = sent(at, "clip")
    assert clips and all(c["play"] for c in clips) and [c["index"] for c in clips] == list(range(len(clips)))
    says = announced(at)
    assert says.index("Photo received.") < says.index("Answer ready.")
    assert any(html.escape(entry.answer) in h for h in answers_html(at))
    assert any(a.proto.alt.startswith("Play the answer") for a in at.get("audio"))

    at.run()  # a rerun does not describe the same photo again
    assert len(session(at).entries) == 1


@pytest.mark.models
def test_photo_from_uploader_and_more_detail(app_env, asked):
    at = with_photo(DESCRIBE)
    assert [e.kind for e in session(at).entries] == ["describe"]
    assert asked[-1].max_new_tokens == NORMAL_TOKENS
    button(at, "More detail").click()
    at.run()
    assert_no_crash(at)
    s = session(at)
    assert [e.kind for e in s.entries] == ["describe", "detail"]
    assert asked[-1].max_new_tokens == DETAIL_TOKENS
    assert len(s.turns()) == 2  # one conversation about one photo
    assert last_answers(at) == 1  # a stable id, on the newest answer only
    at.run()
    assert last_answers(at) == 1


@pytest.mark.models
def test_spoken_question_is_transcribed_answered_and_drawn(app_env, spoken_question):
    at = with_photo(ASK)
    at.audio_input[0].upload("question.wav", spoken_question)
    at.run()
    assert_no_crash(at)
    s = session(at)
    assert [e.kind for e in s.entries] == ["voice"]
    assert "colo" in s.entries[0].question.lower()  # real Whisper tiny.en heard color/colour
    asked = [h.value for h in at.get("html") if "You asked:" in h.value]
    assert asked and 'lang="en"' in asked[0]
    says = announced(at)
    listening, thinking = says.index("Recording received. Listening…"), says.index("Thinking…")
    assert listening < thinking < says.index("Answer ready.")
    assert any("Spectrogram" in i.proto.imgs[0].alt for i in at.image)
    said = [m.value for m in at.markdown if m.value.startswith("Your last recording:")]
    assert said and "seconds" in said[0] and "speech heard" in said[0]  # its text alternative

    at.run()  # the same recording is not answered twice
    assert len(session(at).entries) == 1


@pytest.mark.models
def test_typed_question_and_follow_up_keep_the_conversation(app_env):
    at = with_photo(ASK)
    ask_typed(at, "What is in the photo?")
    assert_no_crash(at)
    ask_typed(at, "And what colour is it?")
    assert_no_crash(at)
    s = session(at)
    assert [e.question for e in s.entries] == ["What is in the photo?", "And what colour is it?"]
    assert len(s.turns()) == 2 and len({e.conversation for e in s.entries}) == 1
    assert at.text_input(key="ask-text").value == ""  # a fresh box
    assert [h.value for h in at.subheader if h.value.startswith("Question")] == ["Question 1", "Question 2"]
    assert last_answers(at) == 1

    button(at, "New photo").click()
    at.run()
    assert session(at).photo is None and session(at).turns() == []
    assert len(session(at).entries) == 2  # the history stays
    assert any("cleared" in a for a in announced(at))


@pytest.mark.models
def test_settings_take_effect(app_env, monkeypatch, asked, engine_loads):
    from ui import render

    made = []
    synthesize = render._speech
    monkeypatch.setattr(render, "_speech", lambda text, language: made.append(text) or synthesize(text, language))

    at = with_photo(ASK)
    settings_page(at)
    assert_no_crash(at)
    at.toggle(key="pref-auto_speak").set_value(False).run()
    at.radio(key="pref-voice").set_value("gtts").run()
    at.toggle(key="pref-private").set_value(True).run()
    at.radio(key="pref-length").set_value("short").run()
    at.radio(key="pref-rate").set_value(1.5).run()
    at.toggle(key="pref-large_text").set_value(True).run()
    # The Language setting is tested on its own (test_a_spanish_setting_gives_spanish_pages): AppTest runs
    # the radios' format_func outside the page, in English, and cannot find "1.5x" among the Spanish "1,5x".
    session(at).set_prefs(language="es")
    assert_no_crash(at)
    styles = " ".join(h.value for h in at.get("html"))
    assert "font-size: 20px" in styles and '"rate":1.5' in styles

    at.switch_page(ASK).run()
    ask_typed(at, "What is this?")
    assert_no_crash(at)
    s = session(at)
    entry = s.entries[-1]
    assert asked[-1].max_new_tokens == NORMAL_TOKENS // 2  # short answers
    assert asked[-1].language == "es" and entry.language == "es"
    assert any('lang="es"' in h for h in answers_html(at))
    # Automatic speech off: no speech is made until asked for, and "Play answer again" is told
    # that this answer has none (it must not replay the answer before).
    assert sent(at, "clip") == [] and entry.speech is None and "tts" not in entry.engines and made == []
    assert [c["answer"] for c in sent(at, "answer")] == [f"{s.nonce}-a{entry.id}"]
    assert not at.get("audio")
    button(at, "Decir esta respuesta").click().run()  # SeeSay speaks Spanish now
    assert_no_crash(at)
    entry = session(at).entries[-1]
    assert entry.speech and entry.engines.get("tts") in ("espeak", "piper", "piper+espeak")  # private: offline
    assert ("voice", "offline", True) in engine_loads  # private: the offline voice, and never Google's
    assert not [key for key in engine_loads if key[0] == "voice" and key[1] == "gtts"], engine_loads
    clips = sent(at, "clip")
    assert len(clips) == 1 and clips[0]["play"] and clips[0]["answer"] == f"{s.nonce}-a{entry.id}"
    assert any(a.proto.alt.startswith("Reproducir la respuesta") for a in at.get("audio"))
    # The button stays (focus stays on it) and says the kept speech again: nothing is made twice.
    button(at, "Decir esta respuesta").click().run()  # SeeSay speaks Spanish now
    clips = sent(at, "clip")
    assert len(clips) == 2 and clips[1]["play"] and clips[1]["answer"] == clips[0]["answer"]
    from core.pipeline import spoken_text

    assert session(at).entries[-1].speech == entry.speech
    assert made == [spoken_text(entry.answer, entry.remarks, entry.hedged, language="es")]  # as it would be said


@pytest.mark.models
def test_bad_photo_is_refused_and_the_old_photo_kept(app_env):
    at = with_photo(DESCRIBE)
    key, entries = session(at).photo.key, len(session(at).entries)
    at.file_uploader[0].upload("photo.jpg", b"this is not a photo", "image/jpeg")
    at.run()
    assert_no_crash(at)
    assert at.error and "photo" in at.error[0].value.lower()
    s = session(at)
    assert s.photo.key == key and len(s.entries) == entries
    assert at.error[0].value in announced(at)
    assert any(c["kind"] == "message" and c["play"] for c in sent(at, "clip"))  # and spoken


@pytest.mark.models
@pytest.mark.parametrize("recording, words", [
    (b"", "recording"),
    (wav(np.zeros(0)), "recording"),
    (wav(np.zeros(32000)), "hear"),
], ids=["no-bytes", "no-samples", "silence"])
def test_unusable_recordings_are_explained(app_env, recording, words):
    at = with_photo(ASK)
    ask_typed(at, "What is it?")
    at.audio_input[0].upload("question.wav", recording)
    at.run()
    assert_no_crash(at)
    assert at.error and words in at.error[0].value.lower()
    assert at.error[0].value in announced(at)
    s = session(at)
    assert s.photo is not None and len(s.entries) == 1 and len(s.turns()) == 1


@pytest.mark.models
def test_silent_recording_still_gets_its_text_alternative(app_env):
    at = with_photo(ASK)
    at.audio_input[0].upload("question.wav", wav(np.zeros(32000)))
    at.run()
    assert at.error
    assert any("no speech heard" in m.value for m in at.markdown)


@pytest.mark.models
def test_empty_typed_question_keeps_photo_and_history(app_env):
    at = with_photo(ASK)
    ask_typed(at, "What is it?")
    box = "ask-text"
    ask_typed(at, "   ")
    assert_no_crash(at)
    assert at.error and "empty" in at.error[0].value
    assert len(session(at).entries) == 1 and session(at).photo is not None
    assert at.text_input(key=box).value == "   "  # the typed text stays in the box


@pytest.mark.models
def test_waiting_for_the_shared_model_is_said_once(app_env):
    import threading

    from ui import resources

    at = with_photo(ASK)
    lock = resources.pipeline().models.lock
    ticket = lock.take()  # someone else's question is on the model
    timer = threading.Timer(2.0, lock.release, args=(ticket,))
    timer.start()
    try:
        ask_typed(at, "What is it?")
    finally:
        timer.cancel()
        lock.release(ticket)
    assert_no_crash(at)
    waits = [a for a in announced(at) if "being answered first" in a]
    assert len(waits) == 1  # said once, not counted down
    assert len(session(at).entries) == 1


@pytest.mark.models
def test_a_bug_gets_a_short_apology_not_a_traceback(app_env, monkeypatch):
    from ui import resources
    from ui.render import BUG_MESSAGE

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that must not reach the page")

    at = with_photo(ASK)
    monkeypatch.setattr(resources.pipeline(), "ask", broken)  # a bug while the answer is written
    ask_typed(at, "What is it?")
    assert_no_crash(at)
    assert [e.value for e in at.error] == [BUG_MESSAGE]
    assert BUG_MESSAGE in announced(at)
    assert "internal detail" not in " ".join(str(x.value) for x in at.main if hasattr(x, "value"))


@pytest.mark.models
def test_history_replay_delete_and_download(app_env):
    at = with_photo(ASK)
    ask_typed(at, "What is it?")
    s = session(at)
    s.entries[-1].answer = "<script>alert(1)</script> ![x](http://example.com/leak) [a](http://x.y)"
    ask_typed(at, "Anything else?")
    at.switch_page(HISTORY).run()
    assert_no_crash(at)
    assert [t.value for t in at.title] == ["History"]
    shown = " ".join(answers_html(at))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ![x](http://example.com/leak)" in shown
    assert "<script>alert" not in shown
    assert len([a for a in at.get("audio") if a.proto.alt.startswith("Play the answer")]) == 2
    assert [d.label for d in at.get("download_button")] == ["Download as a web page (HTML)",
                                                           "Download as data (JSON)"]
    images = [i.proto.imgs[0].alt for i in at.image]
    assert images == ["Your photo. It has not been described yet."]

    first = session(at).entries[0].id
    at.button(key=f"delete-{first}").click().run()
    assert_no_crash(at)
    assert [e.question for e in session(at).entries] == ["Anything else?"]
    assert at.success and "Deleted" in at.success[0].value
    assert "Deleted that question and answer." in announced(at)

    button(at, "Delete all history").click().run()
    assert at.warning and "cannot be undone" in at.warning[0].value
    assert any(a.startswith("Delete 1 question and answer and its photo?") for a in announced(at))
    button(at, "Yes, delete everything").click().run()
    assert_no_crash(at)
    assert session(at).entries == [] and session(at).photo is None
    assert "Deleted everything" in at.success[0].value
    assert any(a.startswith("Deleted everything") for a in announced(at))


# --- tests that reload the engines (last, so the others share one load) --------------------------


@pytest.mark.models
def test_models_load_once_and_are_shared_by_sessions(app_env, engine_loads):
    from ui import resources

    resources.retry("settings")  # start from nothing
    first = with_photo(ASK)  # straight to a question: the first load is said, not silent
    ask_typed(first, "What is it?")
    assert "Loading the models first. This can take a few minutes." in announced(first)
    second = app()
    third = with_photo(ASK)
    ask_typed(third, "What is it?")
    for at in (first, second, third):
        assert_no_crash(at)
    assert not any(a.startswith("Loading") for a in announced(third))
    assert engine_loads == {("vlm",): 1, ("stt",): 1, ("voice", "offline", False): 1}
    assert resources.pipeline() is resources.pipeline()
    assert resources.pipeline().models.vlm() is resources.pipeline().models.vlm()
    assert len({session(at).nonce for at in (first, second, third)}) == 3  # three sessions, one model


@pytest.mark.models
def test_missing_model_folder_is_explained_everywhere(app_env, monkeypatch, tmp_path):
    from ui import resources

    monkeypatch.setenv("SEESAY_LLAVA_MODEL", str(tmp_path / "no-such-model"))
    resources.retry("settings")
    try:
        at = app()
        assert_no_crash(at)
        problems = [e.value for e in at.error]
        assert len(problems) == 1 and "SEESAY_LLAVA_MODEL" in problems[0]
        assert len(at.success) == 3  # speech recognition, the text reader and the voice still work
        assert any("make-test-models" in m.value for m in at.markdown)

        at.switch_page(DESCRIBE).run()
        at.camera_input[0].upload("photo.jpg", jpeg(), "image/jpeg")
        at.run()
        assert_no_crash(at)
        assert at.error and session(at).photo is not None  # the photo is kept for later
        at.switch_page(HISTORY).run()
        assert_no_crash(at)
        assert not at.error
    finally:
        monkeypatch.undo()
        resources.retry("settings")


@pytest.mark.models
def test_without_speech_recognition_typed_questions_still_work(app_env, monkeypatch, tmp_path,
                                                               spoken_question):
    from ui import resources

    monkeypatch.setenv("SEESAY_WHISPER_MODEL", str(tmp_path / "no-such-whisper.pt"))
    resources.retry("settings")
    try:
        at = app()
        assert [e.value for e in at.error][0].count("SEESAY_WHISPER_MODEL") >= 1
        assert any("type your questions" in m.value for m in at.markdown)
        at.switch_page(ASK).run()
        at.file_uploader[0].upload("photo.png", png(), "image/png")
        at.run()
        ask_typed(at, "What is it?")
        assert_no_crash(at)
        assert [e.kind for e in session(at).entries] == ["typed"]
        at.audio_input[0].upload("question.wav", spoken_question)
        at.run()
        assert_no_crash(at)
        assert at.error and "Speech recognition is not available" in at.error[0].value
        assert len(session(at).entries) == 1
    finally:
        monkeypatch.undo()
        resources.retry("settings")


def test_wrong_setting_is_shown_on_every_page(monkeypatch):
    from ui import resources

    monkeypatch.setenv("SEESAY_DEVICE", "gpu")
    resources.retry("settings")
    try:
        at = app()
        for page in (None, DESCRIBE, ASK, HISTORY, SETTINGS):
            if page:
                at.switch_page(page).run()
            assert_no_crash(at)
            assert at.error and "SEESAY_DEVICE" in at.error[0].value, page
    finally:
        monkeypatch.undo()
        resources.retry("settings")


def test_streamlit_serves_the_app_headless(tmp_path):
    """`streamlit run Home.py --server.headless true` starts and answers its health check."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert proc.poll() is None, "streamlit exited"
                assert time.monotonic() < deadline, "no health answer within 60 s"
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.models
def test_speak_this_answer_explains_when_no_voice_can_and_lets_them_try_again(app_env, monkeypatch):
    from ui import render

    at = with_photo(ASK)
    settings_page(at)
    at.toggle(key="pref-auto_speak").set_value(False).run()
    at.switch_page(ASK).run()
    ask_typed(at, "What is this?")
    synthesize = render._speech
    monkeypatch.setattr(render, "_speech", lambda text, language: None)
    button(at, "Speak this answer").click().run()
    assert_no_crash(at)
    said = "No voice could speak this answer just now."
    assert any(said in c.value for c in at.caption), [c.value for c in at.caption]
    assert any(said in a for a in announced(at))
    assert session(at).entries[-1].speech is None and sent(at, "clip") == []
    monkeypatch.setattr(render, "_speech", synthesize)  # the voice is back: the same button speaks it
    button(at, "Speak this answer").click().run()
    assert session(at).entries[-1].speech and sent(at, "clip")[-1]["play"]


# --- answers written apart from the page's runs ---------------------------------------------------


@pytest.mark.models
def test_a_rerun_or_another_page_says_and_plays_nothing_twice(app_env):
    at = with_photo(ASK)
    ask_typed(at, "What is it?")
    s = session(at)
    said, clips = announced(at), sent(at, "clip")
    assert said.count("Thinking…") == 1 and said.count("Answer ready.") == 1
    assert clips and [c["index"] for c in clips] == list(range(len(clips)))  # each sentence's clip once
    for page in (ASK, HISTORY, SETTINGS, DESCRIBE, ASK):
        at.switch_page(page).run()
        assert_no_crash(at)
    assert announced(at) == said and sent(at, "clip") == clips
    assert [e.question for e in s.entries] == ["What is it?"] and last_answers(at) == 1


def test_the_settings_page_writes_the_preferences_once_a_run(monkeypatch):
    from ui.state import Session

    writes = []
    real = Session.set_prefs
    monkeypatch.setattr(Session, "set_prefs",
                        lambda self, **changes: writes.append(changes) or real(self, **changes))
    at = app(SETTINGS)
    assert_no_crash(at)
    assert len(writes) == 1
    writes.clear()
    at.radio(key="pref-rate").set_value(1.5).run()
    assert len(writes) == 1 and writes[0]["rate"] == 1.5 and session(at).prefs.rate == 1.5
    assert any('"rate":1.5' in h.value for h in at.get("html"))  # the player's speed, in this very run


# --- one way into core: each piece of work done once, said once --------------------------------


@pytest.mark.models
def test_each_recording_is_decoded_once_and_each_question_language_detected_once(app_env, monkeypatch,
                                                                                 spoken_question):
    from core import audio, language

    calls = {"decode": 0, "check": 0, "detect": 0}

    def counting(name, function):
        def counted(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return counted

    monkeypatch.setattr(audio, "decode_audio", counting("decode", audio.decode_audio))
    monkeypatch.setattr(audio, "check_speech", counting("check", audio.check_speech))
    monkeypatch.setattr(language, "detect_language", counting("detect", language.detect_language))
    at = with_photo(ASK)
    at.audio_input[0].upload("question.wav", spoken_question)
    at.run()
    assert_no_crash(at)
    assert session(at).entries[-1].kind == "voice"
    assert (calls["decode"], calls["check"], calls["detect"]) == (1, 1, 0)  # Whisper gave the language
    assert any("speech heard" in m.value for m in at.markdown)  # the page still describes the recording
    ask_typed(at, "¿Qué hay en la foto?")
    assert_no_crash(at)
    assert calls["detect"] == 1 and session(at).entries[-1].question_language == "es"
    at.run()  # the page drawn again, then the history with its downloads
    at.switch_page(HISTORY).run()
    assert_no_crash(at)
    # the page speaks the last question's language
    assert any('lang="es"' in h.value for h in at.get("html") if "Preguntaste:" in h.value)
    assert (calls["decode"], calls["check"], calls["detect"]) == (1, 1, 1)


@pytest.mark.models
@pytest.mark.parametrize("page", [ASK, DESCRIBE])
def test_on_a_fresh_start_loading_is_said_once_before_the_work_it_delays(app_env, page):
    from ui import resources
    from ui.asking import LOADING

    resources.retry("settings")  # a freshly started server: nothing loaded
    at = with_photo(page)
    if page == ASK:
        ask_typed(at, "What is in the photo?")
    assert_no_crash(at)
    says = announced(at)
    assert says[:4] == ["Photo received.", LOADING, "Thinking…", "Answer ready."]
    assert len(says) == 5 and "sure" in says[4]  # then how sure SeeSay is, once


@pytest.mark.models
@pytest.mark.parametrize("kind", ["typed", "voice"])
def test_a_question_that_comes_before_its_photo_is_answered_when_the_photo_arrives(app_env, kind,
                                                                                spoken_question):
    from ui.asking import WAITING_FOR_PHOTO

    at = app(ASK)
    if kind == "typed":
        ask_typed(at, "What is in the photo?")
    else:
        at.audio_input[0].upload("question.wav", spoken_question)
        at.run()
    assert_no_crash(at)
    assert not at.error and session(at).entries == []
    assert any(WAITING_FOR_PHOTO in i.value for i in at.info) and WAITING_FOR_PHOTO in announced(at)
    at.file_uploader[0].upload("photo.png", png(), "image/png")
    at.run()
    assert_no_crash(at)
    s = session(at)
    assert [e.kind for e in s.entries] == [kind] and not s.pending
    if kind == "typed":
        assert s.entries[0].question == "What is in the photo?"
        assert at.text_input(key="ask-text").value == ""  # answered: a fresh box
    else:
        assert "colo" in s.entries[0].question.lower()
    says = announced(at)
    assert says.index(WAITING_FOR_PHOTO) < says.index("Photo received.") < says.index("Answer ready.")
    at.run()
    assert len(session(at).entries) == 1  # answered once


# --- see well before answering: quality guidance, quick questions; say it honestly ---------------------


def blurred_jpeg() -> bytes:
    from PIL import ImageFilter

    from tests.media import image_bytes, scene

    return image_bytes(scene(3).filter(ImageFilter.GaussianBlur(3)), "JPEG")


@pytest.mark.models
def test_a_blurry_photo_gets_guidance_first_and_can_be_described_anyway(app_env):
    at = app(DESCRIBE)
    at.camera_input[0].upload("photo.jpg", blurred_jpeg(), "image/jpeg")
    at.run()
    assert_no_crash(at)
    s = session(at)
    assert s.photo is not None and s.entries == []  # no model ran: the guidance comes first
    guidance = s.quality.guidance
    assert "blurry" in guidance and "Hold the phone still" in guidance
    assert [w.value for w in at.warning] == [guidance]
    assert guidance in announced(at)
    assert any(c["kind"] == "message" and c["play"] for c in sent(at, "clip"))  # and spoken
    button(at, "Describe anyway").click().run()
    assert_no_crash(at)
    assert [e.kind for e in session(at).entries] == ["describe"]
    assert not at.warning  # the person chose to go on: the guidance is not repeated
    assert "Answer ready." in announced(at)


@pytest.mark.models
def test_a_question_waiting_for_a_flawed_photo_is_answered_only_when_asked_anyway(app_env):
    at = app(ASK)
    ask_typed(at, "What is in the photo?")
    at.file_uploader[0].upload("photo.png", flat_png(), "image/png")
    at.run()
    assert_no_crash(at)
    s = session(at)
    assert s.entries == [] and len(s.pending) == 1 and "featureless" in {f.kind for f in s.quality.findings}
    assert at.warning and "point the camera" in at.warning[0].value.lower()
    button(at, "Answer anyway").click().run()
    assert_no_crash(at)
    assert [e.question for e in session(at).entries] == ["What is in the photo?"] and not session(at).pending


@pytest.mark.models
@pytest.mark.parametrize("page", [DESCRIBE, ASK])
def test_quick_questions_are_buttons_that_ask_their_own_question(app_env, page, asked):
    from core.pipeline import QUICK

    at = with_photo(page)
    labels = [b.label for b in at.button]
    names = ("read", "colours", "people", "ahead") if page == DESCRIBE else tuple(QUICK)
    assert all(QUICK[n].label in labels for n in names)
    before = len(session(at).entries)
    button(at, QUICK["ahead"].label).click().run()
    assert_no_crash(at)
    entry = session(at).entries[-1]
    assert len(session(at).entries) == before + 1 and entry.kind == "quick" and entry.question == QUICK["ahead"].label
    assert asked[-1].max_new_tokens == DETAIL_TOKENS  # "what is ahead" may take longer to say
    assert "clock position" in session(at).turns()[-1].question or entry.question == QUICK["ahead"].label
    says = announced(at)
    assert says.index("Thinking…") < says.index("Answer ready.")
    assert any(c.value.startswith("SeeSay") and "sure" in c.value for c in at.caption)


@pytest.mark.models
def test_read_the_text_is_the_text_readers_words_not_the_models(app_env):
    from core.pipeline import QUICK
    from core.testmodels.labels import samples
    from tests.media import image_bytes

    label = next(s for s in samples(["clean"]) if s.kind == "label")  # a medicine label on a table
    at = with_photo(ASK, photo=image_bytes(label.image, "PNG"))
    button(at, QUICK["read"].label).click().run()
    assert_no_crash(at)
    entry = session(at).entries[-1]
    assert entry.engines.get("ocr") and "vlm" not in entry.engines  # no model paraphrase
    assert "Ibuprofen" in entry.answer and "200 mg" in entry.answer and "tablets" in entry.answer
    assert any("Ibuprofen" in h for h in answers_html(at))
