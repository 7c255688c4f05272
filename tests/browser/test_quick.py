"""Quick questions in a real browser: one press (or Enter from the keyboard) asks a whole question;
"Read the text" is answered by the text reader, word for word; every step is announced."""

from __future__ import annotations

import pytest
from browserkit import (
    LAST_ANSWER,
    PAGES,
    axe_violations,
    format_violations,
    live_region_log,
    open_page,
    settle,
    small_targets,
    tab_walk,
    unnamed_controls,
    upload_photo,
    wait_for_announcement,
)

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES
LABELS = ["Describe the photo", "Read the text", "What colours?", "Who is there?", "What is ahead?"]


@pytest.fixture(scope="module")
def medicine_label(tmp_path_factory):
    from core.testmodels.labels import samples

    sample = next(s for s in samples(["clean"]) if s.kind == "label")
    path = tmp_path_factory.mktemp("label") / "label.png"
    sample.image.save(path)
    return path, sample.truth


def test_read_the_text_from_the_keyboard(new_tab, warm_app, medicine_label):
    path, truth = medicine_label
    page = new_tab()
    open_page(page, warm_app, ASK)
    upload_photo(page, path)
    stops, ended = tab_walk(page)
    names = [s.name.split("\n")[0] for s in stops]
    assert ended and all(label in names for label in LABELS), names  # every quick question is a tab stop
    after = len(live_region_log(page))
    page.get_by_role("button", name="Read the text").focus()
    page.keyboard.press("Enter")
    said = wait_for_announcement(page, "Answer ready.", after)
    settle(page)
    assert said[0] == "Thinking…", said
    answer = page.locator(LAST_ANSWER).inner_text()
    for line in ("Ibuprofen 200 mg", "Take 1 or 2 tablets"):
        assert line in " ".join(answer.split()), answer  # the reader's words, not a paraphrase
    assert "Read the text" in page.locator(".seesay-question").last.inner_text()
    assert not unnamed_controls(page), unnamed_controls(page)
    assert not small_targets(page), small_targets(page)
    violations = axe_violations(page)
    assert not violations, format_violations(violations)


def test_on_the_describe_page_a_quick_question_follows_the_description(new_tab, warm_app, media):
    page = new_tab("Pixel 7")
    open_page(page, warm_app, DESCRIBE)
    after = len(live_region_log(page))
    upload_photo(page, media.street_jpeg)
    wait_for_announcement(page, "Answer ready.", after)
    settle(page)
    after = len(live_region_log(page))
    page.get_by_role("button", name="What colours?").click()
    said = wait_for_announcement(page, "Answer ready.", after)
    settle(page)
    assert "Thinking…" in said and said.index("Thinking…") < said.index("Answer ready."), said
    assert page.get_by_role("heading", name="What colours?").count() == 1
    assert page.locator(".seesay-answer").count() == 2  # the description, then the colours
    violations = axe_violations(page)
    assert not violations, format_violations(violations)
