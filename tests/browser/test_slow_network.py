"""A phone on mobile data: the photo is still uploading when the question is asked.

Chromium's own network emulation (DevTools protocol) slows the upload to 150 KB/s; a 2 MB photo then
takes about 14 seconds to arrive, and the question is typed and sent right after the photo is chosen.
SeeSay keeps the question and answers it as soon as the photo is there.
"""

from __future__ import annotations

import io
import random

import pytest
from browserkit import LAST_ANSWER, PAGES, live_region_log, open_page, settle, wait_for_announcement

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES
QUESTION = "What is written on the door?"
UPLOAD_BYTES_PER_SECOND = 150 * 1024


def big_photo(path, size_bytes: int = 2_000_000) -> None:
    """A JPEG of about ``size_bytes``: a drawing with grain (camera noise does not compress)."""
    from PIL import Image, ImageDraw

    rng = random.Random(7)
    image = Image.new("RGB", (1800, 1350), (120, 160, 200))
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rng.randrange(1800), rng.randrange(1350)
        draw.rectangle((x, y, x + rng.randrange(20, 200), y + rng.randrange(20, 200)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    grain = Image.merge("RGB", [Image.effect_noise((1800, 1350), 60) for _ in range(3)])
    image = Image.blend(image, grain, 0.35)
    quality = 95
    while True:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= size_bytes * 1.25 or quality <= 50:
            break
        quality -= 5
    path.write_bytes(buffer.getvalue())


def test_a_question_sent_while_the_photo_uploads_is_answered_when_it_arrives(new_tab, warm_app, tmp_path):
    photo = tmp_path / "slow-photo.jpg"
    big_photo(photo)
    assert photo.stat().st_size > 1_500_000
    page = new_tab()
    open_page(page, warm_app, ASK)
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 150, "downloadThroughput": -1,
        "uploadThroughput": UPLOAD_BYTES_PER_SECOND})
    log = len(live_region_log(page))

    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(photo))
    box = page.get_by_role("textbox", name="Or type your question")
    box.fill(QUESTION)
    box.press("Enter")

    said = wait_for_announcement(page, "Answer ready.", log, timeout=180_000)
    network.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    settle(page)
    # The question came first and was kept; nothing said there was no photo.
    kept = [i for i, text in enumerate(said) if text.startswith("Your question is kept")]
    assert kept, f"the question was not kept while the photo uploaded: {said}"
    assert not any("no photo" in text.lower() for text in said), said
    assert kept[0] < said.index("Photo received.") < said.index("Answer ready."), said
    # It is answered, as the person asked it.
    asked = page.locator(".seesay-question").last.inner_text()
    assert QUESTION in asked, asked
    assert page.locator(LAST_ANSWER).inner_text().strip()
    assert page.get_by_role("alert").count() == 0
