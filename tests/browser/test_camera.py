"""The camera in a real browser: the back lens first, a named Switch camera control, a named camera.

What the page asks ``getUserMedia`` for is recorded before the app loads (browserkit.RECORD_EVENTS),
so these tests see the constraints exactly as the browser receives them.
"""

from __future__ import annotations

import pytest
from browserkit import PAGES, axe_violations, format_violations, open_page, small_targets, unnamed_controls

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES


def facing(page) -> list[str]:
    """The lens each camera request asked for, in order."""
    requests = page.evaluate("window.__cameraRequests")
    return [r["video"].get("facingMode") for r in requests if isinstance(r.get("video"), dict)]


@pytest.mark.parametrize("device", ["Pixel 7", "iPhone 14"])
def test_on_a_phone_the_camera_opens_on_the_back_lens_and_can_switch(new_tab, warm_app, device):
    page = new_tab(device)
    open_page(page, warm_app, DESCRIBE)
    asked = facing(page)
    assert asked and set(asked) == {"environment"}, asked  # never the selfie lens first
    camera = page.get_by_role("group", name="Camera")
    assert camera.count() == 1  # the visible label is heard
    switch = camera.get_by_role("button", name="Switch camera")
    assert switch.count() == 1 and camera.get_by_role("button", name="Take photo").count() == 1
    switch.click()
    page.wait_for_function("window.__cameraRequests.length > %d" % len(asked))
    assert facing(page)[-1] == "user"  # the front lens, when asked for
    page.get_by_role("button", name="Switch camera").click()
    page.wait_for_function("window.__cameraRequests.length > %d" % (len(asked) + 1))
    assert facing(page)[-1] == "environment"
    assert not unnamed_controls(page), unnamed_controls(page)
    assert not [t for t in small_targets(page) if "Switch camera" in t.get("name", "")]
    violations = axe_violations(page)
    assert not violations, format_violations(violations)


@pytest.mark.parametrize("target", [DESCRIBE, ASK], ids=lambda p: p.key)
def test_on_a_computer_the_camera_is_named_and_asks_for_the_back_lens(new_tab, warm_app, target):
    page = new_tab()
    open_page(page, warm_app, target)
    assert set(facing(page)) == {"environment"}  # one webcam: the browser uses it anyway
    camera = page.get_by_role("group", name="Camera")
    assert camera.count() == 1 and camera.get_by_role("button", name="Take photo").count() == 1
    assert page.get_by_role("button", name="Switch camera").count() == 0  # Streamlit offers it on phones only
