"""core.download: the models fetched before anyone asks, with progress in bytes, against a hub on loopback.

The hub (tests/fakehub.py) answers what huggingface_hub asks of the real one; openai-whisper's
server is a plain file on the same loopback server. Nothing leaves the machine. A hub that cannot be
reached (closed port, unknown host, offline mode, no answer) gives the operator what to do.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from core import download
from core.config import Settings, load_settings
from core.download import LLAVA_FILES, WHISPER_CT2_FILES, Progress, fetch, format_bytes, is_present, plan
from core.errors import ModelUnavailableError
from tests.fakehub import FakeHub

ROOT = Path(__file__).resolve().parent.parent
REPO = "seesay-test/tiny-llava"
CT2_REPO = "seesay-test/whisper-ct2"


def blob(size: int, seed: int = 0) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32) + b"x" * (size % 32)


def llava_repo() -> dict[str, bytes]:
    """A sharded checkpoint's file list, with files transformers does not need beside it."""
    shards = {"model-00001-of-00002.safetensors": blob(300_000, 1), "model-00002-of-00002.safetensors": blob(120_000, 2)}
    index = {"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                            "b.weight": "model-00002-of-00002.safetensors"}}
    return {
        "config.json": b'{"model_type": "llava"}',
        "model.safetensors.index.json": json.dumps(index).encode(),
        **shards,
        "tokenizer.json": blob(5_000, 3),
        "tokenizer_config.json": b"{}",
        "chat_template.jinja": b"{{ messages }}",
        "README.md": b"# not needed",
        ".gitattributes": b"*.safetensors filter=lfs",
        "pytorch_model.bin": blob(400_000, 4),  # the same weights again, in the old format
    }


NEEDED = {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
          "model-00002-of-00002.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}


@pytest.fixture
def online(monkeypatch):
    """huggingface_hub as on a connected machine (the suite runs with HF_HUB_OFFLINE=1)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)  # several progress reports per file
    monkeypatch.setattr(download._Reporter, "INTERVAL", 0.0)


@pytest.fixture
def local_whisper(tmp_path) -> str:
    path = tmp_path / "whisper.pt"
    path.write_bytes(b"a checkpoint already on this machine")
    return str(path)


def settings_for(**env) -> Settings:
    return load_settings({"SEESAY_DEVICE": "cpu", **{f"SEESAY_{k.upper()}": v for k, v in env.items()}})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def downloaded_names(hub: FakeHub) -> list[str]:
    return [p.rsplit("/", 1)[1] for p in hub.downloads()]


# --- what the settings use ---------------------------------------------------------------------

@dataclass(frozen=True)
class RemoteSettings(Settings):
    """Settings with the remote engine's fields (SEESAY_VLM_ENGINE comes with that branch)."""

    vlm_engine: str = "openai"
    vlm_model: str = "llava-hf/llava-1.5-7b-hf"


def test_plan_says_where_each_model_comes_from(tmp_path, local_whisper):
    hub, speech, voice = plan(settings_for(llava_model="llava-hf/llava-1.5-7b-hf", whisper_model="base",
                                           stt_engine="faster-whisper"))
    assert (hub.source, hub.repo, hub.patterns, hub.setting) == ("hub", "llava-hf/llava-1.5-7b-hf", LLAVA_FILES,
                                                                 "SEESAY_LLAVA_MODEL")
    assert (speech.source, speech.repo, speech.patterns) == ("hub", "Systran/faster-whisper-base", WHISPER_CT2_FILES)
    assert voice.source == "" and "Python package" in voice.note

    folder, pt, _ = plan(settings_for(llava_model=str(tmp_path), whisper_model=local_whisper))
    assert folder.source == pt.source == "" and "folder on this machine" in folder.note
    _, named, _ = plan(settings_for(llava_model=str(tmp_path), whisper_model="base", stt_engine="openai-whisper"))
    assert (named.source, named.name) == ("whisper", "base")
    missing, _, _ = plan(settings_for(llava_model=str(tmp_path / "gone" / "model")))
    assert missing.source == ""  # not a hub id: loading explains the missing folder

    remote, _, _ = plan(RemoteSettings(device="cpu", whisper_model=local_whisper))
    assert remote.source == "" and "its own server" in remote.note
    assert all(is_present(m) for m in plan(RemoteSettings(device="cpu", whisper_model=local_whisper)))


def test_faster_whisper_files_are_the_ones_faster_whisper_reads():
    from faster_whisper import utils

    source = inspect.getsource(utils.download_model)
    assert all(f'"{pattern}"' in source for pattern in WHISPER_CT2_FILES)


def test_sizes_and_progress_read_as_words():
    assert [format_bytes(n) for n in (512, 12_300, 145_000_000, 1_234_000_000, 14_500_000_000)] == [
        "512 bytes", "12.3 KB", "145 MB", "1.2 GB", "14.5 GB"]
    p = Progress("the answering model", 1_200_000_000, 4_100_000_000, 1, 2)
    assert p.describe() == "Downloading the answering model: 1.2 GB of 4.1 GB (29%), model 1 of 2"
    assert Progress("speech recognition", 5, 0, 1, 1).describe() == "Downloading speech recognition: 5 bytes"
    assert Progress("x", 10, 0, 1, 1).fraction == 0.0 and Progress("x", 12, 10, 1, 1).fraction == 1.0


# --- downloading from the hub ------------------------------------------------------------------

def test_hub_download_reports_progress_in_bytes_and_fetches_only_what_transformers_reads(
        online, tmp_path, local_whisper):
    seen: list[Progress] = []
    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    with FakeHub({REPO: llava_repo()}) as hub:
        assert not is_present(plan(settings)[0], str(tmp_path))
        fetched = fetch(settings, seen.append, endpoint=hub.url, cache_dir=str(tmp_path))
        assert sorted(downloaded_names(hub)) == sorted(NEEDED)

        total = sum(len(llava_repo()[name]) for name in NEEDED)
        assert seen[0].total == total and seen[0].done == 0  # the size is known before the first byte
        assert [p.done for p in seen] == sorted(p.done for p in seen)  # never goes back
        assert any(0 < p.done < total and p.done not in _file_ends() for p in seen)  # inside a file
        assert (seen[-1].done, seen[-1].total, seen[-1].fraction) == (total, total, 1.0)
        assert seen[-1].describe() == f"Downloading the answering model: {format_bytes(total)} of " \
                                      f"{format_bytes(total)} (100%)"
        assert fetched.downloaded == ("the answering model",) and fetched.bytes == total
        assert fetched.describe().startswith(f"Downloaded the answering model: {format_bytes(total)} in ")

        # Now it is here: no request at all, no progress, offline too.
        before, seen[:] = len(hub.requests), []
        again = fetch(settings, seen.append, endpoint=hub.url, cache_dir=str(tmp_path))
        assert len(hub.requests) == before and not seen and again.downloaded == () and again.bytes == 0
        assert again.describe() == "Every model SeeSay needs is on this machine: nothing to download."
        assert is_present(plan(settings)[0], str(tmp_path))


def _file_ends() -> set[int]:
    ends, done = set(), 0
    for name in sorted(NEEDED):
        done += len(llava_repo()[name])
        ends.add(done)
    return ends


def test_a_missing_shard_is_fetched_again_and_nothing_else(online, tmp_path, local_whisper):
    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    with FakeHub({REPO: llava_repo()}) as hub:
        fetch(settings, endpoint=hub.url, cache_dir=str(tmp_path))
        shard = next(tmp_path.rglob("snapshots/*/model-00002-of-00002.safetensors"))
        shard.resolve().unlink()  # a cache cleaned by hand: the blob is gone, its link left dangling
        assert not is_present(plan(settings)[0], str(tmp_path))
        hub.requests.clear()
        fetched = fetch(settings, endpoint=hub.url, cache_dir=str(tmp_path))
        assert downloaded_names(hub) == ["model-00002-of-00002.safetensors"]
        assert fetched.bytes == len(llava_repo()["model-00002-of-00002.safetensors"])


def test_faster_whisper_model_comes_from_its_hub_repository(online, tmp_path):
    repo = {"model.bin": blob(200_000, 5), "config.json": b"{}", "tokenizer.json": b'{"t": 1}',
            "vocabulary.txt": b"a\nb", "README.md": b"no", "model.safetensors": blob(1000, 6)}
    settings = settings_for(llava_model=str(tmp_path), whisper_model=CT2_REPO, stt_engine="faster-whisper")
    seen = []
    with FakeHub({CT2_REPO: repo}) as hub:
        fetched = fetch(settings, seen.append, endpoint=hub.url, cache_dir=str(tmp_path / "cache"))
        assert sorted(downloaded_names(hub)) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert fetched.downloaded == ("speech recognition",)
    size = format_bytes(sum(len(repo[name]) for name in ("model.bin", "config.json", "tokenizer.json",
                                                          "vocabulary.txt")))
    assert seen[-1].describe() == f"Downloading speech recognition: {size} of {size} (100%)"


def test_two_visitors_at_once_share_one_download(online, tmp_path, local_whisper):
    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    results, watched = {}, {"first": [], "second": []}
    with FakeHub({REPO: llava_repo()}, chunk=32 * 1024, pause=0.06) as hub:  # about a second
        def run(who):
            results[who] = fetch(settings, watched[who].append, endpoint=hub.url, cache_dir=str(tmp_path))

        first = threading.Thread(target=run, args=("first",))
        first.start()
        while not watched["first"]:
            time.sleep(0.01)
        second = threading.Thread(target=run, args=("second",))
        second.start()
        first.join(30)
        second.join(30)
        assert sorted(downloaded_names(hub)) == sorted(NEEDED)  # each file once
    assert results["first"].downloaded == ("the answering model",)
    assert results["second"].downloaded == ()  # it waited, then found the model here
    assert watched["second"] and all(p.label == "the answering model" for p in watched["second"])


# --- openai-whisper's own server ----------------------------------------------------------------

@pytest.fixture
def fake_whisper_size(monkeypatch, tmp_path):
    """A Whisper size "seesay-test" whose checkpoint is served on loopback, cached under tmp_path."""
    import whisper

    data = blob(2_500_000, 7)  # three reads of a megabyte
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def serve(hub: FakeHub, body: bytes = data) -> None:
        checksum = hashlib.sha256(data).hexdigest()  # openai-whisper's URLs carry the checksum
        hub.files[f"{checksum}/seesay-test.pt"] = body
        monkeypatch.setitem(whisper._MODELS, "seesay-test", f"{hub.url}/files/{checksum}/seesay-test.pt")

    return data, serve


def test_openai_whisper_checkpoint_arrives_with_progress_and_its_checksum(online, tmp_path, fake_whisper_size):
    from core.stt import openai_whisper_file

    data, serve = fake_whisper_size
    settings = settings_for(llava_model=str(tmp_path), whisper_model="seesay-test", stt_engine="openai-whisper")
    seen = []
    with FakeHub({}) as hub:
        serve(hub)
        fetched = fetch(settings, seen.append)
    assert openai_whisper_file("seesay-test").read_bytes() == data
    assert seen[0].total == len(data) and seen[-1].done == len(data)
    assert any(0 < p.done < len(data) for p in seen)
    assert fetched.downloaded == ("speech recognition",) and fetched.bytes == len(data)
    assert fetch(settings).downloaded == ()


@pytest.mark.case("download", "the Whisper checkpoint arrives damaged (wrong checksum)")
def test_a_damaged_whisper_checkpoint_is_refused(online, tmp_path, fake_whisper_size, heard):
    from core.stt import openai_whisper_file

    data, serve = fake_whisper_size
    settings = settings_for(llava_model=str(tmp_path), whisper_model="seesay-test", stt_engine="openai-whisper")
    with FakeHub({}) as hub:
        serve(hub, body=data[:-1] + b"!")
        with pytest.raises(ModelUnavailableError) as caught:
            fetch(settings)
    heard(caught.value.spoken)
    assert "could not download speech recognition" in caught.value.spoken
    assert "damaged" in caught.value.spoken
    assert not openai_whisper_file("seesay-test").exists()
    assert not list(openai_whisper_file("seesay-test").parent.glob("*.part"))


# --- when the hub cannot be reached -------------------------------------------------------------

def assert_says_what_to_do(message: str) -> None:
    assert "SEESAY_LLAVA_MODEL" in message and "SEESAY_WHISPER_MODEL" in message
    assert "make-test-models" in message and "Connect this machine to the internet once" in message
    assert "Traceback" not in message and "Error" not in message  # no codes, no exception names


@pytest.mark.case("download", "the model hub's port is closed (connection refused)")
def test_a_closed_hub_says_what_to_do(online, tmp_path, local_whisper, heard):
    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    with pytest.raises(ModelUnavailableError) as caught:
        fetch(settings, endpoint=f"http://127.0.0.1:{closed_port()}", cache_dir=str(tmp_path))
    heard(caught.value.spoken)
    assert "could not download the answering model" in caught.value.spoken
    assert "Hugging Face hub could not be reached" in caught.value.spoken
    assert_says_what_to_do(caught.value.spoken)


@pytest.mark.case("download", "the model hub's name does not resolve (no DNS)")
def test_an_unknown_hub_host_says_what_to_do(online, tmp_path, local_whisper, heard):
    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    with pytest.raises(ModelUnavailableError) as caught:
        fetch(settings, endpoint="http://seesay-no-such-host.invalid", cache_dir=str(tmp_path))
    heard(caught.value.spoken)
    assert "could not be reached" in caught.value.spoken
    assert_says_what_to_do(caught.value.spoken)


@pytest.mark.case("download", "the model hub accepts the connection and never answers")
def test_a_hub_that_never_answers_gives_up_after_the_timeout(online, tmp_path, local_whisper, heard):
    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(ModelUnavailableError) as caught:
            fetch(settings, timeout=0.5, endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}",
                  cache_dir=str(tmp_path))
    assert time.monotonic() - started < 10
    heard(caught.value.spoken)
    assert_says_what_to_do(caught.value.spoken)


@pytest.mark.case("download", "this machine is set to work offline (HF_HUB_OFFLINE) and a model is missing")
def test_offline_mode_is_named_and_nothing_is_asked(tmp_path, local_whisper, heard):
    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    with FakeHub({REPO: llava_repo()}) as hub:
        with pytest.raises(ModelUnavailableError) as caught:  # the suite runs with HF_HUB_OFFLINE=1
            fetch(settings, endpoint=hub.url, cache_dir=str(tmp_path))
        assert hub.requests == []
    heard(caught.value.spoken)
    assert "HF_HUB_OFFLINE is on" in caught.value.spoken
    assert_says_what_to_do(caught.value.spoken)


@pytest.mark.case("download", "the model named by SEESAY_LLAVA_MODEL is not on the hub")
def test_an_unknown_model_names_the_setting(online, tmp_path, local_whisper, heard):
    settings = settings_for(llava_model="seesay-test/no-such-model", whisper_model=local_whisper)
    with FakeHub({REPO: llava_repo()}) as hub:
        with pytest.raises(ModelUnavailableError) as caught:
            fetch(settings, endpoint=hub.url, cache_dir=str(tmp_path))
    heard(caught.value.spoken)
    assert "no model called seesay-test/no-such-model" in caught.value.spoken
    assert "SEESAY_LLAVA_MODEL" in caught.value.spoken


def test_an_unreachable_whisper_server_says_what_to_do(online, tmp_path, monkeypatch):
    import whisper

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(whisper._MODELS, "seesay-test", f"http://127.0.0.1:{closed_port()}/{'0' * 64}/x.pt")
    settings = settings_for(llava_model=str(tmp_path), whisper_model="seesay-test", stt_engine="openai-whisper")
    with pytest.raises(ModelUnavailableError) as caught:
        fetch(settings)
    assert "openai-whisper's download server could not be reached" in caught.value.spoken
    assert_says_what_to_do(caught.value.spoken)


# --- the command --------------------------------------------------------------------------------

def run_command(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SEESAY_", "HF_", "TRANSFORMERS_"))}
    clean.update({"HF_HOME": str(tmp_path / "hf"), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
                  "SEESAY_DEVICE": "cpu", **env})
    return subprocess.run([sys.executable, "-m", "core", "download"], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("endpoint", ["closed port", "unknown host"])
def test_the_command_exits_2_with_the_message_when_the_hub_cannot_be_reached(tmp_path, endpoint):
    url = f"http://127.0.0.1:{closed_port()}" if endpoint == "closed port" else "http://seesay-no-such-host.invalid"
    done = run_command({"HF_ENDPOINT": url, "HF_HUB_OFFLINE": "0"}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "the answering model (SEESAY_LLAVA_MODEL: llava-hf/llava-interleave-qwen-0.5b-hf): from the " \
           "Hugging Face hub" in done.stdout  # the CPU profile's model, and where it comes from
    assert "Hugging Face hub could not be reached" in done.stderr
    assert_says_what_to_do(done.stderr.splitlines()[-1])


def test_the_command_in_offline_mode_exits_2_and_names_it(tmp_path):
    done = run_command({"HF_HUB_OFFLINE": "1"}, tmp_path)
    assert done.returncode == 2 and "HF_HUB_OFFLINE is on" in done.stderr


def test_the_command_prints_progress_in_bytes(tmp_path, local_whisper):
    with FakeHub({REPO: llava_repo()}, chunk=16 * 1024, pause=0.01) as hub:
        done = run_command({"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "SEESAY_LLAVA_MODEL": REPO,
                            "SEESAY_WHISPER_MODEL": local_whisper}, tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(downloaded_names(hub)) == sorted(NEEDED)
    lines = done.stdout.splitlines()
    assert lines[0] == f"the answering model (SEESAY_LLAVA_MODEL: {REPO}): from the Hugging Face hub"
    assert lines[1].startswith("speech recognition (SEESAY_WHISPER_MODEL: ") and "on this machine" in lines[1]
    size = format_bytes(sum(len(llava_repo()[name]) for name in NEEDED))
    progress = [line for line in lines if line.startswith("Downloading the answering model: ")]
    assert progress[0] == f"Downloading the answering model: 0 bytes of {size} (0%)"
    assert progress[-1] == f"Downloading the answering model: {size} of {size} (100%)"
    assert len(progress) >= 3  # on the way too, not only the ends
    assert lines[-1].startswith(f"Downloaded the answering model: {size} in ")
    again = run_command({"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "1", "SEESAY_LLAVA_MODEL": REPO,
                         "SEESAY_WHISPER_MODEL": local_whisper}, tmp_path)
    assert again.returncode == 0 and again.stdout.splitlines()[-1].startswith("Every model SeeSay needs")


# --- the downloaded files are enough, offline (tiny real models) -----------------------------------

def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


@pytest.mark.models
def test_a_llava_from_the_hub_loads_offline_from_what_was_downloaded(online, monkeypatch, tmp_path, test_models,
                                                                      local_whisper):
    import transformers
    from huggingface_hub import constants

    settings = settings_for(llava_model=REPO, whisper_model=local_whisper)
    with FakeHub({REPO: folder_files(test_models.llava)}) as hub:
        fetch(settings, endpoint=hub.url, cache_dir=str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    model = transformers.LlavaForConditionalGeneration.from_pretrained(REPO, cache_dir=str(tmp_path))
    processor = transformers.AutoProcessor.from_pretrained(REPO, cache_dir=str(tmp_path))
    assert model.config.model_type == "llava" and processor.chat_template


@pytest.mark.models
def test_a_faster_whisper_model_from_the_hub_loads_offline(online, monkeypatch, tmp_path, test_models):
    from faster_whisper import WhisperModel
    from huggingface_hub import constants

    settings = settings_for(llava_model=str(tmp_path), whisper_model=CT2_REPO, stt_engine="faster-whisper")
    with FakeHub({CT2_REPO: folder_files(test_models.whisper_tiny_en_ct2)}) as hub:
        fetch(settings, endpoint=hub.url, cache_dir=str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    model = WhisperModel(CT2_REPO, device="cpu", compute_type="int8", download_root=str(tmp_path / "cache"))
    assert model.model.is_multilingual is False


# --- the Home page: progress before the models load (fake engines, a scripted download) -------------

HOME = str(ROOT / "Home.py")
DOWNLOADING = "SeeSay is downloading its models for the first time. This can take several minutes."


@pytest.fixture
def home_with_fake_engines(monkeypatch):
    """Home on scripted engines (tests/fakes.py): loading takes no time, so only the download is seen."""
    from core import engines
    from tests.fakes import FakeSTT, FakeTTS, FakeVLM
    from ui import resources

    monkeypatch.setenv("SEESAY_DEVICE", "cpu")
    monkeypatch.setattr(engines, "build_vlm", lambda settings, budget=None: FakeVLM())
    monkeypatch.setattr(engines, "build_stt", lambda settings: FakeSTT())
    monkeypatch.setattr(engines, "build_voice", lambda settings, name, private: FakeTTS())
    resources.retry("settings")
    yield
    monkeypatch.undo()
    resources.retry("settings")  # later tests get engines built from their own settings


def scripted_download(monkeypatch, reports, error=None):
    """Replace the one function Home calls: it reports ``reports`` (bytes of 4.1 GB), then ends or fails."""
    calls = []

    def fake_fetch(settings, progress=None, **kwargs):
        calls.append(len(reports))
        for done in reports:
            progress(Progress("the answering model", done, 4_100_000_000, 1, 2))
        if error is not None:
            raise error
        downloaded = ("the answering model", "speech recognition") if reports else ()
        return download.Fetched((), downloaded, 4_245_000_000 if reports else 0, 190.0 if reports else 0.0)

    monkeypatch.setattr(download, "fetch", fake_fetch)
    return calls


def home_app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(HOME, default_timeout=60).run()


def announcements(at) -> list[str]:
    return [c["text"] for c in at.session_state["seesay"].sent if c["type"] == "announce"]


def test_home_shows_the_download_in_bytes_then_loads(home_with_fake_engines, monkeypatch):
    calls = scripted_download(monkeypatch, [0, 1_200_000_000, 4_100_000_000])
    at = home_app()
    assert not at.exception, [e.value for e in at.exception]
    assert calls == [3]
    done = [s.value for s in at.success]
    assert done[0] == "Downloaded the answering model and speech recognition: 4.2 GB in 3 minutes."
    assert len(done) == 5 and all(v.endswith("ready.") for v in done[1:])  # then the four models loaded
    assert announcements(at).count(DOWNLOADING) == 1
    assert announcements(at).index(DOWNLOADING) < announcements(at).index("SeeSay is ready.")

    scripted_download(monkeypatch, [])  # the next visit: everything is here
    at.run()
    assert not any(s.value.startswith("Downloaded") for s in at.success)
    assert announcements(at).count(DOWNLOADING) == 1  # said once per visit, not on every rerun


@pytest.mark.case("download", "the hub goes away in the middle of the first download (Home page)")
def test_home_keeps_the_bar_where_a_failed_download_stopped(home_with_fake_engines, monkeypatch, heard):
    lost = ModelUnavailableError("SeeSay could not download the answering model: the Hugging Face hub could "
                                 "not be reached from this machine.", download._WHAT_TO_DO)
    scripted_download(monkeypatch, [0, 1_200_000_000], error=lost)
    at = home_app()
    assert not at.exception, [e.value for e in at.exception]
    bars = [(bar.value, bar.text) for bar in at.get("progress")]
    assert bars == [(29, "Downloading the answering model: 1.2 GB of 4.1 GB (29%), model 1 of 2")]
    assert [e.value for e in at.error] == [lost.spoken]
    heard(at.error[0].value)
    assert announcements(at).count(DOWNLOADING) == 1
