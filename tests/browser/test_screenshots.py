"""Pictures of every page for the README: docs/screenshots/PAGE-desktop.png and PAGE-phone.png.

Taken during a real visit (a photo from the fake camera, described; a typed question, answered),
so the pages show what a person sees, answers included. Each picture is the whole page, top to
bottom, at 1 image pixel per CSS pixel. The models have random weights: the answers are nonsense
words, which the README says.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from browserkit import PAGES, ask_typed, go_to, live_region_log, open_page, settle, wait_for_announcement

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES
OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": None, "phone": "Pixel 7"}
MAX_HEIGHT = 2400  # CSS px: the longest pages are cut here


def shoot(page, path) -> bytes:
    """The whole page (SeeSay's content scrolls inside Streamlit's main area, so the window is
    made as tall as the content for the picture, then put back)."""
    size = page.viewport_size
    # No hover or focus styles in the picture: the pointer rests at the bottom right.
    page.mouse.move(size["width"] - 2, size["height"] - 2)
    page.evaluate("""() => { document.activeElement && document.activeElement.blur();
                            document.querySelector('[data-testid=stMain]').scrollTop = 0; }""")
    height = page.evaluate("""() => {
        const bar = document.getElementById('seesay-player').getBoundingClientRect().height;
        return Math.ceil(document.querySelector('[data-testid=stMain]').scrollHeight + bar);
    }""")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, MAX_HEIGHT))})
    try:
        page.wait_for_timeout(300)  # layout after the resize
        return page.screenshot(path=str(path), scale="css", animations="disabled", caret="hide")
    finally:
        page.set_viewport_size(size)


@pytest.mark.parametrize("size", SIZES)
def test_screenshots_of_every_page(new_tab, warm_app, size):
    from PIL import Image

    OUT.mkdir(parents=True, exist_ok=True)
    page = new_tab(SIZES[size])
    width = page.viewport_size["width"]
    open_page(page, warm_app, DESCRIBE)
    after = len(live_region_log(page))
    page.get_by_role("button", name="Take photo").click()
    wait_for_announcement(page, "Answer ready.", after)
    settle(page)
    go_to(page, ASK)
    ask_typed(page, "What colour is the car?")
    page.get_by_role("button", name="Stop speaking").click()

    for target in (ASK, HISTORY, SETTINGS, HOME, DESCRIBE):  # on the Ask page now
        if target is not ASK:
            go_to(page, target)
        if target in (DESCRIBE, ASK, HISTORY):
            page.locator(".seesay-answer").first.wait_for()
        page.get_by_role("heading", level=1, name=target.title).wait_for()
        png = shoot(page, OUT / f"{target.key}-{size}.png")
        image = Image.open(io.BytesIO(png)).convert("RGB")
        assert image.width == width
        assert image.height >= page.viewport_size["height"]
        # A drawn page, not a blank or half-loaded one: many colours (text, photo, player bar).
        assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50, target.key
