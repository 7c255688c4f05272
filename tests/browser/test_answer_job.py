"""An answer is written apart from the page: a click while it is written loses nothing, and each
status is said once.

Two servers of their own: one freshly started (no model loaded yet, as after a restart), and one
whose tiny model writes long answers (300 tokens: several seconds, time for a click in the middle).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from browserkit import (
    LAST_ANSWER,
    PAGES,
    audio_events,
    audio_state,
    go_to,
    live_region_log,
    open_page,
    settle,
    upload_photo,
    wait_for_announcement,
    wait_until,
)
from conftest import _keep_screenshots, running_seesay, server_env, warm

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES
LOADING = "Loading the models first. This can take a few minutes."
LONG_ANSWER_TOKENS = 200


@pytest.fixture(scope="module")
def fresh_server(test_models, tmp_path_factory):
    """A SeeSay just started: nothing loaded, nobody has opened it yet."""
    with running_seesay(server_env(test_models), tmp_path_factory.mktemp("fresh-server")) as url:
        yield url


@pytest.fixture(scope="module")
def long_answers(test_models, tmp_path_factory, chromium):
    """A warm SeeSay whose answers take several seconds to write (the random-weight model writes
    every token it may)."""
    env = server_env(test_models, SEESAY_MAX_ANSWER_TOKENS=str(LONG_ANSWER_TOKENS),
                     SEESAY_DETAIL_ANSWER_TOKENS=str(LONG_ANSWER_TOKENS))
    with running_seesay(env, tmp_path_factory.mktemp("long-answers")) as url:
        yield warm(chromium, url)


@pytest.fixture
def page(any_context, request):
    """A tab of its own (for any server); a picture of it is kept if the test fails."""
    context = any_context()
    page = context.new_page()
    yield page
    _keep_screenshots(request, [page])
    context.close()


def type_question(page, question: str) -> None:
    box = page.get_by_role("textbox", name="Or type your question")
    box.fill(question)
    box.press("Enter")


def repeated(said: list[str]) -> list[str]:
    """Texts the live region said twice in a row."""
    return [a for a, b in zip(said, said[1:]) if a == b]


def test_on_a_fresh_server_each_status_is_said_once_in_order(page, fresh_server, media):
    open_page(page, fresh_server, ASK, timeout=300_000)
    after = len(live_region_log(page))
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(media.car_png))
    wait_for_announcement(page, "Photo received.", after)
    # The first typed question comes while the models are still loading.
    type_question(page, "What colour is the car?")
    wait_for_announcement(page, "Answer ready.", after, timeout=300_000)
    page.wait_for_timeout(3_000)  # anything said after it would be in the log by now
    said = live_region_log(page)[after:]
    assert not repeated(said), f"said twice in a row: {repeated(said)} in {said}"
    statuses = ["Photo received.", LOADING, "Thinking…", "Answer ready."]
    assert [s for s in said if s in statuses] == statuses, said
    assert len(said) == 5 and said[4].startswith("SeeSay") and "sure" in said[4], said


def wait_for_partial_answer(page, log: int) -> str:
    """Wait until the answer is on its way (some of its words on the page, not ready yet); returns
    the words so far."""
    wait_until(page, "() => [...document.querySelectorAll('.seesay-answer')].some(a => a.textContent.trim())",
               "no answer started", timeout=120_000)
    partial = page.locator(".seesay-answer").last.inner_text().strip()
    assert "Answer ready." not in live_region_log(page)[log:], (
        f"the answer was whole before the click: make LONG_ANSWER_TOKENS ({LONG_ANSWER_TOKENS}) larger")
    return partial


def open_link(page, target) -> None:
    """Follow the sidebar link to ``target`` and wait for its title, not for its run to end: while an
    answer is written, the page's run follows it to the end."""
    expand = page.locator("[data-testid=stExpandSidebarButton]")
    if expand.is_visible():
        expand.click()
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=target.link, exact=True).click()
    page.get_by_role("heading", level=1, name=target.title).wait_for()


def history_answers(page, log: int) -> list[str]:
    """The answers the History page lists, once it lists one (``log``: where the question began in the
    live region's log, for the message when it does not)."""
    try:
        page.get_by_role("heading", name=re.compile(r"^\d+\. A question at")).first.wait_for(timeout=300_000)
    except PlaywrightError as error:
        shown = page.locator("[data-testid=stMain]").inner_text()[-1500:]
        raise AssertionError(f"History never listed the answer; SeeSay said {live_region_log(page)[log:]}; "
                             f"the page shows:\n{shown}") from error
    settle(page)
    return [" ".join(a.split()) for a in
            page.locator("[data-testid=stMain] .seesay-answer").all_inner_texts()]


def test_stop_speaking_stops_the_voice_not_the_answer(page, long_answers, media):
    open_page(page, long_answers, ASK)
    upload_photo(page, media.car_png)
    log = len(live_region_log(page))
    type_question(page, "What is in the photo?")
    partial = wait_for_partial_answer(page, log)
    page.get_by_role("button", name="Stop speaking").click()
    stopped = len(audio_events(page))
    said = wait_for_announcement(page, "Answer ready.", log, timeout=180_000)
    settle(page)
    page.wait_for_timeout(2_000)  # a clip sent with the end of the answer would be playing by now
    # The answer went on and is whole; its voice did not start again by itself.
    answer = " ".join(page.locator(LAST_ANSWER).inner_text().split())
    assert answer.startswith(" ".join(partial.split())) and len(answer) > len(partial), (partial, answer)
    spoken = [e for e in audio_events(page)[stopped:] if e["type"] == "playing" and e["duration"] > 0.3]
    assert not spoken, f"the voice started again after Stop speaking: {spoken}"
    assert said.count("Answer ready.") == 1, said
    # Its speech was kept: Play answer again says it.
    before = len(audio_events(page))
    page.get_by_role("button", name="Play answer again").click()
    wait_until(page, """(after) => window.__audioEvents.slice(after).some(
                          e => e.type === 'playing' && e.id === 'seesay-audio' && e.duration > 0.3)""",
               "Play answer again did not play the stopped answer", arg=before)
    page.get_by_role("button", name="Stop speaking").click()
    go_to(page, HISTORY)
    assert history_answers(page, log) == [answer]


def test_another_page_and_a_setting_while_an_answer_is_written_lose_nothing(page, long_answers, media):
    open_page(page, long_answers, ASK)
    upload_photo(page, media.car_png)
    log = len(live_region_log(page))
    type_question(page, "What is in the photo?")
    partial = " ".join(wait_for_partial_answer(page, log).split())
    open_link(page, SETTINGS)  # another page, while the answer is written
    page.get_by_role("radiogroup", name="Speech speed").get_by_text("1.25x").click()  # and a setting
    wait_until(page, "() => document.getElementById('seesay-audio').playbackRate === 1.25",
               "the new speech speed did not reach the player")
    assert "Answer ready." not in live_region_log(page)[log:], (
        f"the answer was whole before the setting changed: make LONG_ANSWER_TOKENS "
        f"({LONG_ANSWER_TOKENS}) larger")
    open_link(page, HISTORY)
    if "Answer ready." not in live_region_log(page)[log:]:
        page.get_by_text("SeeSay is still writing an answer.", exact=False).wait_for()
    answers = history_answers(page, log)  # the page lists it as soon as it is ready, by itself
    assert len(answers) == 1 and answers[0].startswith(partial) and len(answers[0]) > len(partial), \
        (partial, answers)
    said = live_region_log(page)[log:]
    assert said.count("Answer ready.") == 1 and said.count("Thinking…") == 1, said
    # Its voice was heard wherever the person was, at the speed chosen meanwhile.
    wait_until(page, """() => window.__audioEvents.some(e => e.type === 'playing' && e.id === 'seesay-audio'
                                                         && e.duration > 0.3)""", "the answer was not spoken")
    assert audio_state(page)["rate"] == 1.25
    go_to(page, ASK)
    answer = " ".join(page.locator(LAST_ANSWER).inner_text().split())
    assert answer == answers[0]  # the conversation has it too
