"""What the browser tests do to a SeeSay page, and what they read back from it.

Everything here takes a Playwright ``Page`` (sync API) and works on what a person, a screen
reader or a keyboard gets: roles and names from Chromium's accessibility tree, computed styles,
bounding boxes, the one ``<audio>`` element of SeeSay's player and its live region. The stable
ids come from ``ui/browser.py`` and ``ui/render.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from playwright.sync_api import Error as PlaywrightError

__all__ = [
    "AXE_TAGS",
    "IDLE",
    "LAST_ANSWER",
    "LIVE_REGION",
    "PAGES",
    "PLAYER_AUDIO",
    "RECORD_EVENTS",
    "Page",
    "TabStop",
    "ask_typed",
    "audio_events",
    "audio_state",
    "axe_violations",
    "format_violations",
    "go_to",
    "heading_levels",
    "heading_skips",
    "live_region_log",
    "open_page",
    "settle",
    "small_targets",
    "tab_walk",
    "unnamed_controls",
    "upload_photo",
    "wait_for_announcement",
    "wait_for_answers",
    "wait_for_playing",
    "wait_until",
    "wer",
    "words",
]


@dataclass(frozen=True)
class Page:
    """One page of the app: where it is and what identifies it."""

    key: str  # short name for test ids and screenshot files
    path: str  # URL path ("" for Home)
    link: str  # its name in the sidebar navigation
    title: str  # its <h1>


PAGES = (
    Page("home", "", "Home", "SeeSay: hear what is in a photo"),
    Page("describe", "Describe_a_photo", "Describe a photo", "Describe a photo"),
    Page("ask", "Ask_by_voice", "Ask by voice", "Ask by voice"),
    Page("history", "History", "History", "History"),
    Page("settings", "Settings", "Settings", "Settings"),
)

#: Streamlit marks its app root with the script state; "notRunning" = the page is drawn.
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
PLAYER_AUDIO = "#seesay-audio"
LIVE_REGION = "#seesay-status"
LAST_ANSWER = "#seesay-last-answer"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

#: Installed in every tab before the app loads. It writes down every "playing", "pause" and
#: "ended" of any <audio> (so a test can tell that a clip played even after it finished or was
#: stopped), every text SeeSay's live region shows (the observer is in place before the region
#: is even created, so nothing said early is missed), and what every getUserMedia call asks the
#: browser for (as the page hands it over, after SeeSay's own script has had its say).
RECORD_EVENTS = """
window.__audioEvents = [];
window.__liveLog = [];
window.__cameraRequests = [];
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) => {
    window.__cameraRequests.push(JSON.parse(JSON.stringify(constraints || {})));
    return ask(constraints);
  };
}
for (const type of ["playing", "pause", "ended"]) {
  document.addEventListener(type, (event) => {
    const a = event.target;
    if (!(a instanceof HTMLAudioElement)) { return; }  // not the camera's <video>
    window.__audioEvents.push({type, id: a.id || "", label: a.getAttribute("aria-label") || "",
                               duration: a.duration, rate: a.playbackRate, time: a.currentTime});
  }, true);
}
new MutationObserver((mutations) => {
  for (const m of mutations) {
    const node = m.target.nodeType === Node.ELEMENT_NODE ? m.target : m.target.parentElement;
    const region = node && node.closest && node.closest("#seesay-status");
    if (region) {
      const text = region.textContent.trim();
      if (text) { window.__liveLog.push(text); }
      return;
    }
  }
}).observe(document, {subtree: true, childList: true, characterData: true});  // no <html> yet
"""


# --- waiting ------------------------------------------------------------------------------------


def settle(page, timeout: float = 120_000) -> None:
    """Wait until Streamlit has finished the current run and SeeSay's browser side is there.

    A click reaches the server a moment later than it returns here, so first give the app a
    chance to start running; then wait for the idle state.
    """
    page.wait_for_timeout(250)
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function("() => !!window.SeeSay && !!document.getElementById('seesay-player')",
                           timeout=timeout)


def open_page(page, base_url: str, target: Page, timeout: float = 120_000) -> None:
    """Load ``target`` (a fresh Streamlit session) and wait until it is drawn."""
    page.goto(f"{base_url}/{target.path}")
    page.get_by_role("heading", level=1, name=target.title).wait_for(timeout=timeout)
    settle(page, timeout)
    if target.key in ("describe", "ask"):
        # The camera widget starts the (fake) camera after the page is drawn.
        page.locator("[data-testid=stCameraInputButton]:not([disabled])").first.wait_for(timeout=timeout)
    if target.key == "home":
        page.get_by_text("SeeSay is ready.", exact=False).first.wait_for(state="attached", timeout=timeout)
    page.wait_for_timeout(200)  # seesay.js names Streamlit's buttons on the next animation frame


def go_to(page, target: Page, timeout: float = 120_000) -> None:
    """Follow the sidebar link to ``target`` (same session: the photo and history stay)."""
    expand = page.locator("[data-testid=stExpandSidebarButton]")
    if expand.is_visible():  # phones start with the sidebar closed
        expand.click()
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=target.link, exact=True).click()
    page.get_by_role("heading", level=1, name=target.title).wait_for(timeout=timeout)
    settle(page, timeout)


def wait_until(page, condition: str, what: str, timeout: float = 10_000, arg=None) -> None:
    """Wait until the JavaScript ``condition`` holds; fail saying ``what`` did not happen."""
    try:
        page.wait_for_function(condition, arg=arg, timeout=timeout)
    except PlaywrightError as error:
        raise AssertionError(f"{what} (still not so after {timeout / 1000:g} s)") from error


# --- audio and the live region -------------------------------------------------------------------


def audio_state(page, selector: str = PLAYER_AUDIO) -> dict:
    return page.locator(selector).evaluate(
        """a => ({paused: a.paused, ended: a.ended, time: a.currentTime, duration: a.duration,
                  rate: a.playbackRate, defaultRate: a.defaultPlaybackRate,
                  preservesPitch: a.preservesPitch, hasSource: !!a.getAttribute('src')})""")


def audio_events(page) -> list[dict]:
    return page.evaluate("window.__audioEvents || []")


def live_region_log(page) -> list[str]:
    """Every text the live region has shown in this tab, in order (see RECORD_EVENTS)."""
    return page.evaluate("window.__liveLog || []")


def wait_for_announcement(page, text: str, after: int = 0, timeout: float = 60_000) -> list[str]:
    """Wait until the live region says ``text`` (after its first ``after`` messages); returns
    the messages from ``after`` on."""
    try:
        page.wait_for_function("([text, after]) => (window.__liveLog || []).slice(after).includes(text)",
                               arg=[text, after], timeout=timeout)
    except PlaywrightError as error:
        said = live_region_log(page)[after:]
        shown = page.locator("[data-testid=stMain]").inner_text()[-1500:]
        raise AssertionError(f"SeeSay did not say {text!r}; it said {said}. The page ends with:\n{shown}") \
            from error
    return live_region_log(page)[after:]


def wait_for_playing(page, after: int = 0, min_seconds: float = 0.3, timeout: float = 30_000) -> dict:
    """Wait until SeeSay's player starts a clip longer than ``min_seconds`` (not the silent
    unlock clip) after its first ``after`` recorded events; returns that event."""
    try:
        handle = page.wait_for_function(
            """([after, min]) => (window.__audioEvents || []).slice(after).find(
                  e => e.type === 'playing' && e.id === 'seesay-audio' && e.duration > min) || null""",
            arg=[after, min_seconds], timeout=timeout)
    except PlaywrightError as error:
        seen = [(e["type"], e["id"] or e["label"][:30], e["duration"]) for e in audio_events(page)[after:]]
        raise AssertionError(f"SeeSay's player did not start an answer; audio events: {seen}, "
                             f"player now: {audio_state(page)}") from error
    return handle.json_value()


# --- axe-core -----------------------------------------------------------------------------------


def axe_violations(page, exclude: list[str] | None = None) -> list[dict]:
    """axe-core's violations of WCAG 2.0-2.2 A and AA on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    context = {"exclude": [[s] for s in exclude]} if exclude else None
    return Axe().run(page, context=context, options=options).response["violations"]


def format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node.get('failureSummary', '')!r}"
                         f"\n      {node['html'][:200]}")
    return "\n".join(lines)


# --- the accessibility tree ----------------------------------------------------------------------

#: roles a person can operate (ARIA widget roles, as Chromium names them)
INTERACTIVE_ROLES = {
    "button", "link", "textbox", "searchbox", "combobox", "checkbox", "radio", "switch", "slider",
    "spinbutton", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "option", "listbox",
    "treeitem", "PopUpButton", "ToggleButton", "MenuListPopup",
}


def unnamed_controls(page) -> list[dict]:
    """Interactive nodes of Chromium's full accessibility tree that have no accessible name.

    The tree is what a screen reader gets: it includes what CSS hides only visually and leaves
    out what ``aria-hidden`` or ``display: none`` removes.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    missing = []
    for node in nodes:
        if node.get("ignored"):
            continue
        role = (node.get("role") or {}).get("value", "")
        if role not in INTERACTIVE_ROLES:
            continue
        name = str((node.get("name") or {}).get("value", "")).strip()
        if not name:
            props = {p["name"]: p.get("value", {}).get("value") for p in node.get("properties", [])}
            missing.append({"role": role, "backendDOMNodeId": node.get("backendDOMNodeId"),
                            "focusable": props.get("focusable"), "html": _html_of(page, node)})
    return missing


def _html_of(page, node: dict) -> str:
    """The start of the element's HTML, for a readable failure message."""
    backend = node.get("backendDOMNodeId")
    if backend is None:
        return ""
    cdp = page.context.new_cdp_session(page)
    try:
        resolved = cdp.send("DOM.resolveNode", {"backendNodeId": backend})
        result = cdp.send("Runtime.callFunctionOn", {
            "objectId": resolved["object"]["objectId"],
            "functionDeclaration": "function () { return (this.outerHTML || this.textContent || '').slice(0, 240); }",
            "returnByValue": True,
        })
        return result["result"].get("value", "")
    except PlaywrightError as error:  # the node went away between the two calls
        return f"(could not read: {error})"
    finally:
        cdp.detach()


def heading_levels(page) -> list[tuple[int, str]]:
    """(level, text) of every heading a screen reader lists, in document order."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6,[role=heading]'))
              .filter(h => !h.closest('[aria-hidden=true]') && h.getClientRects().length > 0)
              .map(h => [Number(h.getAttribute('aria-level') || h.tagName.slice(1)),
                         h.textContent.trim()])""")


def heading_skips(levels: list[tuple[int, str]]) -> list[str]:
    """Where the heading outline jumps down more than one level (or starts below h1)."""
    problems, previous = [], 0
    for level, text in levels:
        if level > previous + 1:
            problems.append(f"h{level} {text!r} follows h{previous or '(none)'}")
        previous = level
    return problems


#: what a person can press, tap or type into
_TARGETS = ("button, a[href], input:not([type=hidden]), select, textarea, summary, audio[controls], "
            "[role=button], [role=link], [role=checkbox], [role=radio], [role=switch], "
            "[role=combobox], [role=slider], [role=tab], [role=menuitem], [tabindex]:not([tabindex='-1'])")

#: JavaScript helpers, installed on the page as window.__kit before each measurement.
_KIT = r"""
window.__kit = {
  // Drawn where a person can see it: not clipped away, transparent or tiny.
  shown(n) {
    const r = n.getBoundingClientRect();
    if (r.width <= 2 || r.height <= 2) { return false; }
    for (let m = n; m && m !== document.documentElement; m = m.parentElement) {
      const s = getComputedStyle(m);
      if (s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0) { return false; }
      if (s.clip === 'rect(0px, 0px, 0px, 0px)' || s.clipPath === 'inset(50%)') { return false; }
    }
    return true;
  },
  // Out of reach for everyone: not rendered, or inside aria-hidden.
  hidden(n) {
    for (let m = n; m; m = m.parentElement) {
      const s = getComputedStyle(m);
      if (s.display === 'none' || s.visibility === 'hidden') { return true; }
      if (m !== n && m.getAttribute('aria-hidden') === 'true') { return true; }
    }
    return false;
  },
  // The label that stands for a visually hidden native control.
  label(el) {
    return el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || null;
  },
  // What may draw an element's focus indicator: itself, its label (radios and switches draw
  // their own), its next sibling (the drawn box of a hidden input), a few ancestors (wrappers
  // that show :focus-within). Only what is visible counts.
  indicators(el) {
    const parts = {self: el, label: this.label(el), next: el.nextElementSibling};
    for (let m = el.parentElement, i = 1; m && m !== document.body && i <= 3; m = m.parentElement, i++) {
      parts['up' + i] = m;
    }
    const looks = {};
    for (const [name, n] of Object.entries(parts)) {
      looks[name] = n && this.shown(n) ? this.look(n) : null;
    }
    return looks;
  },
  // A focus indicator a person can see: an outline, a box-shadow (rings) or a border. A faint
  // change of background alone does not count.
  look(n) {
    const s = getComputedStyle(n);
    const outline = s.outlineStyle === 'none' || parseFloat(s.outlineWidth) === 0 ? 'none'
        : `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`;
    const border = ['Top', 'Right', 'Bottom', 'Left'].map((side) =>
        s['border' + side + 'Style'] === 'none' || parseFloat(s['border' + side + 'Width']) === 0 ? 'none'
        : `${s['border' + side + 'Width']} ${s['border' + side + 'Color']}`).join(',');
    return `outline: ${outline}; box-shadow: ${s.boxShadow}; border: ${border}`;
  },
};
"""


def _kit(page) -> None:
    page.evaluate(f"() => {{ {_KIT} }}")


def small_targets(page, minimum: float = 44) -> list[dict]:
    """Visible targets smaller than ``minimum`` CSS pixels in width or height.

    A native radio, switch or file input that is visually hidden is operated through what draws
    it: its label, which is measured instead. Inline links inside sentences are exempt in
    WCAG 2.5.8; SeeSay has none, so none are skipped here.
    """
    _kit(page)
    return page.evaluate(
        """([selector, minimum]) => {
          const kit = window.__kit, out = [];
          for (const el of document.querySelectorAll(selector)) {
            if (el.disabled || kit.hidden(el)) { continue; }
            let box = el;
            if (!kit.shown(el)) {
              const label = kit.label(el);
              if (!label || !kit.shown(label)) { continue; }  // hidden on purpose (the skip link)
              box = label;
            }
            const r = box.getBoundingClientRect();
            if (r.width + 0.5 < minimum || r.height + 0.5 < minimum) {
              out.push({tag: el.tagName.toLowerCase(), testid: el.getAttribute('data-testid') || '',
                        name: (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 60),
                        width: Math.round(r.width * 10) / 10, height: Math.round(r.height * 10) / 10});
            }
          }
          return out;
        }""", [_TARGETS, minimum])


# --- the keyboard ---------------------------------------------------------------------------------


@dataclass
class TabStop:
    key: int  # identity of the element (the same element keeps its key)
    name: str  # what it says (aria-label or text)
    tag: str
    in_main: bool
    top: float  # position in the page, scroll included, once the walk is over
    left: float
    indicated: bool  # something visible looks different while it has focus
    changed: tuple = ()  # what looks different: "self", "label", "next", "up1".."up3"
    on_screen: bool = True  # in the window and not under SeeSay's player bar, while focused


_TAB_STOP = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) { return null; }
  window.__tabKeys = window.__tabKeys || new Map();
  if (!window.__tabKeys.has(el)) { window.__tabKeys.set(el, window.__tabKeys.size + 1); }
  const kit = window.__kit;
  const r = el.getBoundingClientRect();
  const scroller = document.querySelector('[data-testid=stMain]');
  const inMain = !!el.closest('[data-testid=stMain]');
  const label = kit.label(el);
  // Focus not obscured (WCAG 2.4.11): the browser has scrolled it into view; it must be in the
  // window and not under the fixed player bar (unless it is in the bar).
  const bar = document.getElementById('seesay-player');
  const cx = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
  const cy = Math.min(Math.max(r.top + Math.min(r.height / 2, 20), 0), innerHeight - 1);
  const atCenter = document.elementFromPoint(cx, cy);
  const covered = !!(bar && atCenter && bar.contains(atCenter) && !bar.contains(el));
  const onScreen = r.right > 0 && r.left < innerWidth && r.bottom > 0 && r.top < innerHeight && !covered;
  return {key: window.__tabKeys.get(el), onScreen,
          name: (el.getAttribute('aria-label') || (label && label.innerText) || el.innerText ||
                 el.getAttribute('placeholder') || '').trim().slice(0, 80),
          tag: el.tagName.toLowerCase(), inMain,
          top: r.top + (inMain && scroller && el !== scroller ? scroller.scrollTop : 0), left: r.left,
          looks: kit.indicators(el)};
}
"""

_UNFOCUSED_LOOKS = """
() => {
  const kit = window.__kit, out = {};
  for (const [el, key] of window.__tabKeys || []) {
    if (el.isConnected) { out[key] = kit.indicators(el); }
  }
  return out;
}
"""


# Where each stop is once the walk is over. The order check uses these: a widget that finishes its
# layout during the walk (the camera's video starting on a slow machine) would otherwise move the
# stops after it between two measurements.
_FINAL_TOPS = """
() => {
  const scroller = document.querySelector('[data-testid=stMain]'), out = {};
  for (const [el, key] of window.__tabKeys || []) {
    if (!el.isConnected) { continue; }
    const inMain = !!el.closest('[data-testid=stMain]');
    out[key] = el.getBoundingClientRect().top + (inMain && scroller && el !== scroller ? scroller.scrollTop : 0);
  }
  return out;
}
"""


def tab_walk(page, limit: int = 150) -> tuple[list[TabStop], bool]:
    """Press Tab from the top of the page until focus leaves the page or comes back round.

    Returns the stops in order and whether the walk ended properly (False: still going after
    ``limit`` presses, or going round a loop that skips the start: focus is trapped).
    """
    _kit(page)
    # Start where a keyboard user starts: before everything. Focusing a -1 tabindex element at the
    # top of the body puts the sequential focus starting point there, and it is no tab stop itself.
    page.evaluate("""() => {
        const scroller = document.querySelector('[data-testid=stMain]');
        if (scroller) { scroller.scrollTop = 0; }
        const start = document.createElement('span');
        start.id = 'kit-start'; start.tabIndex = -1;
        document.body.insertBefore(start, document.body.firstChild);
        start.focus();
        window.__tabKeys = new Map();
    }""")
    raw, ended = [], False
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(_TAB_STOP)
        if stop is None:  # focus went past the last element, out of the page
            if raw:
                ended = True
                break
            continue
        if raw and stop["key"] == raw[-1]["key"]:
            continue  # moving among the native controls inside an <audio> (its shadow tree)
        if any(s["key"] == stop["key"] for s in raw):  # an element seen before
            ended = stop["key"] == raw[0]["key"]  # a clean round starts again at the first stop
            break
        raw.append(stop)
    page.evaluate("""() => { document.activeElement && document.activeElement.blur();
                              const start = document.getElementById('kit-start'); start && start.remove(); }""")
    page.wait_for_timeout(100)  # transitions of the focus styles
    unfocused = page.evaluate(_UNFOCUSED_LOOKS)
    tops = page.evaluate(_FINAL_TOPS)
    stops = []
    for s in raw:
        before = unfocused.get(str(s["key"]))  # None: the element is gone, nothing to compare
        # Visible while focused, and different from the same part without focus (or only
        # visible with focus, like the skip link).
        changed = () if before is None else tuple(
            part for part, look in s["looks"].items() if look is not None and look != before.get(part))
        stops.append(TabStop(key=s["key"], name=s["name"], tag=s["tag"], in_main=s["inMain"],
                             top=tops.get(str(s["key"]), s["top"]), left=s["left"], indicated=bool(changed),
                             changed=changed,
                             on_screen=s["onScreen"]))
    return stops, ended


# --- questions and answers -------------------------------------------------------------------------


def upload_photo(page, path, timeout: float = 120_000) -> None:
    """Choose ``path`` with the photo uploader (what "Upload a photo" opens); wait until SeeSay
    has said it arrived and the page is drawn."""
    after = len(live_region_log(page))
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    wait_for_announcement(page, "Photo received.", after, timeout)
    settle(page, timeout)


def wait_for_answers(page, count: int, timeout: float = 120_000) -> None:
    """Wait until the page shows ``count`` answers and the run is over."""
    page.wait_for_function(f"() => document.querySelectorAll('.seesay-answer').length >= {count}",
                           timeout=timeout)
    settle(page, timeout)
    page.locator(LAST_ANSWER).wait_for(timeout=timeout)


def ask_typed(page, question: str, timeout: float = 120_000) -> int:
    """Type a question on the Ask page and press Enter; wait until the answer is on the page.

    What the live region says is left to the caller: this returns the length of its log before
    the question, for ``wait_for_announcement(page, "Answer ready.", after)``.
    """
    after = len(live_region_log(page))
    answers = page.locator(".seesay-answer").count()
    # Found by its key, not its name: after a question in Spanish the page speaks Spanish.
    box = page.locator(".st-key-ask-text input")
    box.fill(question)
    box.press("Enter")
    # Done: the answer is in the conversation and the page has given an empty box for the next
    # question (it does so after the answer, in a second run of the page).
    wait_until(page, """(answers) => document.querySelectorAll('.seesay-answer').length > answers
                         && !!document.getElementById('seesay-last-answer')
                         && document.querySelector('.st-key-ask-text input')?.value === ''""",
               f"the typed question {question!r} got no answer", timeout, arg=answers)
    settle(page, timeout)
    return after


# --- words ---------------------------------------------------------------------------------------

# British and American spellings are the same word to a listener.
_SAME_WORD = {"colour": "color", "colours": "colors", "grey": "gray"}


# Said quickly, "colour is" sounds like "colour's" / "colours"; Whisper writes either (seen in CI:
# "What colors the car?"). To a listener it is the same question.
_SPOKEN_CONTRACTION = {"colors": ["color", "is"], "colours": ["color", "is"], "color's": ["color", "is"], "colour's": ["color", "is"]}


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for w in re.findall(r"[\w']+", text):
        out.extend(_SPOKEN_CONTRACTION.get(w, [_SAME_WORD.get(w, w)]))
    return out


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word edits (Levenshtein) over the reference's length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / max(1, len(ref))
