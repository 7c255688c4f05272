"""``python -m core ask`` as a person or a script runs it: the tiny real models, the real text reader,
the offline voice, in a separate process. What is checked is what comes out: the JSON (quality findings,
the text found, the confidence), the exit status, the messages and the answer's audio file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import image_bytes, scene_bytes

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(test_models, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEESAY_")}
    env.update(SEESAY_LLAVA_MODEL=str(test_models.llava), SEESAY_WHISPER_MODEL=str(test_models.whisper_tiny_en),
               SEESAY_STT_ENGINE="openai-whisper", SEESAY_TTS_ENGINE="espeak", SEESAY_DEVICE="cpu",
               SEESAY_MAX_ANSWER_TOKENS="12", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))

    def run(photo: bytes, *args: str) -> subprocess.CompletedProcess:
        path = tmp_path / "photo.png"
        path.write_bytes(photo)
        return subprocess.run([sys.executable, "-m", "core", "ask", "--image", str(path), *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    run.folder = tmp_path
    return run


def test_a_question_gives_json_with_quality_text_and_confidence(cli):
    done = cli(scene_bytes(4), "--question", "What is in the photo?", "--json", "--out", "answer.wav")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["quality"]["ok"] is True and set(result["quality"]["measures"]) >= {"blur", "detail"}
    assert result["answer"] and result["question"] == "What is in the photo?"
    assert isinstance(result["confidence"], float) and 0 <= result["confidence"] <= 1  # the tiny model's own
    assert isinstance(result["hedged"], bool) and result["unanswerable"] is False
    assert result["text_found"] == ""  # the scene has no writing
    assert (cli.folder / "answer.wav").read_bytes()[:4] == b"RIFF" and result["audio"] == "answer.wav"


def test_read_the_text_prints_the_readers_words(cli):
    from core.testmodels.labels import samples

    label = next(s for s in samples(["clean"]) if s.kind == "label")
    done = cli(image_bytes(label.image, "PNG"), "--quick", "read", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == result["text_found"] and "Ibuprofen 200 mg" in result["answer"]
    assert "ocr" in result["engines"] and "vlm" not in result["engines"]
    assert result["confidence"] is None  # the reader's words, not the model's: no model confidence


def test_a_flawed_photo_prints_its_guidance_unless_asked_anyway(cli):
    from PIL import Image

    flat = image_bytes(Image.new("RGB", (400, 300), (128, 128, 128)), "PNG")
    done = cli(flat, "--question", "What is this?", "--json")
    assert done.returncode == 3
    result = json.loads(done.stdout)
    assert result["answer"] is None and result["quality"]["ok"] is False
    assert [f["kind"] for f in result["quality"]["findings"]][0] == "featureless"
    assert "point the camera" in result["guidance"].lower()
    plain = cli(flat, "--question", "What is this?")
    assert plain.returncode == 3 and "point the camera" in plain.stdout.lower() and "--anyway" in plain.stderr
    anyway = cli(flat, "--question", "What is this?", "--anyway", "--json")
    assert anyway.returncode == 0, anyway.stderr and json.loads(anyway.stdout)["answer"]


def test_an_unknown_quick_question_lists_the_ones_there_are(cli):
    done = cli(scene_bytes(5), "--quick", "weather")
    assert done.returncode == 2 and "describe, read, colours, people, ahead" in done.stderr
