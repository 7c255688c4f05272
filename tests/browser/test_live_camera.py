"""The live camera in a real browser: guidance while aiming, the photo taken by itself, then an answer.

Chromium's fake camera plays a clip made from a real photograph (core.testmodels.aiming: a printed label
on scikit-image's coffee table): too dark, then blurred, then the label cut off on the right, then good.
The fake camera is one device with one place in its file: a stream opened while another is open joins it
where it is. Streamlit's camera (Take photo) opens when the page is drawn, so the tests stop its stream
before they open the live camera, and the clip starts from its beginning.
"""

from __future__ import annotations

import base64
import itertools

import numpy as np
import pytest
from browserkit import (PAGES, RECORD_EVENTS, axe_violations, format_violations, go_to, live_region_log, open_page,
                        settle, small_targets, unnamed_controls, wait_for_announcement, wait_until)

from core.aiming import CUES, LABELS, MESSAGES
from core.testmodels.aiming import SIZE, aiming_clip, write_y4m

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES

#: what the tests read back: each camera stream the page opened (the live camera's are the ones that ask for
#: the back lens as an "ideal"; Streamlit's ask for a bare lens name), each photo the live camera took, and
#: the time and size of each message sent to the server over Streamlit's websocket
FOLLOW = """
window.__streams = [];
window.__liveStreams = [];
window.__livePhotos = [];
window.__sent = [];
const sendMessage = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  window.__sent.push([performance.now(), data.byteLength !== undefined ? data.byteLength : (data.size || data.length)]);
  return sendMessage.call(this, data);
};
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await ask(constraints);
    window.__streams.push(stream);
    const video = constraints && constraints.video;
    if (video && typeof video.facingMode === "object") { window.__liveStreams.push(stream); }
    return stream;
  };
}
window.__beeps = [];  // the pitch of each beep of the sharpness tone, in order
if (window.OscillatorNode) {
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__beeps.push(this.frequency.value);
    return start.apply(this, args);
  };
}
document.addEventListener("seesay-live-photo", (event) => {
  const d = event.detail;
  window.__livePhotos.push({auto: d.auto, width: d.width, height: d.height, bytes: d.image.length});
});
"""
#: stop every camera stream the page has open (Streamlit's), so the fake camera's file starts over
STOP_CAMERAS = "window.__streams.forEach(s => s.getTracks().forEach(t => t.stop()))"


@pytest.fixture(scope="module")
def filming(chromium_filming, tmp_path_factory):
    """A Chromium whose fake camera plays the aiming clip."""
    video = write_y4m(aiming_clip(), tmp_path_factory.mktemp("live-camera") / "aiming.y4m")
    return chromium_filming(video)


@pytest.fixture
def live_tab(playwright, filming, warm_app):
    """``live_tab(device=None)`` -> a fresh tab of the filming Chromium (desktop, or a phone profile)."""
    contexts = []

    def make(device: str | None = None):
        profile = dict(playwright.devices[device]) if device else {"viewport": {"width": 1280, "height": 900}}
        profile.pop("default_browser_type", None)
        context = filming.new_context(**profile, permissions=["camera", "microphone"])
        context.set_default_timeout(60_000)
        context.add_init_script(RECORD_EVENTS)
        context.add_init_script(FOLLOW)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def in_order(said: list[str], *expected: str) -> bool:
    """``expected`` appear in ``said`` in this order (other messages may come between)."""
    rest = iter(said)
    return all(any(text == s for s in rest) for text in expected)


def open_live_view(page, via_keyboard: bool = False):
    """Stop Streamlit's camera (see the module's doc), then switch the live camera on."""
    page.evaluate(STOP_CAMERAS)
    toggle = page.get_by_role("button", name=LABELS["toggle"])
    if via_keyboard:
        toggle.focus()
        page.keyboard.press("Enter")
    else:
        toggle.click()
    wait_until(page, "() => window.__liveStreams.some(s => s.getVideoTracks()[0].readyState === 'live')",
               "the live camera's stream did not start")
    wait_until(page, "(on) => window.__liveLog.includes(on)", "the live camera did not say it is on",
               arg=MESSAGES["on"])
    return toggle


def test_the_live_camera_guides_then_takes_the_photo_by_itself_and_it_is_described(live_tab, warm_app):
    page = live_tab()
    open_page(page, warm_app, DESCRIBE)
    before = len(live_region_log(page))
    toggle = open_live_view(page, via_keyboard=True)
    said = wait_for_announcement(page, "Answer ready.", before, timeout=180_000)
    # The cues came in the clip's order, then the photo was taken without anything pressed, then the
    # page went on as with any photo.
    assert in_order(said, MESSAGES["on"], CUES["dark"], CUES["blurred"], CUES["off-right"], MESSAGES["taken"],
                    "Photo received.", "Answer ready."), said
    after = said[said.index(MESSAGES["taken"]):]
    assert not set(after) & set(CUES.values()), said  # the live camera stopped with the photo
    photos = page.evaluate("window.__livePhotos")
    assert len(photos) == 1 and photos[0]["auto"], photos
    assert (photos[0]["width"], photos[0]["height"]) == SIZE  # the camera's full size, not a working copy
    assert toggle.get_attribute("aria-pressed") == "false"
    page.get_by_role("heading", name="Short description").wait_for()
    # Take photo is still there, as it was.
    assert page.get_by_role("group", name="Camera").get_by_role("button", name="Take photo").count() == 1
    # Frames for the text check went to the server one at a time, at most twice a second (the photo is
    # the last large message; a 640-pixel JPEG frame is tens of kilobytes, other messages are small).
    large = [t for t, size in page.evaluate("window.__sent") if size > 8_000][:-1]
    assert large, "no frame was sent for the text check"
    gaps = [b - a for a, b in itertools.pairwise(large)]
    assert not gaps or min(gaps) >= 450, gaps


@pytest.mark.parametrize("device", ["Pixel 7", "iPhone 14"])
def test_on_a_phone_the_live_view_asks_for_the_back_lens_passes_axe_and_stopping_releases_the_camera(
        live_tab, warm_app, device):
    page = live_tab(device)
    open_page(page, warm_app, DESCRIBE)
    before = len(live_region_log(page))
    toggle = open_live_view(page)
    asked = [r["video"]["facingMode"] for r in page.evaluate("window.__cameraRequests")
             if isinstance(r.get("video"), dict) and isinstance(r["video"].get("facingMode"), dict)]
    assert asked == [{"ideal": "environment"}], asked  # the back lens (Streamlit's camera asks a bare name)
    assert toggle.get_attribute("aria-pressed") == "true"
    take = page.get_by_role("button", name=LABELS["take"])
    text = page.get_by_role("checkbox", name=LABELS["text"])
    assert take.is_visible() and text.is_checked()
    assert not unnamed_controls(page), unnamed_controls(page)
    names = (LABELS["toggle"], LABELS["take"], LABELS["text"])
    assert not [t for t in small_targets(page) if t["name"].startswith(names)], small_targets(page)
    violations = axe_violations(page)
    assert not violations, format_violations(violations)
    # Pressed again, the live camera stops: its track ends (the camera is released) and it says so.
    toggle.click()
    wait_until(page, "() => window.__liveStreams.at(-1).getVideoTracks()[0].readyState === 'ended'",
               "the live camera's track did not end")
    assert toggle.get_attribute("aria-pressed") == "false" and not take.is_visible()
    wait_for_announcement(page, MESSAGES["off"], before)
    assert page.evaluate("window.__livePhotos") == []


def test_the_browsers_measures_are_the_quality_checks_own(live_tab, warm_app):
    """The port of core.quality in live-camera.js gives the same measures and findings on real photographs."""
    from core import quality
    from core.aiming import browser_limits
    from core.testmodels.photos import labelled_set

    page = live_tab()
    open_page(page, warm_app, DESCRIBE)
    wait_until(page, "() => !!window.SeeSayLive", "the live camera's script did not load")
    limits = browser_limits()
    photos = labelled_set()[::9]  # 40 photos: untouched, blurred, dark, bright, featureless, small
    assert {p.kind for p in photos} >= {None, "blurred", "dark", "bright", "featureless"}
    for photo in photos:
        grey = quality._working_copy(photo.image)
        expected = quality.check_quality(photo.image)
        rgba = np.asarray(grey.convert("RGBA"), dtype=np.uint8)
        got = page.evaluate(
            """([data, w, h, limits]) => {
                 const bin = atob(data), px = new Uint8ClampedArray(bin.length);
                 for (let i = 0; i < bin.length; i++) { px[i] = bin.charCodeAt(i); }
                 const {measures} = window.SeeSayLive.measure(px, w, h, limits);
                 return {measures, findings: window.SeeSayLive.findings(measures, false, limits)};
               }""", [base64.b64encode(rgba.tobytes()).decode(), grey.width, grey.height, limits])
        for name in ("brightest", "darkest", "clipped", "detail", "blur"):
            assert got["measures"][name] == pytest.approx(expected.measures[name], abs=1e-4), (photo.name, name)
        kinds = [k for k in (f.kind for f in expected.findings) if k != "small"]
        assert [{"glare": "bright", "nothing": "featureless"}.get(k, k) for k in got["findings"]] == kinds, photo.name


def test_take_photo_now_takes_it_at_once_and_the_quality_check_speaks_first(live_tab, warm_app):
    page = live_tab()
    open_page(page, warm_app, DESCRIBE)
    before = len(live_region_log(page))
    toggle = open_live_view(page, via_keyboard=True)
    page.keyboard.press("Tab")  # from the toggle to Take photo now
    assert page.evaluate("document.activeElement.textContent") == LABELS["take"]
    page.keyboard.press("Enter")  # during the clip's first shot: too dark
    said = wait_for_announcement(page, "Photo received.", before)
    photos = page.evaluate("window.__livePhotos")
    assert len(photos) == 1 and not photos[0]["auto"], photos
    # The view closed and focus went back to the toggle, not to the top of the page.
    assert toggle.evaluate("el => el === document.activeElement") and toggle.get_attribute("aria-pressed") == "false"
    # The photo went down SeeSay's photo path: the quality check's guidance comes before any answer.
    wait_until(page, "(after) => window.__liveLog.slice(after).some(t => t.startsWith('The photo is too dark.'))",
               "the quality check's guidance was not said", timeout=60_000, arg=before)
    assert in_order(live_region_log(page)[before:], MESSAGES["taken"], "Photo received."), said
    page.get_by_role("button", name="Describe anyway").wait_for()


def test_the_sharpness_tone_set_in_settings_rises_as_the_picture_gets_sharper(live_tab, warm_app):
    page = live_tab()
    open_page(page, warm_app, SETTINGS)
    page.get_by_role("switch", name="Sharpness tone").locator("xpath=ancestor::label").click()
    settle(page)
    go_to(page, DESCRIBE)
    before = len(live_region_log(page))
    open_live_view(page)
    wait_for_announcement(page, MESSAGES["taken"], before, timeout=60_000)
    beeps = [round(b) for b in page.evaluate("window.__beeps")]
    # too dark: the lowest pitch (220 Hz); blurred: a little higher; cut off, then good (sharp): highest.
    # (A frame where the picture jumps is judged moving, not sharp, and beeps low: only first times count.)
    first = {name: next((i for i, b in enumerate(beeps) if test(b)), None) for name, test in
             (("dark", lambda b: b == 220), ("blurred", lambda b: 250 < b < 450), ("sharp", lambda b: b > 600))}
    assert None not in first.values() and first["dark"] < first["blurred"] < first["sharp"], beeps
    assert beeps[-1] > 600, beeps  # the last beep before the photo was taken: a sharp picture
