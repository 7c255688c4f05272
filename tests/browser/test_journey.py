"""The whole journey in a real browser, as a person takes it.

A photo from the (fake) camera, then one from the uploader; a question said into the (fake)
microphone, heard by real Whisper tiny.en; the answer shown, spoken, stopped and spoken again
faster; a typed follow-up; the History page replays, deletes and downloads. The models have
random weights, so nothing here looks at what the answers say, only that they come, are spoken
and are kept.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from browserkit import (
    LAST_ANSWER,
    PAGES,
    PLAYER_AUDIO,
    ask_typed,
    audio_events,
    audio_state,
    axe_violations,
    format_violations,
    go_to,
    live_region_log,
    open_page,
    settle,
    small_targets,
    unnamed_controls,
    upload_photo,
    wait_for_announcement,
    wait_for_playing,
    wait_until,
    wer,
    words,
)

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES
FOLLOW_UP = "Is it parked on the road?"


def answer_text(page) -> str:
    return page.locator(LAST_ANSWER).inner_text().strip()


def flat(text: str) -> str:
    return " ".join(text.split())


def in_order(said: list[str], *expected: str) -> bool:
    """``expected`` appear in ``said`` in this order (other messages may come between)."""
    position = 0
    for message in said:
        if position < len(expected) and message == expected[position]:
            position += 1
    return position == len(expected)


def test_photo_question_answer_history(new_tab, warm_app, media, tmp_path):
    page = new_tab()
    open_page(page, warm_app, DESCRIBE)

    # --- 1. A photo from the camera: described out loud ------------------------------------------
    log, events = len(live_region_log(page)), len(audio_events(page))
    page.get_by_role("button", name="Take photo").click()
    said = wait_for_announcement(page, "Answer ready.", log)
    settle(page)
    assert in_order(said, "Photo received.", "Thinking…", "Answer ready."), said
    camera_description = answer_text(page)
    assert camera_description, "the camera photo got no description"
    # The photo's text alternative is its description.
    assert page.get_by_role("img", name=f"Photo: {camera_description}", exact=False).count() == 1
    wait_for_playing(page, events)  # the description is spoken

    # --- 2. A photo from the uploader: a new conversation, described ------------------------------
    log = len(live_region_log(page))
    upload_photo(page, media.street_jpeg)
    wait_for_announcement(page, "Answer ready.", log)
    settle(page)
    assert answer_text(page), "the uploaded photo got no description"
    assert page.get_by_role("heading", name="Short description").count() == 1  # only this photo's

    # --- 3. A question into the microphone -------------------------------------------------------
    page.get_by_role("link", name="Ask a question about this photo").click()
    page.get_by_role("heading", level=1, name=ASK.title).wait_for()
    settle(page)
    page.get_by_role("heading", name="Your photo").wait_for()  # the photo came along
    log, events = len(live_region_log(page)), len(audio_events(page))
    page.get_by_role("button", name="Record your question").click()
    stop_recording = page.get_by_role("button", name="Stop recording")
    stop_recording.wait_for()
    page.wait_for_timeout(4_000)  # 0.5 s of quiet, the question (1.5 s), some quiet
    stop_recording.click()
    said = wait_for_announcement(page, "Answer ready.", log)
    assert in_order(said, "Recording received. Listening…", "Thinking…", "Answer ready."), said

    # The transcript is what the microphone said (real Whisper tiny.en).
    question = page.locator(".seesay-question").last
    question.wait_for()
    heard = re.sub(r"^You asked:\s*", "", question.inner_text().strip())
    assert wer(media.question, heard) <= 0.3, f"heard {heard!r} for {media.question!r}"
    assert {"color", "car"} <= set(words(heard)), heard
    # The answer is shown and is being spoken by the one persistent player.
    page.locator(LAST_ANSWER).wait_for()
    voice_answer = answer_text(page)
    assert voice_answer
    playing = wait_for_playing(page, events)
    assert playing["rate"] == 1
    state = audio_state(page)
    assert state["paused"] is False and state["time"] > 0, state
    settle(page)
    # Its recording is described in words next to its picture.
    assert "speech heard" in page.get_by_text("Your last recording:").inner_text()
    # The recorder, now holding a recording, shows more buttons: all named.
    assert not unnamed_controls(page), unnamed_controls(page)
    assert page.get_by_role("button", name="Play your recording", exact=True).count() == 1

    # --- 4. Stop speaking ----------------------------------------------------------------------------
    page.get_by_role("button", name="Stop speaking").click()
    state = audio_state(page)
    assert state["paused"] is True, state
    events = len(audio_events(page))
    page.wait_for_timeout(1_000)
    assert audio_state(page)["paused"] is True
    assert not [e for e in audio_events(page)[events:] if e["type"] == "playing"], "it started again"
    wait_for_announcement(page, "Stopped.", log)  # said after what was still queued (how sure SeeSay is)

    # --- 5. A faster speech rate, heard on "Play answer again" ------------------------------------------
    go_to(page, SETTINGS)
    page.get_by_role("radiogroup", name="Speech speed").get_by_text("1.5x").click()
    settle(page)
    wait_until(page, f"() => document.querySelector('{PLAYER_AUDIO}').playbackRate === 1.5",
               "the player's speed did not change to 1.5")
    state = audio_state(page)
    assert (state["rate"], state["defaultRate"], state["preservesPitch"]) == (1.5, 1.5, True), state
    events = len(audio_events(page))
    page.get_by_role("button", name="Play answer again").click()
    replayed = wait_for_playing(page, events)
    assert replayed["rate"] == 1.5, replayed
    assert audio_state(page)["paused"] is False
    page.get_by_role("button", name="Stop speaking").click()
    assert audio_state(page)["paused"] is True

    # --- 6. A typed follow-up about the same photo ----------------------------------------------------
    go_to(page, ASK)
    events = len(audio_events(page))
    said = wait_for_announcement(page, "Answer ready.", ask_typed(page, FOLLOW_UP))
    assert in_order(said, "Thinking…", "Answer ready."), said
    assert page.get_by_role("heading", name="Question 2").count() == 1, "the follow-up is not question 2"
    assert page.get_by_text(f"You asked: {FOLLOW_UP}").count() == 1
    follow_up_answer = answer_text(page)
    assert follow_up_answer
    assert wait_for_playing(page, events)["rate"] == 1.5  # the new speed holds for new answers
    page.get_by_role("button", name="Stop speaking").click()

    # --- 7. History: both questions listed, one replayed, one deleted, downloaded -----------------------
    go_to(page, HISTORY)
    main = page.locator("[data-testid=stMain]")
    assert page.get_by_role("heading", name=re.compile(r"^\d+\. A question at")).count() == 2
    assert page.get_by_role("heading", name=re.compile(r"^\d+\. A description at")).count() == 2
    assert main.get_by_text(f"You asked: {heard}").count() == 1
    assert main.get_by_text(f"You asked: {FOLLOW_UP}").count() == 1
    shown_answers = [flat(a) for a in main.locator(".seesay-answer").all_inner_texts()]
    assert shown_answers == [flat(camera_description), shown_answers[1], flat(voice_answer),
                             flat(follow_up_answer)]

    # Replay the spoken question's answer with its own Play control.
    controls = main.locator("audio[data-testid=stAudio]")
    assert controls.count() == 4
    replay = controls.nth(2)
    assert replay.get_attribute("aria-label").startswith("Play the answer")
    replay.scroll_into_view_if_needed()
    box = replay.bounding_box()
    events = len(audio_events(page))
    page.mouse.click(box["x"] + 20, box["y"] + box["height"] / 2)  # the native Play button
    wait_until(page, """(after) => window.__audioEvents.slice(after).some(
                          e => e.type === 'playing' && e.label.startsWith('Play the answer'))""",
               "the answer's own Play control did not play", arg=events)
    assert replay.evaluate("a => !a.paused && a.currentTime >= 0")
    replay.evaluate("a => a.pause()")

    # Delete the first entry (the camera photo's description).
    log = len(live_region_log(page))
    main.get_by_role("button", name="Delete this question and answer").first.click()
    wait_for_announcement(page, "Deleted that question and answer.", log)
    settle(page)
    assert main.get_by_role("button", name="Delete this question and answer").count() == 3
    remaining = [flat(a) for a in main.locator(".seesay-answer").all_inner_texts()]
    assert remaining == shown_answers[1:]

    # Download: the web page and the data, with the remaining three and not the deleted one.
    with page.expect_download() as download:
        main.get_by_role("button", name="Download as a web page (HTML)").click()
    assert download.value.suggested_filename.endswith(".html")
    document = (tmp_path / "history.html")
    download.value.save_as(document)
    text = flat(html.unescape(re.sub(r"<[^>]+>", " ", document.read_text(encoding="utf-8"))))
    for expected in (f"You asked: {heard}", f"You asked: {FOLLOW_UP}", *remaining):
        assert flat(expected) in text, f"{expected!r} is not in the downloaded page"
    assert text.count("You asked:") == 3

    with page.expect_download() as download:
        main.get_by_role("button", name="Download as data (JSON)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert [e["kind"] for e in data["entries"]] == ["describe", "voice", "typed"]
    assert [e["question"] for e in data["entries"]][1:] == [heard, FOLLOW_UP]
    assert [flat(e["answer"]) for e in data["entries"]] == remaining
    assert len(data["photos"]) == 1  # the camera photo went with its only entry


def test_with_automatic_speech_off_an_answer_is_spoken_only_when_asked(new_tab, warm_app, media):
    """No speech is made unasked; "Play answer again" does not replay an older answer in its place;
    "Speak this answer" speaks it, and the speech is kept for "Play answer again"."""
    page = new_tab()
    open_page(page, warm_app, SETTINGS)
    page.get_by_role("switch", name="Speak answers automatically").locator("xpath=ancestor::label").click()
    settle(page)
    go_to(page, ASK)
    upload_photo(page, media.car_png)
    events = len(audio_events(page))
    wait_for_announcement(page, "Answer ready.", ask_typed(page, "What colour is the car?"))
    page.wait_for_timeout(1_000)
    spoken = [e for e in audio_events(page)[events:] if e["type"] == "playing" and e["duration"] > 0.3]
    assert not spoken, f"something was spoken by itself: {spoken}"
    after = len(live_region_log(page))
    page.get_by_role("button", name="Play answer again").click()
    wait_for_announcement(page, "This answer has no sound yet. Use Speak this answer, below it.", after)

    page.get_by_role("button", name="Speak this answer").click()
    wait_for_playing(page, events)
    settle(page)
    page.get_by_role("button", name="Stop speaking").click()
    assert audio_state(page)["paused"] is True
    events = len(audio_events(page))
    page.get_by_role("button", name="Play answer again").click()
    wait_for_playing(page, events)
    assert page.get_by_role("button", name="Speak this answer").count() == 1  # still there, to say it again
    # The new control meets the same bar as the rest of the page.
    assert not small_targets(page), small_targets(page)
    assert not unnamed_controls(page), unnamed_controls(page)
    violations = axe_violations(page)
    assert not violations, format_violations(violations)
