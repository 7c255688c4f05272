"""Accessibility of every page in a real browser (WCAG 2.2 AA).

axe-core checks each page in light and dark, on a desktop window, two phone profiles and a
320 px wide window. Then what axe cannot see: every control's accessible name in Chromium's
accessibility tree (Streamlit's camera and recorder buttons lose theirs), the heading outline,
44 px targets, reflow, the keyboard (reach, order, visible focus, no trap), what the live region
says while a question is answered, and the language of an answer in Spanish. The same checks run
again on pages full of answers, and with SeeSay's own high contrast and larger text.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from browserkit import (
    LAST_ANSWER,
    PAGES,
    Page,
    ask_typed,
    axe_violations,
    format_violations,
    go_to,
    heading_levels,
    heading_skips,
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
SPANISH_QUESTION = "¿De qué color es el coche?"

#: name -> (Playwright device, extra context options)
PROFILES = {
    "desktop": (None, {}),
    "pixel-7": ("Pixel 7", {}),
    "iphone-14": ("iPhone 14", {}),
    # WCAG 1.4.10: content reflows at 320 CSS px (a 1280 px window at 400% zoom).
    "narrow-320": (None, {"viewport": {"width": 320, "height": 640}}),
}
VIEWS = [(target, profile, theme) for target in PAGES for profile in PROFILES
         for theme in (("light",) if profile == "narrow-320" else ("light", "dark"))]


@dataclass
class View:
    target: Page
    profile: str
    theme: str
    page: object  # playwright Page


@pytest.fixture(scope="module", params=VIEWS, ids=lambda v: f"{v[0].key}-{v[1]}-{v[2]}")
def view(request, shared_tab, warm_app) -> View:
    """One page in one profile and theme, loaded once for all the checks below."""
    target, profile, theme = request.param
    device, options = PROFILES[profile]
    page = shared_tab(device, theme, **options)
    open_page(page, warm_app, target)
    return View(target, profile, theme, page)


def background_is_dark(page) -> bool:
    rgb = page.locator("[data-testid=stApp]").evaluate(
        "e => getComputedStyle(e).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)")
    return sum(rgb) / 3 < 128


# --- checks, used on the plain pages and again on pages full of answers ------------------------


def axe_problems(page) -> str:
    return format_violations(axe_violations(page))


def name_problems(page) -> str:
    missing = unnamed_controls(page)
    return "\n".join(f"{m['role']} without a name: {m['html']}" for m in missing)


def heading_problems(page) -> str:
    levels = heading_levels(page)
    problems = heading_skips(levels)
    if [level for level, _ in levels].count(1) != 1:
        problems.append(f"{[level for level, _ in levels].count(1)} h1 headings, not one")
    return "\n".join(problems)


def target_problems(page) -> str:
    return "\n".join(f"{t['tag']} {t['testid']} {t['name']!r}: {t['width']} x {t['height']} px"
                     for t in small_targets(page))


def reflow_problems(page) -> str:
    """Nothing wider than the window: no sideways scrolling to read a line (WCAG 1.4.10)."""
    widths = page.evaluate("""() => {
        const main = document.querySelector('[data-testid=stMain]');
        return {page: document.documentElement.scrollWidth, window: window.innerWidth,
                main: main.scrollWidth, mainBox: main.clientWidth};
    }""")
    problems = []
    if widths["page"] > widths["window"] + 1:
        problems.append(f"the page is {widths['page']} px wide in a {widths['window']} px window")
    if widths["main"] > widths["mainBox"] + 1:
        problems.append(f"the content is {widths['main']} px wide in a {widths['mainBox']} px column")
    return "\n".join(problems)


def keyboard_problems(page) -> str:
    stops, ended = tab_walk(page)
    names = [s.name.split("\n")[0] for s in stops]
    problems = []
    if not ended:
        problems.append(f"Tab never came back round (focus trapped?): {names[-10:]}")
    if "Stop speaking" not in names[:3]:
        problems.append(f"Stop speaking is not among the first three stops: {names[:5]}")
    elif names[names.index("Stop speaking") + 1] != "Play answer again":
        problems.append("Play answer again does not follow Stop speaking")
    for s in stops:
        if not s.indicated:
            problems.append(f"no visible focus on {s.tag} {s.name[:40]!r}")
        if not s.on_screen:
            problems.append(f"focus on {s.tag} {s.name[:40]!r}, which is off screen or under the player bar")
    in_main = [s for s in stops if s.in_main]
    for before, after in itertools.pairwise(in_main):
        if after.top < before.top - 4:  # the order goes back up the page
            problems.append(f"{after.name[:30]!r} comes after {before.name[:30]!r} but is above it")
    unreached = page.evaluate(_UNREACHED)
    problems += [f"cannot be reached with Tab: {u}" for u in unreached]
    return "\n".join(problems)


# Controls a person can see and use but the Tab walk never reached (window.__tabKeys).
_UNREACHED = """
() => {
  const kit = window.__kit, reached = window.__tabKeys || new Map(), out = [];
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, audio[controls], ' +
                   '[tabindex]:not([tabindex="-1"]), [contenteditable=true]';
  for (const el of document.querySelectorAll(selector)) {
    if (el.disabled || el.tabIndex < 0 || kit.hidden(el) || reached.has(el)) { continue; }
    const label = kit.label(el);
    if (!kit.shown(el) && !(label && kit.shown(label))) { continue; }
    if (el.closest('[data-testid=stSidebar][data-collapsed=true]')) { continue; }
    out.push(`${el.tagName.toLowerCase()} ${(el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40)}`);
  }
  return out;
}
"""

CHECKS = {"axe": axe_problems, "names": name_problems, "headings": heading_problems,
          "targets": target_problems, "reflow": reflow_problems, "keyboard": keyboard_problems}


def all_problems(page, checks=CHECKS) -> str:
    report = []
    for name, check in checks.items():
        found = check(page)
        if found:
            report.append(f"[{name}]\n{found}")
    return "\n".join(report)


# --- every page, every profile, both themes ----------------------------------------------------


def fail_on(problems: str) -> None:
    """Fail with the whole list of problems (an assert would shorten it)."""
    if problems:
        pytest.fail(problems, pytrace=False)


def test_theme_is_applied(view):
    # Otherwise the dark runs would check the light theme twice.
    assert background_is_dark(view.page) == (view.theme == "dark")


def test_axe_finds_no_violations(view):
    fail_on(axe_problems(view.page))


def test_every_control_has_a_name(view):
    fail_on(name_problems(view.page))
    # Streamlit names the camera, uploader and recorder buttons "Take Photo", "Upload" and
    # "Record", nothing about what they are for; seesay.js names them.
    buttons = [line.strip() for line in view.page.locator("body").aria_snapshot().splitlines()
               if line.strip().startswith("- button")]
    wanted = ['- button "Stop speaking"', '- button "Play answer again"']
    if view.target in (DESCRIBE, ASK):
        wanted += ['- button "Take photo"', '- button "Upload a photo"']
    if view.target is ASK:
        wanted += ['- button "Record your question"']
    missing = [w for w in wanted if not any(b == w or b.startswith(w + ":") for b in buttons)]
    assert not missing, f"{missing} not among the buttons: {buttons}"


def test_headings_are_in_order(view):
    fail_on(heading_problems(view.page))
    assert heading_levels(view.page)[0] == [1, view.target.title]


def test_targets_are_at_least_44_px(view):
    fail_on(target_problems(view.page))


def test_content_reflows(view):
    fail_on(reflow_problems(view.page))


def test_keyboard_reaches_everything_in_order_with_visible_focus(view):
    fail_on(keyboard_problems(view.page))


# --- asking: the live region and the language of the answer -------------------------------------


def test_asking_is_announced_and_the_answer_carries_its_language(new_tab, warm_app, media):
    page = new_tab()
    open_page(page, warm_app, ASK)
    upload_photo(page, media.car_png)
    # The live region's recorder was in place before the page loaded (RECORD_EVENTS).
    before = ask_typed(page, SPANISH_QUESTION)
    wait_for_announcement(page, "Respuesta lista.", before)
    page.wait_for_timeout(3_000)  # anything said after it would be in the log by now
    # Progress is said once a step, then how sure SeeSay is, and nothing else: no streamed words,
    # no ticking timer.
    # ... in the language of the question.
    said = live_region_log(page)[before:]
    assert said[:2] == ["Pensando…", "Respuesta lista."] and len(said) == 3, said
    assert said[2].startswith("SeeSay") and "segur" in said[2]
    answer = page.locator(LAST_ANSWER)
    assert answer.inner_text().strip()
    assert answer.get_attribute("lang") == "es"
    question = page.locator(".seesay-question").last
    assert question.locator("[lang=es]").inner_text() == SPANISH_QUESTION


# --- pages full of answers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def answered(new_context, warm_app, media):
    """One visit with two photos described and questions asked (in English and Spanish)."""
    context = new_context()
    page = context.new_page()
    try:
        open_page(page, warm_app, DESCRIBE)
        for photo in (media.car_png, media.street_jpeg):
            after = len(live_region_log(page))
            upload_photo(page, photo)
            wait_for_announcement(page, "Answer ready.", after)
            settle(page)
        go_to(page, ASK)
        ask_typed(page, "What is on the door?")
        ask_typed(page, SPANISH_QUESTION)
        # The page speaks the language of the last question: an English one brings English back
        # (the checks below find controls by their English names).
        ask_typed(page, "And what is next to it?")
        page.get_by_role("textbox", name="Or type your question").wait_for()
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("target", [DESCRIBE, ASK, HISTORY], ids=lambda p: p.key)
def test_pages_with_answers_pass_every_check(answered, target, theme):
    page = answered
    page.emulate_media(color_scheme=theme)
    go_to(page, target)
    assert background_is_dark(page) == (theme == "dark")
    assert page.locator(".seesay-answer").count() >= 1  # there is something to check
    fail_on(all_problems(page))


def test_high_contrast_and_larger_text_pass_every_check(answered):
    page = answered
    page.emulate_media(color_scheme="light")
    go_to(page, SETTINGS)
    for name in ("High contrast", "Larger text"):
        # Its native input is hidden; a person taps the switch's label.
        page.get_by_role("switch", name=name).locator("xpath=ancestor::label").click()
        settle(page)
    # Larger text makes the root font 20 px; high contrast is white on black.
    page.wait_for_function("getComputedStyle(document.documentElement).fontSize === '20px'")
    assert background_is_dark(page)
    report = []
    for target in (SETTINGS, HISTORY, ASK, DESCRIBE, HOME):
        if target is not SETTINGS:
            go_to(page, target)
        problems = all_problems(page)
        if problems:
            report.append(f"== {target.key}\n{problems}")
    fail_on("\n".join(report))


# --- errors: shown, and said once -----------------------------------------------------------------


def test_an_error_is_shown_and_said_once(new_tab, warm_app, tmp_path):
    """A file that is not a photo: the message is on the page and said once by the live region,
    not a second time as an alert (st.error is role="alert"; SeeSay's script takes the role off)."""
    page = new_tab()
    open_page(page, warm_app, DESCRIBE)
    not_a_photo = tmp_path / "holiday.jpg"
    not_a_photo.write_text("These are my holiday notes, not a picture.\n")
    after = len(live_region_log(page))
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(not_a_photo))
    box = page.locator("[data-testid=stAlertContainer]").first
    box.wait_for(timeout=60_000)
    settle(page)
    page.wait_for_timeout(1_000)  # anything said after it would be in the log by now
    shown = " ".join(box.inner_text().split())
    assert "not a photo" in shown.lower() or "picture" in shown.lower(), shown
    said = [" ".join(message.split()) for message in live_region_log(page)[after:]]
    assert said.count(shown) == 1, said
    assert page.get_by_role("alert").count() == 0
    assert "- alert" not in page.locator("body").aria_snapshot()
    violations = axe_violations(page)  # the page with an error on it meets the same bar
    assert not violations, format_violations(violations)
