"""The live camera's core side (core/aiming.py): the words, the limits handed to the browser, the text check.

Fast tests use a scripted finder (boxes placed by hand); ``@pytest.mark.models`` tests run the real text
detector (PP-OCRv4 through rapidocr) on the browser test's clip, made from a real photograph. What the
browser does with all this is tested in tests/browser/test_live_camera.py.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from core import aiming, quality
from core.aiming import CUES, LABELS, MESSAGES, TextCheck, browser_limits, check_frame
from core.config import Settings
from core.errors import ImageError
from core.ocr.framing import KINDS as FRAMING_KINDS
from core.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


def jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@dataclass
class Finder:
    """The detector's part of the text reader, scripted: the boxes it finds, and what it was shown."""

    boxes: tuple = ()
    shown: list = field(default_factory=list)

    def find(self, image):
        self.shown.append(image.size)
        return self.boxes


def line(x0, y0, x1, y1):
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


FRAME = Image.new("RGB", (640, 480), (200, 200, 190))


def test_every_kind_of_advice_the_checks_can_give_has_short_words():
    # the browser's own findings (live-camera.js: findings()) and every kind of framing advice
    browser = {"dark", "bright", "glare", "nothing", "moving", "blurred"}
    assert browser | set(FRAMING_KINDS) == set(CUES)
    for kind, words in CUES.items():
        assert len(words.split()) <= 8, (kind, words)  # short enough to follow while aiming


def test_nothing_a_person_hears_is_written_in_the_javascript():
    script = (ROOT / "ui/assets/live-camera.js").read_text(encoding="utf-8")
    for text in [*CUES.values(), *MESSAGES.values(), *LABELS.values()]:
        for sentence in re.split(r"(?<=\.) ", text):
            assert sentence not in script, sentence


def test_the_browser_judges_frames_by_the_quality_checks_own_size_and_thresholds():
    limits = browser_limits()
    assert limits["work_side"] == quality.WORK_SIDE and limits["coarse_pixels"] == quality.COARSE_PIXELS
    assert limits["thresholds"] == quality.THRESHOLDS
    assert 0 < limits["text_every"] >= 0.5  # at most twice a second
    assert limits["frame_side"] == aiming.FRAME_SIDE


def test_well_framed_text_needs_nothing_and_no_text_is_all_in_view():
    assert check_frame(jpeg(FRAME), Finder((line(100, 100, 500, 140), line(100, 160, 460, 200))),
                       photo_side=1344) == TextCheck((), 2, pytest.approx(0, abs=5))
    nothing = check_frame(jpeg(FRAME), Finder(()), photo_side=1344)
    assert nothing.ok and nothing.lines == 0


@pytest.mark.parametrize(("box", "kind"), [(line(300, 100, 639, 140), "off-right"), (line(0, 100, 300, 140), "off-left"),
                                           (line(100, 0, 500, 30), "off-top"), (line(100, 450, 500, 479), "off-bottom")])
def test_text_running_off_an_edge_says_which_way_to_move(box, kind):
    check = check_frame(jpeg(FRAME), Finder((line(100, 200, 500, 240), box)), photo_side=1344)
    assert check.advice[0] == kind and not check.ok


def test_too_small_is_judged_at_the_size_of_the_photo_seesay_will_keep():
    # Lines 12 pixels high in a 640-pixel frame: 25 pixels in a kept 1344-pixel photo (readable), but
    # 12 in a photo from a 640-pixel camera, under core.ocr.framing.SMALL_LINE.
    boxes = (line(100, 100, 400, 112), line(100, 130, 400, 142), line(100, 160, 400, 172))
    assert check_frame(jpeg(FRAME), Finder(boxes), photo_side=1344).ok
    assert check_frame(jpeg(FRAME), Finder(boxes), photo_side=640).advice == ("too-small",)


def test_a_large_frame_is_shrunk_before_the_detector_sees_it_and_a_non_picture_is_refused():
    finder = Finder()
    check_frame(jpeg(Image.new("RGB", (1600, 1200), (90, 90, 90))), finder, photo_side=1344)
    assert finder.shown == [(aiming.FRAME_SIDE, aiming.FRAME_SIDE * 3 // 4)]
    with pytest.raises(ImageError):
        check_frame(b"not a picture at all", finder, photo_side=1344)
    with pytest.raises(ImageError):
        check_frame(b"\xff\xd8" + b"0" * aiming.FRAME_MAX_BYTES, finder, photo_side=1344)


class _Models:
    def __init__(self, finder):
        self.finder = finder

    def ocr(self):
        return self.finder


def test_the_pipeline_judges_a_frame_for_the_photo_it_would_keep():
    boxes = (line(100, 100, 400, 112), line(100, 130, 400, 142), line(100, 160, 400, 172))  # 12 px lines
    pipeline = Pipeline(Settings(image_max_side=1344), _Models(Finder(boxes)))
    assert pipeline.guide(jpeg(FRAME), 4032).ok  # a phone's 12 MP photo is kept at 1344: 25 px lines
    assert pipeline.guide(jpeg(FRAME), 640).advice == ("too-small",)  # a 640-pixel webcam's photo
    assert pipeline.guide(jpeg(FRAME), 0).ok  # size unknown: as SeeSay keeps photos


# --- the real detector ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reader():
    from core.ocr import load_ocr

    return load_ocr()


@pytest.mark.models
def test_the_detector_alone_finds_the_labels_lines_without_reading_them(reader):
    from core.testmodels.aiming import LABEL, label_scene

    boxes = reader.find(label_scene())
    assert len(boxes) == len(LABEL)
    for box in boxes:
        (x0, y0), (x1, _), _, (_, y3) = box
        assert x1 - x0 > 3 * (y3 - y0)  # a line, read left to right, its corners from the writing's top-left


@pytest.mark.models
def test_on_the_test_clip_the_text_check_says_cut_off_on_the_right_and_then_all_in_view(reader):
    from core.testmodels.aiming import aiming_clip

    shots = {shot.name: shot.frames[0] for shot in aiming_clip()}
    cut = check_frame(jpeg(shots["cut off on the right"]), reader, photo_side=800)
    assert cut.advice[:1] == ("off-right",)
    good = check_frame(jpeg(shots["good"]), reader, photo_side=800)
    assert good.ok and good.lines == 4
    # and the clip's other shots are what they say, by the quality check itself
    assert [f.kind for f in quality.check_quality(shots["dark"]).findings][:1] == ["dark"]
    assert [f.kind for f in quality.check_quality(shots["blurred"]).findings] == ["blurred"]
    assert quality.check_quality(shots["good"]).ok and quality.check_quality(shots["cut off on the right"]).ok


# --- the app's side (ui/live_camera.py): what comes back from the browser --------------------------------


class _Resources:
    def __init__(self, finder):
        self._pipeline = Pipeline(Settings(image_max_side=1344, max_image_bytes=1_000_000), _Models(finder))

    def pipeline(self):
        return self._pipeline

    def settings(self):
        return self._pipeline.settings


@pytest.fixture
def app_side(monkeypatch):
    """ui.live_camera with the session state a plain dict and the pipeline on a scripted finder."""
    import types

    from ui import live_camera

    state: dict = {}
    finder = Finder((line(300, 100, 639, 140),))  # text off the right edge
    monkeypatch.setattr(live_camera, "st", types.SimpleNamespace(session_state=state))
    monkeypatch.setattr(live_camera, "resources", _Resources(finder))
    return live_camera, state, finder


def b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def test_a_frame_from_the_browser_is_checked_and_the_answer_kept_for_it(app_side):
    live, state, finder = app_side
    state["k"] = {"frame": {"id": 7, "image": b64(jpeg(FRAME)), "side": 1920}}
    live._check("k")
    assert state["k-check"] == {"frame": 7, "advice": ["off-right"]} and finder.shown == [(640, 480)]
    # what is not a frame gets an answer that lets the photo be taken without the text check
    state["k"] = {"frame": {"id": 8, "image": "not base64!", "side": 1920}}
    live._check("k")
    assert state["k-check"] == {"frame": 8, "unavailable": True} and len(finder.shown) == 1
    state["k"] = {"frame": {"id": 9, "image": b64(b"GIF89a but not a picture"), "side": 1920}}
    live._check("k")
    assert state["k-check"] == {"frame": 9, "unavailable": True}
    state["k"] = {"frame": {"image": b64(jpeg(FRAME))}}  # no id: nothing to answer
    live._check("k")
    assert state["k-check"]["frame"] == 9


def test_a_photo_from_the_browser_is_kept_once_for_the_page(app_side):
    live, state, _ = app_side
    photo = jpeg(Image.new("RGB", (1920, 1080), (120, 130, 140)))
    state["k"] = {"photo": {"image": b64(photo), "auto": True}}
    live._keep("k")
    assert state["k-photo"] == photo and state["k-arrived"] is True
    # over SEESAY_MAX_IMAGE_MB (1 MB here), or not base64: nothing is kept
    for image in (b64(b"\xff\xd8" + b"0" * 1_100_000), "%%%"):
        state.clear()
        state["k"] = {"photo": {"image": image, "auto": True}}
        live._keep("k")
        assert "k-photo" not in state
