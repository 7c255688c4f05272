"""Voices: real espeak-ng and Piper output, and gTTS against simulated networks.

There is no internet here, and the tests must not depend on Google anyway: gTTS is pointed, inside
this process only, at loopback servers through a patched ``socket.getaddrinfo`` (the seam
``/work/shared/recipes/gtts_hang.py`` uses). gTTS speaks HTTPS with ``verify=False``, so a loopback
TLS server with a throw-away self-signed certificate (made with the ``openssl`` command) stands in
for Google: it can answer 429, or send back an MP3 the way Google does. Those fault injectors live
in ``tests/faults.py``, shared with the reliability tests.
"""

# ruff: noqa: F811  (the fixtures imported from tests.faults are used by name, as parameters)

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
import wave

import numpy as np
import pytest
import soundfile

from core import tts as tts_module
from core.tts import offline as tts_offline
from core.errors import ConfigError, ModelUnavailableError, SpeechSynthesisError
from core.tts import ENGINES, AutoEngine, Speech, concat_speech, find_piper_voice, load_tts, speech_duration
from tests.fakes import FakeTTS
from tests.faults import (  # noqa: F401  (fixtures)
    closed_port,
    fake_google,
    no_network,
    no_proxies,
    redirect_google,
    silent_server,
    spoken_texts,
    tls_files,
)
from tests.media import tone_mp3

TIMEOUT = 2.0  # seconds given to gTTS in these tests
SENTENCE = "There is a red car parked next to a green bicycle."
SHORT = "The sign says stop."


# --- helpers -----------------------------------------------------------------------------------


def wav_info(speech: Speech) -> tuple[int, float]:
    """(sample rate, seconds), read by libsndfile: an independent check of our WAV files."""
    samples, rate = soundfile.read(io.BytesIO(speech.audio), dtype="float32")
    return rate, len(samples) / rate


def tone_wav(seconds: float, rate: int) -> Speech:
    t = np.arange(int(rate * seconds)) / rate
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16).tobytes())
    return Speech(buffer.getvalue(), "audio/wav", "test", "en")


@pytest.fixture(scope="module")
def offline():
    return load_tts("offline", private=False, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def _auto():
    return load_tts("auto", private=False, timeout=TIMEOUT)


@pytest.fixture
def auto(_auto):
    _auto.failed_at = None  # forget failures of earlier tests
    yield _auto
    _auto.failed_at = None


# --- offline voices ----------------------------------------------------------------------------


def test_espeak_gives_a_valid_wav_with_the_true_length():
    speech = load_tts("espeak", private=False, timeout=TIMEOUT).synthesize(SENTENCE, "en")
    assert (speech.mime, speech.engine, speech.language) == ("audio/wav", "espeak", "en")
    rate, seconds = wav_info(speech)
    assert rate == 22050 and seconds > 0.3
    # espeak-ng streams a placeholder length into the header; ours must be the real one
    with wave.open(io.BytesIO(speech.audio)) as clip:
        assert clip.getnframes() * 2 + 44 == len(speech.audio)


def test_espeak_gets_the_text_on_stdin_not_on_the_command_line(monkeypatch):
    real_run, seen = subprocess.run, []

    def spy(command, **kwargs):
        seen.append((command, kwargs.get("input"), kwargs.get("timeout")))
        return real_run(command, **kwargs)

    monkeypatch.setattr(tts_offline.subprocess, "run", spy)
    text = "--help me read this; $(rm -rf ~)"
    load_tts("espeak", private=False, timeout=TIMEOUT).synthesize(text, "en")
    (command, stdin, timeout), = seen
    assert not any("help me" in arg or "rm -rf" in arg for arg in command)
    assert stdin == text.encode() and timeout is not None


def test_piper_gives_a_valid_wav(offline):
    speech = offline.synthesize(SENTENCE, "en")
    assert (speech.mime, speech.engine) == ("audio/wav", "piper")
    rate, seconds = wav_info(speech)
    assert rate == 22050 and 1.0 < seconds < 10


def test_piper_runs_with_its_options_threads_and_no_arena():
    from core.tts.offline import PiperOptions, PiperVoiceEngine

    voice = find_piper_voice("")
    default = PiperVoiceEngine(voice)
    session = default.voice.session.get_session_options()
    assert (session.intra_op_num_threads, session.enable_cpu_mem_arena) == (1, False)  # measured best on 2 cores
    two = PiperVoiceEngine(voice, PiperOptions(threads=2, memory_arena=True))
    session = two.voice.session.get_session_options()
    assert (session.intra_op_num_threads, session.enable_cpu_mem_arena) == (2, True)
    assert two.voice is not default.voice  # each setting its own session; the same setting shares one
    assert PiperVoiceEngine(voice).voice is default.voice
    assert wav_info(two.synthesize(SENTENCE, "en"))[1] > 1.0


def test_offline_uses_piper_for_english_and_espeak_for_other_languages(offline):
    assert offline.sends_text_off_machine is False
    assert offline.synthesize("What colour is the car?", "en-US").engine == "piper"
    spanish = offline.synthesize("¿De qué color es el coche?", "es")
    assert (spanish.engine, spanish.language) == ("espeak", "es")
    assert wav_info(spanish)[1] > 0.3


def test_piper_engine_hands_other_languages_to_espeak():
    piper = load_tts("piper", private=False, timeout=TIMEOUT)
    assert piper.name == "piper"
    assert piper.synthesize(SHORT, "en").engine == "piper"
    assert piper.synthesize("Das Schild sagt Stopp.", "de").engine == "espeak"


def test_installed_voice_package_is_found_and_a_wrong_path_is_refused(tmp_path):
    voice = find_piper_voice("")
    assert voice is not None and voice.suffix == ".onnx" and voice.is_file()
    assert find_piper_voice(str(voice)) == voice
    bad = tmp_path / "voice.onnx"
    bad.write_bytes(b"not a model")  # no .onnx.json beside it
    with pytest.raises(ConfigError, match="SEESAY_PIPER_VOICE"):
        load_tts("piper", private=False, timeout=TIMEOUT, piper_voice=str(bad))


@pytest.mark.parametrize("text", ["", "   ", "... !?"])
def test_nothing_to_say_is_a_spoken_error_not_a_crash(offline, text):
    with pytest.raises(SpeechSynthesisError, match="nothing to read"):
        offline.synthesize(text, "en")


# --- choosing engines --------------------------------------------------------------------------


def test_unknown_engine_lists_the_valid_names():
    with pytest.raises(ConfigError) as caught:
        load_tts("festival", private=False, timeout=TIMEOUT)
    assert "festival" in str(caught.value)
    assert all(name in str(caught.value) for name in ENGINES)


def test_gtts_is_refused_in_private_mode():
    with pytest.raises(ConfigError) as caught:
        load_tts("gtts", private=True, timeout=TIMEOUT)
    assert "SEESAY_PRIVATE" in str(caught.value) and "SEESAY_TTS_ENGINE" in str(caught.value)


def test_a_timeout_of_zero_is_refused():
    with pytest.raises(ConfigError, match="SEESAY_NETWORK_TIMEOUT"):
        load_tts("auto", private=False, timeout=0)


def test_without_espeak_piper_reads_every_language(monkeypatch):
    monkeypatch.setattr(tts_module.shutil, "which", lambda name: None)
    engine = load_tts("offline", private=False, timeout=TIMEOUT)
    assert engine.synthesize("El cartel dice alto.", "es").engine == "piper"
    with pytest.raises(ModelUnavailableError, match="espeak-ng"):
        load_tts("espeak", private=False, timeout=TIMEOUT)


def test_without_any_offline_voice_auto_is_gtts_alone_and_offline_says_why(monkeypatch):
    monkeypatch.setattr(tts_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(tts_offline, "PIPER_VOICE_PACKAGES", ())
    assert load_tts("auto", private=False, timeout=TIMEOUT).name == "gtts"
    for engine, private in (("offline", False), ("auto", True)):
        with pytest.raises(ModelUnavailableError, match="No offline voice"):
            load_tts(engine, private=private, timeout=TIMEOUT)


def test_private_auto_speaks_without_touching_the_network(no_network):
    engine = load_tts("auto", private=True, timeout=TIMEOUT)
    assert engine.sends_text_off_machine is False
    english, spanish = engine.synthesize(SHORT, "en"), engine.synthesize("El cartel dice alto.", "es")
    assert (english.engine, spanish.engine) == ("piper", "espeak")
    assert wav_info(english)[1] > 0.3 and wav_info(spanish)[1] > 0.3
    assert no_network == []


def test_the_network_guard_does_catch_gtts(no_network, auto):
    # The same guard, without private mode: gTTS is caught trying to connect (so the test above
    # would notice), and the offline voice still answers.
    speech = auto.synthesize(SHORT, "en")
    assert no_network and speech.engine == "piper"


def test_private_mode_does_not_even_import_gtts():
    code = ("import sys; from core.tts import load_tts; "
            "e = load_tts('auto', private=True, timeout=2); e.synthesize('Hello there.', 'en'); "
            "loaded = [m for m in ('gtts', 'requests', 'urllib3') if m in sys.modules]; "
            "print(loaded); sys.exit(1 if loaded else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_the_voice_modules_loads_no_voice_library():
    code = ("import sys, core.tts, core.language; "
            "heavy = [m for m in ('gtts', 'requests', 'piper', 'onnxruntime', 'av', 'numpy') "
            "if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- gTTS and the auto fallback, on simulated networks -----------------------------------------


def test_auto_falls_back_at_once_when_google_is_unreachable(monkeypatch, closed_port, auto):
    looked_up = redirect_google(monkeypatch, closed_port)
    t0 = time.perf_counter()
    speech = auto.synthesize(SHORT, "en")
    elapsed = time.perf_counter() - t0
    assert looked_up, "gTTS was not tried"
    assert auto.online_resting()
    assert speech.engine == "piper" and speech.mime == "audio/wav"
    assert elapsed < TIMEOUT + 1


def test_auto_stops_waiting_for_a_silent_host_and_rests_it(monkeypatch, silent_server, auto):
    port, held = silent_server
    redirect_google(monkeypatch, port)
    t0 = time.perf_counter()
    speech = auto.synthesize(SHORT, "en")
    elapsed = time.perf_counter() - t0
    assert held, "gTTS did not connect to the silent host"
    assert speech.engine == "piper"
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + 1
    # The next sentences go straight to the offline voice: no new connection, no waiting.
    connections = len(held)
    t0 = time.perf_counter()
    assert auto.synthesize("A second sentence.", "en").engine == "piper"
    assert time.perf_counter() - t0 < 1.0 and len(held) == connections


def test_auto_does_not_wait_for_a_name_lookup_that_hangs(monkeypatch, auto):
    # requests' timeout does not cover DNS: only the overall deadline saves this case.
    original, release = socket.getaddrinfo, threading.Event()

    def stuck(host, *args, **kwargs):
        if "google" in str(host):
            release.wait(30)
            raise OSError("name lookup gave up")
        return original(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        t0 = time.perf_counter()
        speech = auto.synthesize(SHORT, "en")
        elapsed = time.perf_counter() - t0
    finally:
        release.set()  # let the abandoned gTTS thread finish
    assert speech.engine == "piper"
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + 1


def test_gtts_requests_carry_their_own_timeout(monkeypatch, silent_server):
    # The gtts engine alone: the silent host is given up on by requests' own timeout (the
    # worker thread ends by itself), well before the overall budget of 3 requests runs out.
    port, _ = silent_server
    redirect_google(monkeypatch, port)
    engine = load_tts("gtts", private=False, timeout=1.0)
    text = " ".join([SENTENCE] * 5)  # gTTS splits this into several requests
    t0 = time.perf_counter()
    with pytest.raises(SpeechSynthesisError, match="did not answer in time"):
        engine.synthesize(text, "en")
    assert time.perf_counter() - t0 < 2.0
    assert not [t for t in threading.enumerate() if t.name == "seesay-gtts"]


def test_auto_falls_back_on_http_429(fake_google, auto):
    fake_google.status = 429
    t0 = time.perf_counter()
    speech = auto.synthesize(SHORT, "en")
    assert fake_google.requests, "gTTS did not reach the fake Google"
    assert speech.engine == "piper" and time.perf_counter() - t0 < TIMEOUT + 1
    assert auto.online_resting()


def test_gtts_alone_reports_429_in_plain_words(fake_google):
    fake_google.status = 429
    with pytest.raises(SpeechSynthesisError, match="too many") as caught:
        load_tts("gtts", private=False, timeout=TIMEOUT).synthesize(SHORT, "en")
    assert "SEESAY_TTS_ENGINE" in caught.value.hint


def test_gtts_answer_is_the_mp3_google_sent_in_the_question_language(fake_google, auto):
    fake_google.audio = tone_mp3(1.0)
    speech = auto.synthesize("¿Qué dice el cartel?", "es")
    assert (speech.engine, speech.mime, speech.language) == ("gtts", "audio/mpeg", "es")
    assert speech.audio == fake_google.audio
    assert spoken_texts(fake_google) == [("¿Qué dice el cartel?", "es")]
    fake_google.requests.clear()
    assert auto.synthesize("מה כתוב בשלט?", "he").engine == "gtts"
    assert spoken_texts(fake_google)[0][1] == "iw"  # Google's code for Hebrew


def test_auto_uses_the_offline_voice_for_a_language_google_lacks(fake_google, auto):
    fake_google.audio = tone_mp3(0.5)
    speech = auto.synthesize("این تابلو چه می گوید؟", "fa")  # Persian: espeak has it, gTTS not
    assert speech.engine == "espeak" and not fake_google.requests
    assert not auto.online_resting()  # not a failure of Google: keep using it


def test_auto_tries_google_again_after_resting():
    now = [100.0]
    online, offline = FakeTTS(name="gtts", fail=True), FakeTTS(name="espeak")
    engine = AutoEngine(online, offline, timeout=1.0, retry_after=60, clock=lambda: now[0])
    assert engine.synthesize("One.", "en").engine == "espeak"
    online.fail = False
    now[0] += 30
    assert engine.synthesize("Two.", "en").engine == "espeak"  # still resting
    assert [t for t, _ in online.spoken] == []
    now[0] += 31
    assert engine.synthesize("Three.", "en").engine == "gtts"
    assert [t for t, _ in online.spoken] == ["Three."]


def test_auto_prepares_the_offline_voice_while_a_slow_google_is_still_due():
    # Google never answers in time; the offline voice (0.8 s here, like Piper on busy cores)
    # starts at half the timeout, so the answer comes at the deadline, not 0.8 s after it.
    online, offline = FakeTTS(name="gtts", delay=5.0), FakeTTS(name="piper", delay=0.8)
    engine = AutoEngine(online, offline, timeout=1.0)
    t0 = time.perf_counter()
    speech = engine.synthesize("Slow day.", "en")
    elapsed = time.perf_counter() - t0
    assert speech.engine == "piper" and engine.online_resting()
    assert 1.0 <= elapsed < 1.5


def test_auto_keeps_google_when_it_answers_late_but_in_time():
    online, offline = FakeTTS(name="gtts", delay=0.7), FakeTTS(name="piper")
    engine = AutoEngine(online, offline, timeout=1.0)
    assert engine.synthesize("Late.", "en").engine == "gtts"
    assert not engine.online_resting()
    assert [t for t, _ in offline.spoken] == ["Late."]  # the backup was made, then not needed


# --- joining clips -----------------------------------------------------------------------------


def test_concat_of_two_wavs_lasts_as_long_as_both(offline):
    a, b = offline.synthesize(SHORT, "en"), offline.synthesize("Dice alto.", "es")
    joined = concat_speech([a, b])
    assert joined.mime == "audio/wav" and joined.engine == "piper+espeak"
    assert wav_info(joined)[1] == pytest.approx(wav_info(a)[1] + wav_info(b)[1], abs=1e-3)


def test_concat_resamples_wavs_of_different_rates():
    a, b = tone_wav(0.5, 16_000), tone_wav(0.75, 22_050)
    joined = concat_speech([a, b])
    rate, seconds = wav_info(joined)
    assert rate == 22_050 and seconds == pytest.approx(1.25, abs=0.01)


def test_concat_of_mp3s_is_one_mp3_of_the_summed_length():
    parts = [Speech(tone_mp3(s), "audio/mpeg", "gtts", "en") for s in (1.0, 0.5)]
    joined = concat_speech(parts)
    assert joined.mime == "audio/mpeg" and joined.audio[:3] != b"ID3"  # no tag left in the middle
    # LAME pads each clip by a few ms, which the dropped Info header used to hide
    assert speech_duration(joined) == pytest.approx(1.5, abs=0.15)


def test_concat_of_mp3_and_wav_becomes_one_wav():
    parts = [Speech(tone_mp3(1.0), "audio/mpeg", "gtts", "en"), tone_wav(0.5, 22_050)]
    joined = concat_speech(parts)
    rate, seconds = wav_info(joined)
    assert joined.mime == "audio/wav" and joined.engine == "gtts+test"
    assert rate == 22_050 and seconds == pytest.approx(1.5, abs=0.1)


def test_concat_of_a_broken_clip_is_a_spoken_error():
    parts = [tone_wav(0.5, 22_050), Speech(b"not audio at all", "audio/mpeg", "gtts", "en")]
    with pytest.raises(SpeechSynthesisError):
        concat_speech(parts)


def test_the_installed_piper_voice_is_loaded_only_when_it_first_speaks(monkeypatch):
    """The automatic voice speaks with gTTS: the Piper voice it falls back on (about 100 MB) is not loaded
    until it is needed; one asked for by name is loaded at once (a broken file is said at start-up)."""
    from core.tts import offline as module

    voice = find_piper_voice("")
    assert voice is not None, "the Piper voice package in requirements.txt is not installed"
    loads = []
    real = module._piper_voice
    monkeypatch.setattr(module, "_piper_voice", lambda *args: loads.append(args) or real(*args))
    engine = load_tts("offline", private=True, timeout=5)
    assert engine.piper is not None and not engine.piper.loaded and loads == []
    assert engine.piper.speaks("en") and not engine.piper.speaks("de")  # its language, from its config alone
    assert engine.synthesize(SENTENCE, "en").engine == "piper"
    assert engine.piper.loaded and len(loads) == 1
    load_tts("offline", private=True, timeout=5, piper_voice=str(voice))
    assert len(loads) == 2  # asked for by name: loaded now


def test_a_lazy_piper_voice_that_cannot_load_falls_back_to_espeak(tmp_path):
    from core.tts.offline import EspeakEngine, OfflineEngine, PiperVoiceEngine

    import shutil

    assert shutil.which("espeak-ng"), "espeak-ng (packages.txt) is not installed"
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a voice")
    (tmp_path / "broken.onnx.json").write_text('{"espeak": {"voice": "en-us"}}', encoding="utf-8")
    engine = OfflineEngine(PiperVoiceEngine(broken, lazy=True), EspeakEngine(shutil.which("espeak-ng")))
    assert engine.synthesize(SENTENCE, "en").engine == "espeak"
    assert engine.piper is None  # espeak-ng from now on
