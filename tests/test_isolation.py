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
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tomllib

from core import audio
from core.images import load_photo
from core.answering import in_turn
from core.engines import Engines
from core.pipeline import AnswerAudio, AnswerText, Queued, Transcribed
from core.tts import Speech
from core.vlm import Turn
from tests import media
from tests.fakes import FakeSTT
from tests.fakes import answer as answer_on
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
    """Person ``i``'s photo: their own layout, colour and size, so every key and picture differs."""
    return media.scene_bytes(i, "PNG", size=(320 + 8 * i, 240), tint=COLOURS[i])


def run_together(work, n: int = PEOPLE, timeout: float = 120) -> dict:
    """``work(i)`` on ``n`` threads released at the same moment; returns {i: result}, raising any error."""
    start, results, errors = threading.Barrier(n), {}, {}

    def person(i: int) -> None:
        try:
            start.wait(10)
            results[i] = work(i)
        except BaseException as error:  # noqa: BLE001  (handed to the test below)
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
    can_sample: bool = False
    delay: float = 0.002
    calls: list = field(default_factory=list)

    @staticmethod
    def answer_for(key: str, question: str, turns: int = 0) -> str:
        return f"Photo {key[:12]} was asked: {question} This is turn {turns + 1} of that conversation."

    def prepare(self, photo) -> None:
        pass

    def stream(self, photo, history, question, *, max_new_tokens, min_new_tokens=0, notes=(), tokens=None):
        self.calls.append((photo.key, list(history), question))
        words = self.answer_for(photo.key, question, len(history)).split(" ")
        for i, word in enumerate(words):
            time.sleep(self.delay)
            yield word if i == 0 else " " + word


class NoText:
    """A text reader that finds no text, at once."""

    name = "no-text"

    def read(self, image):
        from core.ocr import Reading

        return Reading(lines=(), text="", size=image.size, seconds=0.0, engine=self.name)


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


@pytest.mark.case("isolation", "eight people ask about eight photos at once (scripted engines)")
def test_eight_sessions_at_once_each_get_their_own_transcript_answer_and_audio(heard):
    recordings = [media.spoken(f"{q} Person {i}.") for i, q in enumerate(QUESTIONS)]
    table = {}
    for i, data in enumerate(recordings):
        samples = audio.decode_audio(data, max_seconds=60, min_seconds=0.5).samples
        table[TableSTT.fingerprint(samples)] = f"{QUESTIONS[i]} (person {i})"
    assert len(table) == PEOPLE
    engines = Engines(vlm=KeyedVLM(), stt=TableSTT(table), voice=MarkerTTS())
    photos = [load_photo(photo_bytes(i), **LIMITS) for i in range(PEOPLE)]
    assert len({p.key for p in photos}) == PEOPLE

    def person(i: int):
        first = list(answer_on(engines, photos[i], recordings[i]))
        turn = Turn(first[-1].answer.question, first[-1].answer.text)
        follow_up = list(answer_on(engines, photos[i], f"And the colour, person {i}?", [turn]))
        return first, follow_up

    results = run_together(person)
    for i, (first, follow_up) in results.items():
        key, asked = photos[i].key, f"{QUESTIONS[i]} (person {i})"
        (transcribed,) = [e for e in first if isinstance(e, Transcribed)]
        assert transcribed.transcript.text == asked
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
    assert len(engines.lock) == 0
    heard("each person hears only their own transcript, answer and audio, follow-ups included")


# --- the tiny real LLaVA ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_vlm(test_models):
    from core.vlm import load_vlm

    return load_vlm(str(test_models.llava), device="cpu", quantization="none", dtype="float32")


def _outcome(engines, photo, question, length):
    """The answer text, or the error, of one question forced to ``length`` tokens (random weights may answer
    nothing)."""
    try:
        events = list(answer_on(engines, photo, question, max_new_tokens=length, min_new_tokens=length))
    except Exception as error:  # noqa: BLE001  (compared: alone and together must fail alike)
        return ("error", type(error).__name__, str(error)), []
    return ("answer", events[-1].answer.text), events


@pytest.mark.models
@pytest.mark.case("isolation", "eight people ask at once on the tiny real LLaVA")
def test_eight_sessions_on_the_tiny_llava_get_what_they_get_alone(tiny_vlm, heard):
    engines = Engines(vlm=tiny_vlm, voice=MarkerTTS())
    length = 10  # tokens, forced
    photos = [load_photo(photo_bytes(i), **LIMITS) for i in range(PEOPLE)]
    alone = [_outcome(engines, photos[i], QUESTIONS[i], length)[0] for i in range(PEOPLE)]
    assert len({a for a in alone}) > 1, "different photos and questions give different answers"

    together = run_together(lambda i: _outcome(engines, photos[i], QUESTIONS[i], length))
    for i in range(PEOPLE):
        outcome, events = together[i]
        assert outcome == alone[i], f"person {i}"
        if events:
            clips = [e for e in events if isinstance(e, AnswerAudio)]
            assert MarkerTTS.said(events[-1].answer.speech) == "".join(c.text for c in clips) if clips else True
    waited = [i for i in range(PEOPLE) if any(isinstance(e, Queued) for e in together[i][1])]
    assert waited, "some sessions waited for the model: they really asked at the same time"
    assert len(engines.lock) == 0 and not tiny_vlm.busy
    heard(f"each answer is the one the same question gets alone; {len(waited)} of {PEOPLE} were told to wait")


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
            if isinstance(path, int):  # an open descriptor: name what it is now, it may be closed later
                try:
                    path = os.readlink(f"/proc/self/fd/{path}")
                except OSError:
                    path = f"fd {path}"
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
    if isinstance(path, str) and path.startswith(("pipe:", "socket:", "anon_inode:", "fd ")):
        return path  # a descriptor, named when it was opened
    return os.path.realpath(os.fsdecode(path))


@pytest.fixture(scope="module")
def real_engines(tiny_vlm, test_models):
    """The tiny LLaVA, real Whisper tiny.en and the offline voice, as a private SeeSay runs them."""
    from core.stt import load_stt
    from core.tts import load_tts

    stt = load_stt("faster-whisper", str(test_models.whisper_tiny_en_ct2), "cpu")
    return Engines(vlm=tiny_vlm, stt=stt, voice=load_tts("offline", private=True, timeout=5))


SPOKEN = "What colour is the umbrella?"
TYPED = "Is the zebra umbrella seesaymarker open?"
LENGTHS = {"max_new_tokens": 24, "min_new_tokens": 16}


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.text.append(logging.Formatter("%(name)s %(levelname)s %(message)s").format(record))


@pytest.fixture(scope="module")
def recorded_ask(real_engines):
    """What a person does, once, with every file write and every log record (DEBUG, all loggers) kept.

    A photo, a spoken question and a typed follow-up, the answers spoken by the offline voice.
    """
    root, handler = logging.getLogger(), _Everything()
    level, root.level = root.level, logging.DEBUG
    root.addHandler(handler)
    temp_before = set(os.listdir(tempfile.gettempdir()))
    try:
        with WrittenFiles() as written:
            photo = load_photo(photo_bytes(3), **LIMITS)
            list(in_turn(real_engines.lock, lambda: real_engines.vlm.prepare(photo)))
            first = list(answer_on(real_engines, photo, media.spoken(SPOKEN), **LENGTHS))
            turn = Turn(first[-1].answer.question, first[-1].answer.text)
            second = list(answer_on(real_engines, photo, TYPED, [turn], **LENGTHS))
    finally:
        root.removeHandler(handler)
        root.level = level
    temp_after = set(os.listdir(tempfile.gettempdir()))
    return {"answers": [first[-1].answer, second[-1].answer], "written": written, "log": handler,
            "temp_left": temp_after - temp_before}


def kept_on_disk(written: list, temp_left: set) -> list:
    """The writes that could have kept something on disk: not a pipe, not Python's byte-code cache,
    not a temporary file or folder that is gone by now. An empty folder holds nothing (torch makes
    its compile cache folder when it is first imported); a file put in one is an "open" here."""
    temp = os.path.realpath(tempfile.gettempdir())
    kept = []
    for what, path, mode in written:
        if what == "os.mkdir":
            continue
        where = _resolve(path)
        if where.startswith(("pipe:", "socket:", "anon_inode:")) or where == "/dev/null":
            continue  # not a file: the offline voice's stdin and stdout
        if where.endswith(".pyc") and "__pycache__" in where:
            continue  # Python's own byte-code cache: not user data
        if where.startswith(temp + os.sep) and not os.path.exists(where):
            continue  # a temporary file or folder, already gone
        kept.append((what, where, mode))
    made = {os.path.basename(_resolve(p)) for _, p, _ in written}
    kept += [("left in the temporary folder", name, None) for name in temp_left & made]
    return kept


@pytest.mark.models
@pytest.mark.case("privacy", "a photo, a spoken question and a follow-up: files written (audit hook)")
def test_a_full_question_writes_no_user_data_to_disk(recorded_ask, heard):
    answers = recorded_ask["answers"]
    assert all(a.speech is not None and a.speech.engine in ("piper", "espeak", "piper+espeak") for a in answers)
    assert answers[0].transcript is not None and "umbrella" in answers[0].transcript.text.lower()
    kept = kept_on_disk(recorded_ask["written"], recorded_ask["temp_left"])
    assert kept == [], f"written outside a removed temporary folder: {kept}"
    heard(f"nothing kept on disk ({len(recorded_ask['written'])} writes, all to pipes or removed temporary files)")


@pytest.mark.models
@pytest.mark.case("privacy", "logs at DEBUG level, every library, across a full question")
def test_logs_hold_neither_questions_nor_answers(recorded_ask, heard):
    answers, log = recorded_ask["answers"], recorded_ask["log"]
    assert log.records, "the ask was logged at all"
    logged = "\n".join(log.text) + "".join(repr(r.args) for r in log.records)
    said = [answers[0].transcript.text, answers[1].question, "seesaymarker", "zebra umbrella"]
    said += [a.text for a in answers]
    for text in said:
        assert len(text) >= 8, f"too short to tell: {text!r}"  # min_new_tokens keeps answers long
        assert text not in logged, f"{text!r} is in the log"
    heard(f"{len(log.records)} log records; no question or answer text in them")


# --- the server configuration --------------------------------------------------------------------


@pytest.mark.case("privacy", "the server's upload cap and XSRF protection (.streamlit/config.toml)")
def test_server_config_caps_uploads_and_keeps_xsrf_protection(heard):
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
    heard(f"uploads over {cap_mb} MB are refused by the server; XSRF protection on; no tracebacks shown")


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
    """The app with a scripted model and voice (patched where SeeSay builds its engines)."""
    from core import engines

    vlm, tts = KeyedVLM(delay=0.0), MarkerTTS()
    monkeypatch.setattr(engines, "build_vlm", lambda settings, budget=None: vlm)
    monkeypatch.setattr(engines, "build_stt", lambda settings: FakeSTT())  # the Home page loads it; no question here is spoken
    monkeypatch.setattr(engines, "build_voice", lambda settings, name, private: tts)
    monkeypatch.setattr(engines, "build_ocr", lambda settings: NoText())  # the photos have no writing
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
    at.text_input(key="ask-text").input(text)
    at.form_submit_button[0].click()
    at.run()


@pytest.fixture
def apptest_in_threads(monkeypatch):
    """Lets AppTest sessions run on several threads at once, as browser sessions do on one server.

    AppTest (Streamlit 1.67) keeps three things of each run in globals: it installs a mock
    ``Runtime`` and removes it when the run ends, resets ``PagesManager.uses_pages_directory``,
    and patches ``config.get_option`` for ``global.appTest``. Runs on two threads then trip over
    each other ("Runtime hasn't been created!", a page run as the home page, the config patch
    left behind). Here they are set once for the whole test, as a real server has one runtime and
    one script cache for all its sessions. The app itself is not touched.
    """
    import contextlib
    from unittest.mock import MagicMock

    from streamlit import config
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
    from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner
    from streamlit.testing.v1.util import build_mock_config_get_option

    runtime = MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.dataframe_source_mgr = DataframeSourceManager()
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    runtime.bidi_component_registry = components
    monkeypatch.setattr(Runtime, "_instance", runtime)
    monkeypatch.setattr(app_test, "Runtime", type("RuntimeSlot", (), {"_instance": None}))
    monkeypatch.setattr(PagesManager, "uses_pages_directory", (ROOT / "pages").is_dir())
    monkeypatch.setattr(app_test, "PagesManager", type("PagesManagerOfOneRun", (PagesManager,), {}))
    monkeypatch.setattr(config, "get_option", build_mock_config_get_option({"global.appTest": True}))
    monkeypatch.setattr(app_test, "patch_config_options", lambda overrides: contextlib.nullcontext())
    # One script cache, as a server has: each page is compiled once, under the cache's lock.
    # (A cache per run compiles on every thread at once, which trips CPython 3.11's AST
    # recursion check: "SystemError: AST constructor recursion depth mismatch".)
    scripts = ScriptCache()
    monkeypatch.setattr(app_test, "ScriptCache", lambda: scripts)
    monkeypatch.setattr(local_script_runner, "ScriptCache", lambda: scripts)


@pytest.mark.models
@pytest.mark.case("isolation", "eight browser sessions ask on the Ask page at once (AppTest)")
def test_eight_app_sessions_at_once_each_keep_their_own_history(scripted_app, apptest_in_threads, heard):
    photos = [photo_bytes(i) for i in range(PEOPLE)]

    def person(i: int):
        at = new_session(ASK)
        upload_photo(at, photos[i])
        ask_typed(at, QUESTIONS[i])
        return at

    scripted_app.delay = 0.01  # each answer takes a while: the others queue behind it
    sessions = run_together(person, timeout=300)
    keys = [hashlib.sha256(p).hexdigest() for p in photos]
    waited = [i for i, at in sessions.items()
              if any("Other people's questions" in c.get("text", "") for c in state(at).sent)]
    assert waited, "some sessions were told to wait: they really asked at the same time"
    for i, at in sessions.items():
        assert not crashed(at), (i, crashed(at))
        entries = state(at).entries
        assert [(e.question, e.photo_key) for e in entries] == [(QUESTIONS[i], keys[i])], f"person {i}"
        assert entries[0].answer == KeyedVLM.answer_for(keys[i], QUESTIONS[i])
        spoken = MarkerTTS.said(Speech(entries[0].speech, "audio/wav", "", ""))  # sentences, back to back
        assert spoken.replace(" ", "") == entries[0].answer.replace(" ", "")
        page = " ".join(h.value for h in at.get("html"))
        others = [k[:12] for j, k in enumerate(keys) if j != i]
        assert keys[i][:12] in page and not any(k in page for k in others), f"person {i} sees another's answer"
        assert len({e.id for e in entries}) == 1 and set(state(at).photos) == {keys[i]}
    heard(f"each history holds only its own photo and question; {len(waited)} of {PEOPLE} were told: "
          "Other people's questions are being answered first. Please wait.")


EVIL = "![x](http://example.com/leak?q=1) [link](http://example.com) <script>alert(1)</script>"


def _texts(at) -> dict[str, list[str]]:
    """Every text the page renders, by the way it is rendered (Markdown, or st.html)."""
    markdown_like = ("markdown", "caption", "title", "header", "subheader", "info", "success", "warning",
                     "error", "text", "toast", "exception")
    found: dict[str, list[str]] = {}
    for kind in markdown_like + ("html",):
        try:
            values = [str(getattr(e, "value", "")) for e in at.get(kind)]
        except Exception:  # noqa: BLE001  (an element type this Streamlit does not have)
            values = []
        found[kind] = values
    # Not here: the alt texts of the photo and of the Play control. They are attributes (an
    # accessible name), which the browser never renders as Markdown or HTML.
    return found


@pytest.mark.models
@pytest.mark.case("privacy", "the model answers with a Markdown image, a link and a <script>")
def test_model_output_reaches_the_page_only_as_escaped_text(scripted_app, monkeypatch, heard):
    class EvilVLM(KeyedVLM):
        def stream(self, photo, history, question, *, max_new_tokens, min_new_tokens=0, notes=(), tokens=None):
            yield from (EVIL[:7], EVIL[7:40], EVIL[40:])  # cut inside the link and the tag

    from core import engines

    monkeypatch.setattr(engines, "build_vlm", lambda settings, budget=None: EvilVLM())
    question = "Read it <b>please</b> ![y](http://example.com/q)"
    at = new_session(DESCRIBE)
    upload_photo(at, photo_bytes(0))  # described: the evil answer is also the photo's alt text
    pages = {"Describe a photo": _texts(at)}
    at.switch_page(ASK).run()
    ask_typed(at, question)
    pages["Ask by voice"] = _texts(at)
    at.switch_page(HISTORY).run()
    pages["History"] = _texts(at)
    assert not crashed(at), crashed(at)
    assert [(e.question, e.answer) for e in state(at).entries][1:] == [(question, EVIL)]
    escaped = html.escape(EVIL)
    for page, texts in pages.items():
        assert any(escaped in h for h in texts["html"]), f"the answer is on {page}, escaped"
        for kind, values in texts.items():
            for value in values:
                if kind != "html":  # rendered as Markdown: neither answer nor question may be in there
                    assert "![x](" not in value and "](http://example.com" not in value, (page, kind, value)
                    assert "<script>" not in value and "<b>please" not in value, (page, kind, value)
                elif "seesay-js" in value:  # the browser bridge: JSON inside a script, "<" escaped
                    assert "<script>alert" not in value.split("<script>", 1)[1], (page, value)
                else:
                    lowered = value.lower()
                    assert "<script" not in lowered and "<img" not in lowered, (page, value)
                    assert "href=" not in lowered and "<b>please" not in lowered, (page, value)
    heard(f"shown as the characters it is made of, on every page: {EVIL}")


# --- private mode ------------------------------------------------------------------------------------


@pytest.mark.models
@pytest.mark.case("privacy", "private mode, a whole visit: models load, photo, question, spoken answer, history")
def test_private_mode_opens_no_connection_off_this_machine(app_env, monkeypatch, outside_connections, heard,
                                                           engine_loads):
    monkeypatch.setenv("SEESAY_PRIVATE", "1")
    import streamlit.testing.v1  # noqa: F401  (the test harness makes its own temporary folder on import)

    temp_before = set(os.listdir(tempfile.gettempdir()))
    with WrittenFiles() as written:
        at = new_session(DESCRIBE)  # Home loads every model first, under the guard
        upload_photo(at, photo_bytes(5), "photo.png")
        at.switch_page(ASK).run()
        ask_typed(at, "What is in the photo?")
        at.switch_page(HISTORY).run()
    temp_left = set(os.listdir(tempfile.gettempdir())) - temp_before
    assert not crashed(at), crashed(at)
    entries = state(at).entries
    assert [e.kind for e in entries] == ["describe", "typed"]
    for entry in entries:
        assert entry.speech, "the answer was spoken"
        assert entry.engines.get("tts") in ("piper", "espeak", "piper+espeak")
    assert any("Play" in a.proto.alt for a in at.get("audio"))  # the history plays them back
    voices = {key[1:] for key in engine_loads if key[0] == "voice"}
    assert voices and all(private and name != "gtts" for name, private in voices), voices
    assert outside_connections == [], outside_connections
    assert all(is_loopback(target) for _, target in outside_connections.loopback)
    kept = kept_on_disk(written, temp_left)
    assert kept == [], f"the app wrote outside a removed temporary folder: {kept}"
    heard(f"no connection off this machine ({len(outside_connections.loopback)} on loopback); "
          "nothing kept on disk; the answers spoken by the offline voice")
