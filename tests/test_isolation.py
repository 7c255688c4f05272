"""Nothing is lost, nothing leaks: sessions stay apart, and what a person gives stays with them.

* Eight people ask at the same time on one shared set of engines and each gets exactly their own
  transcript, answer and audio: with scripted engines whose output names the photo and the
  question (mixing would show), with the tiny real LLaVA (each answer equals the one the same
  question gets alone: greedy decoding is deterministic), and in the app itself (AppTest).
* A full question writes nothing to disk outside a temporary folder that is gone afterwards, and
  the logs hold neither the question nor the answer.
* The server configuration caps uploads and keeps XSRF protection; the model's words never reach
  the page as Markdown or HTML; private mode opens no connection off this machine.
"""

# ruff: noqa: F811  (the fixtures imported from tests.faults are used by name, as parameters)

from __future__ import annotations

import hashlib
import html
import io
import logging
import os
import re
import sys
import tempfile
import threading
import time
import tomllib
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from core import audio
from core.images import load_photo
from core.pipeline import AnswerAudio, AnswerText, AskOptions, Done, Engines, Queued, Transcribed, ask
from core.tts import Speech
from core.vlm import Turn
from tests import media
from tests.faults import is_loopback, outside_connections  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 50_000_000, "max_side": 1344}
PEOPLE = 8
COLOURS = [(200, 30, 30), (30, 160, 30), (30, 30, 200), (220, 200, 20), (150, 40, 160), (20, 170, 170),
           (240, 120, 20), (90, 90, 90)]
QUESTIONS = ["What colour is the car?", "Is the door open?", "What does the sign say?", "Is the light on?",
             "How many cups are there?", "Is anyone in the room?", "What is on the plate?",
             "Which bus number is it?"]


def photo_bytes(i: int) -> bytes:
    """Person ``i``'s photo: their own colour and size, so every key and picture differs."""
    return media.image_bytes(media.two_halves((64 + 8 * i, 48), left=COLOURS[i], right=(255, 255, 255)), "PNG")


def run_together(work, n: int = PEOPLE, timeout: float = 120) -> dict:
    """``work(i)`` on ``n`` threads released at the same moment; returns {i: result}, raising any error."""
    start, results, errors = threading.Barrier(n), {}, {}

    def person(i: int) -> None:
        try:
            start.wait(10)
            results[i] = work(i)
        except BaseException as error:  # handed to the test below
            errors[i] = error

    threads = [threading.Thread(target=person, args=(i,), name=f"person-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a session never finished"
    if errors:
        raise next(iter(errors.values()))
    return results


# --- scripted engines whose output shows whose it is ------------------------------------------


@dataclass
class KeyedVLM:
    """Answers with the photo's key and the question it got, a word at a time, slowly."""

    name: str = "keyed-vlm"
    delay: float = 0.002
    calls: list = field(default_factory=list)

    @staticmethod
    def answer_for(key: str, question: str, turns: int = 0) -> str:
        return f"Photo {key[:12]} was asked: {question} This is turn {turns + 1} of that conversation."

    def prepare(self, photo) -> None:
        pass

    def stream(self, photo, history, question, *, max_new_tokens, min_new_tokens=0):
        self.calls.append((photo.key, list(history), question))
        words = self.answer_for(photo.key, question, len(history)).split(" ")
        for i, word in enumerate(words):
            time.sleep(self.delay)
            yield word if i == 0 else " " + word


@dataclass
class TableSTT:
    """"Transcribes" by looking the samples up in a table made from each person's recording."""

    table: dict
    name: str = "table-stt"
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def fingerprint(samples: np.ndarray) -> str:
        return hashlib.sha256(np.ascontiguousarray(samples, np.float32).tobytes()).hexdigest()

    def transcribe(self, samples, language=None):
        from core.stt import Transcript

        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(0.05)  # long enough for the others to be transcribing too
            text = self.table[self.fingerprint(samples)]
        finally:
            with self.lock:
                self.active -= 1
        return Transcript(text=text, language="en", no_speech_prob=0.0, duration=len(samples) / 16000,
                          engine=self.name)


class MarkerTTS:
    """Speaks a sentence as a WAV whose samples are the sentence's own UTF-8 bytes (mixing would show)."""

    name = "marker-tts"
    sends_text_off_machine = False

    def synthesize(self, text, language="en"):
        data = text.encode("utf-8")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes(data + b"\0" * (len(data) % 2))
        return Speech(buf.getvalue(), "audio/wav", self.name, language)

    @staticmethod
    def said(speech: Speech) -> str:
        with wave.open(io.BytesIO(speech.audio)) as clip:
            return clip.readframes(clip.getnframes()).decode("utf-8").replace("\0", "")


def test_eight_sessions_at_once_each_get_their_own_transcript_answer_and_audio():
    recordings = [media.spoken(f"{q} Person {i}.") for i, q in enumerate(QUESTIONS)]
    table = {}
    for i, data in enumerate(recordings):
        samples = audio.decode_audio(data, max_seconds=60, min_seconds=0.5).samples
        table[TableSTT.fingerprint(samples)] = f"{QUESTIONS[i]} (person {i})"
    assert len(table) == PEOPLE
    engines = Engines(vlm=KeyedVLM(), stt=TableSTT(table), tts=MarkerTTS())
    photos = [load_photo(photo_bytes(i), **LIMITS) for i in range(PEOPLE)]
    assert len({p.key for p in photos}) == PEOPLE

    def person(i: int):
        first = list(ask(engines, photos[i], recordings[i]))
        turn = Turn(first[-1].answer.question, first[-1].answer.text)
        follow_up = list(ask(engines, photos[i], f"And the colour, person {i}?", [turn]))
        return first, follow_up

    results = run_together(person)
    for i, (first, follow_up) in results.items():
        key, asked = photos[i].key, f"{QUESTIONS[i]} (person {i})"
        (heard,) = [e for e in first if isinstance(e, Transcribed)]
        assert heard.transcript.text == asked
        for events, question, turns in ((first, asked, 0), (follow_up, f"And the colour, person {i}?", 1)):
            answer = events[-1].answer
            expected = KeyedVLM.answer_for(key, question, turns)
            assert answer.question == question and answer.text == expected
            assert "".join(e.text for e in events if isinstance(e, AnswerText)) == expected
            clips = [e for e in events if isinstance(e, AnswerAudio)]
            assert [MarkerTTS.said(c.speech) for c in clips] == [c.text for c in clips]
            assert " ".join(c.text for c in clips) == expected
            assert MarkerTTS.said(answer.speech) == "".join(c.text for c in clips)
    # the model saw each person's own history with each person's own photo
    follow_ups = [call for call in engines.vlm.calls if call[1]]
    assert len(follow_ups) == PEOPLE
    for key, history, question in follow_ups:
        i = int(question.rsplit(" ", 1)[1].rstrip("?"))
        assert key == photos[i].key and history[0].question == f"{QUESTIONS[i]} (person {i})"
    assert engines.stt.max_active > 1, "the sessions really ran at the same time"
    assert len(engines.turns) == 0


# --- the tiny real LLaVA ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_vlm(test_models):
    from core.vlm import load_vlm

    return load_vlm(str(test_models.llava), device="cpu", quantization="none", dtype="float32")


def _outcome(engines, photo, question, options):
    """The answer text, or the error, of one question (random weights may answer nothing)."""
    try:
        events = list(ask(engines, photo, question, (), options))
    except Exception as error:  # compared, not hidden: alone and together must fail alike
        return ("error", type(error).__name__, str(error)), []
    return ("answer", events[-1].answer.text), events


@pytest.mark.models
def test_eight_sessions_on_the_tiny_llava_get_what_they_get_alone(tiny_vlm):
    engines = Engines(vlm=tiny_vlm, tts=MarkerTTS())
    options = AskOptions(max_new_tokens=10, min_new_tokens=10)
    photos = [load_photo(photo_bytes(i), **LIMITS) for i in range(PEOPLE)]
    alone = [_outcome(engines, photos[i], QUESTIONS[i], options)[0] for i in range(PEOPLE)]
    assert len({a for a in alone}) > 1, "different photos and questions give different answers"

    together = run_together(lambda i: _outcome(engines, photos[i], QUESTIONS[i], options))
    for i in range(PEOPLE):
        outcome, events = together[i]
        assert outcome == alone[i], f"person {i}"
        if events:
            clips = [e for e in events if isinstance(e, AnswerAudio)]
            assert MarkerTTS.said(events[-1].answer.speech) == "".join(c.text for c in clips) if clips else True
    waited = [i for i in range(PEOPLE) if any(isinstance(e, Queued) for e in together[i][1])]
    assert waited, "some sessions waited for the model: they really asked at the same time"
    assert len(engines.turns) == 0 and not tiny_vlm._lock.locked()


# --- nothing written to disk, nothing in the logs ------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_audit_log: list | None = None


def _audit(event: str, args: tuple) -> None:
    # Runs on every audited event of every thread, for the rest of the process: keep it cheap,
    # and never open anything here.
    log = _audit_log
    if log is None:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writes:
            log.append(("open", path, mode))
    elif event in ("os.mkdir", "tempfile.mkdtemp", "tempfile.mkstemp", "os.rename", "shutil.copyfile"):
        log.append((event, args[0], None))


_hook_added = False


class WrittenFiles:
    """Every file opened for writing (and folder made) by Python code while active, in any thread."""

    def __enter__(self) -> list:
        global _audit_log, _hook_added
        if not _hook_added:  # audit hooks cannot be removed: one, switched on and off
            sys.addaudithook(_audit)
            _hook_added = True
        self.log: list = []
        _audit_log = self.log
        return self.log

    def __exit__(self, *exc) -> None:
        global _audit_log
        _audit_log = None


def _resolve(path) -> str:
    if isinstance(path, int):  # an open descriptor: a pipe to espeak-ng, or a real file
        try:
            return os.readlink(f"/proc/self/fd/{path}")
        except OSError:
            return f"fd {path}"
    return os.path.realpath(os.fsdecode(path))


@pytest.fixture(scope="module")
def real_engines(tiny_vlm, test_models):
    """The tiny LLaVA, real Whisper tiny.en and the offline voice, as a private SeeSay runs them."""
    from core.stt import load_stt
    from core.tts import load_tts

    return Engines(vlm=tiny_vlm, stt=load_stt("openai-whisper", str(test_models.whisper_tiny_en), "cpu"),
                   tts=load_tts("offline", private=True, timeout=5))


SPOKEN = "What colour is the umbrella?"
TYPED = "Is the zebra umbrella seesaymarker open?"
OPTIONS = AskOptions(max_new_tokens=24, min_new_tokens=16)


def full_ask(engines: Engines) -> list:
    """Photo in, a spoken question and a typed follow-up, answers spoken: what a person does."""
    photo = load_photo(photo_bytes(3), **LIMITS)
    from core.pipeline import prepare_photo

    prepare_photo(engines, photo)
    first = list(ask(engines, photo, media.spoken(SPOKEN), (), OPTIONS))
    turn = Turn(first[-1].answer.question, first[-1].answer.text)
    second = list(ask(engines, photo, TYPED, [turn], OPTIONS))
    return [first[-1].answer, second[-1].answer]


@pytest.mark.models
def test_a_full_question_writes_no_user_data_to_disk(real_engines):
    before = set(os.listdir(tempfile.gettempdir()))
    with WrittenFiles() as written:
        answers = full_ask(real_engines)
    assert all(a.speech is not None and a.speech.engine in ("piper", "espeak", "piper+espeak") for a in answers)
    assert answers[0].transcript is not None and "umbrella" in answers[0].transcript.text.lower()
    temp = os.path.realpath(tempfile.gettempdir())
    problems = []
    for what, path, mode in written:
        where = _resolve(path)
        if where.startswith(("pipe:", "socket:", "anon_inode:")) or where == "/dev/null":
            continue  # not a file: the offline voice's stdin and stdout
        if where.endswith(".pyc") and "__pycache__" in where:
            continue  # Python's own byte-code cache: not user data
        inside_temp = where.startswith(temp + os.sep)
        if inside_temp and not os.path.exists(where):
            continue  # a temporary file or folder, already gone
        problems.append((what, where, mode))
    assert problems == [], f"written outside a removed temporary folder: {problems}"
    left = set(os.listdir(tempfile.gettempdir())) - before
    made_here = {os.path.basename(_resolve(p)) for _, p, _ in written}
    assert not (left & made_here), f"temporary files left behind: {left & made_here}"


@pytest.mark.models
def test_logs_hold_neither_questions_nor_answers(real_engines, caplog):
    caplog.set_level(logging.DEBUG)  # everything, from every library
    answers = full_ask(real_engines)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records, "the ask was logged at all"
    said = [answers[0].transcript.text, answers[1].question, "seesaymarker", "zebra umbrella"]
    said += [a.text for a in answers]
    for text in said:
        assert len(text) >= 8, f"too short to tell: {text!r}"  # min_new_tokens keeps answers long
        assert text not in logged, f"{text!r} is in the log"
    words = {w for a in answers for w in re.findall(r"\w{6,}", a.text)}
    leaked = [w for w in words if w in logged and w not in _WORDS_LOGS_USE]
    assert len(leaked) <= len(words) // 4, f"answer words in the log: {leaked}"


# words a log line may contain anyway (engine names, units): not evidence of a leak
_WORDS_LOGS_USE = {"answer", "answered", "seconds", "loaded", "tokens", "characters", "transformers",
                   "whisper", "prefix", "encoded", "question", "photo", "recording"}


# --- the server configuration --------------------------------------------------------------------


def test_server_config_caps_uploads_and_keeps_xsrf_protection():
    from core.config import Settings

    conf = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    server = conf["server"]
    cap_mb = server["maxUploadSize"]
    photo_limit_mb = Settings().max_image_bytes / (1024 * 1024)
    assert photo_limit_mb <= cap_mb <= 50, "the cap holds a photo SeeSay accepts, and little more"
    assert server.get("maxMessageSize", 200) <= 200
    assert server["enableXsrfProtection"] is True
    assert server.get("enableCORS", True) is True  # Streamlit turns XSRF off when CORS is off
    assert conf.get("client", {}).get("showErrorDetails") in ("none", False)  # no tracebacks shown
    assert conf.get("browser", {}).get("gatherUsageStats") is False  # nothing reported to Streamlit


# --- the app ---------------------------------------------------------------------------------------

HOME = str(ROOT / "Home.py")
ASK = "pages/2_Ask_by_voice.py"
DESCRIBE = "pages/1_Describe_a_photo.py"
HISTORY = "pages/3_History.py"
APP_TIMEOUT = 120


@pytest.fixture
def app_env(monkeypatch, test_models):
    """The tiny models, and a fresh start: settings and engines are loaded again, and forgotten after."""
    from ui import resources

    for name in [n for n in os.environ if n.startswith("SEESAY_") and not n.startswith("SEESAY_TEST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SEESAY_LLAVA_MODEL", str(test_models.llava))
    monkeypatch.setenv("SEESAY_WHISPER_MODEL", str(test_models.whisper_tiny_en))
    monkeypatch.setenv("SEESAY_STT_ENGINE", "openai-whisper")
    monkeypatch.setenv("SEESAY_TTS_ENGINE", "offline")
    monkeypatch.setenv("SEESAY_DEVICE", "cpu")
    monkeypatch.setenv("SEESAY_MAX_ANSWER_TOKENS", "12")
    monkeypatch.setenv("SEESAY_DETAIL_ANSWER_TOKENS", "20")
    resources.retry("settings")
    yield test_models
    resources.retry("settings")  # what this test loaded belongs to its settings only


@pytest.fixture
def scripted_app(app_env, monkeypatch):
    """The app with a scripted model and voice (patched where the pages get their engines)."""
    from ui import resources

    vlm, tts = KeyedVLM(delay=0.0), MarkerTTS()
    monkeypatch.setattr(resources, "vlm", lambda: vlm)
    monkeypatch.setattr(resources, "stt", lambda: pytest.fail("no question here is spoken"))
    monkeypatch.setattr(resources, "tts", lambda name, private: tts)
    return vlm


def new_session(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(HOME, default_timeout=APP_TIMEOUT)
    at.run()
    return at.switch_page(page).run()


def state(at):
    return at.session_state["seesay"]


def crashed(at) -> list[str]:
    return [e.value for e in at.exception] + [e.value for e in at.error if "Traceback" in e.value]


def upload_photo(at, data: bytes, name: str = "photo.png") -> None:
    at.file_uploader[0].upload(name, data, "image/png")
    at.run()


def ask_typed(at, text: str) -> None:
    s = state(at)
    at.text_input(key=f"ask-text-{s.question_round}").input(text)
    at.form_submit_button[0].click()
    at.run()


@pytest.mark.models
def test_eight_app_sessions_at_once_each_keep_their_own_history(scripted_app):
    photos = [photo_bytes(i) for i in range(PEOPLE)]

    def person(i: int):
        at = new_session(ASK)
        upload_photo(at, photos[i])
        ask_typed(at, QUESTIONS[i])
        return at

    sessions = run_together(person, timeout=300)
    keys = [hashlib.sha256(p).hexdigest() for p in photos]
    for i, at in sessions.items():
        assert not crashed(at), (i, crashed(at))
        entries = state(at).entries
        assert [(e.question, e.photo_key) for e in entries] == [(QUESTIONS[i], keys[i])], f"person {i}"
        assert entries[0].answer == KeyedVLM.answer_for(keys[i], QUESTIONS[i])
        assert MarkerTTS.said(Speech(entries[0].speech, "audio/wav", "", "")) == entries[0].answer
        page = " ".join(h.value for h in at.get("html"))
        others = [k[:12] for j, k in enumerate(keys) if j != i]
        assert keys[i][:12] in page and not any(k in page for k in others), f"person {i} sees another's answer"
        assert len({e.id for e in entries}) == 1 and set(state(at).photos) == {keys[i]}


EVIL = "![x](http://example.com/leak?q=1) [link](http://example.com) <script>alert(1)</script>"


def _texts(at) -> dict[str, list[str]]:
    """Every text the page holds, by the way it reaches the browser."""
    markdown_like = ("markdown", "caption", "title", "header", "subheader", "info", "success", "warning",
                     "error", "text", "toast", "exception")
    found: dict[str, list[str]] = {}
    for kind in markdown_like + ("html",):
        try:
            values = [str(getattr(e, "value", "")) for e in at.get(kind)]
        except Exception:  # an element type this Streamlit does not have
            values = []
        found[kind] = values
    found["image alt"] = [img.alt for e in at.get("imgs") for img in e.proto.imgs] if at.get("imgs") else []
    found["image alt"] += [img.alt for e in at.image for img in e.proto.imgs]
    found["audio alt"] = [e.proto.alt for e in at.get("audio")]
    return found


@pytest.mark.models
def test_model_output_reaches_the_page_only_as_escaped_text(scripted_app, monkeypatch):
    class EvilVLM(KeyedVLM):
        def stream(self, photo, history, question, *, max_new_tokens, min_new_tokens=0):
            yield from EVIL.split(" ") and [EVIL[:20], EVIL[20:]]

    from ui import resources

    monkeypatch.setattr(resources, "vlm", lambda: EvilVLM())
    at = new_session(DESCRIBE)
    upload_photo(at, photo_bytes(0))  # the description is the evil answer: also the photo's alt text
    at.switch_page(ASK).run()
    ask_typed(at, "Read it <b>please</b> ![y](http://example.com/q)")
    at.switch_page(HISTORY).run()
    assert not crashed(at), crashed(at)
    assert [e.answer for e in state(at).entries] == [EVIL, EVIL]
    texts = _texts(at)
    escaped = html.escape(EVIL)
    assert any(escaped in h for h in texts["html"]), "the answer is on the page, escaped"
    for kind, values in texts.items():
        for value in values:
            if kind == "html":
                assert "<script>alert" not in value and "<img" not in value.lower() or "seesay-js" in value
                assert 'href="http://example.com' not in value and "<b>please" not in value
                if "seesay-js" in value:  # the browser bridge: JSON inside a script, "<" escaped
                    assert "<script>alert" not in value.split("<script>", 1)[1]
            else:
                assert "![x](" not in value and "](http://example.com" not in value, (kind, value)
                assert "<script>" not in value, (kind, value)


# --- private mode ------------------------------------------------------------------------------------


@pytest.mark.models
def test_private_mode_opens_no_connection_off_this_machine(app_env, monkeypatch, outside_connections):
    monkeypatch.setenv("SEESAY_PRIVATE", "1")
    at = new_session(DESCRIBE)  # Home loads every model first, under the guard
    upload_photo(at, photo_bytes(5), "photo.png")
    at.switch_page(ASK).run()
    ask_typed(at, "What is in the photo?")
    at.switch_page(HISTORY).run()
    assert not crashed(at), crashed(at)
    entries = state(at).entries
    assert [e.kind for e in entries] == ["describe", "typed"]
    for entry in entries:
        assert entry.speech, "the answer was spoken"
        assert entry.engines.get("tts") in ("piper", "espeak", "piper+espeak")
    assert any("Play" in a.proto.alt for a in at.get("audio"))  # the history plays them back
    assert outside_connections == [], outside_connections
    assert all(is_loopback(target) for _, target in outside_connections.loopback)
    assert "gtts" not in sys.modules or not any(
        isinstance(k, tuple) and k[:2] == ("tts", "gtts") for k in _loads())


def _loads():
    from ui import resources

    return list(resources.LOADS)
