"""Browser tests: one SeeSay server and one Chromium for the whole run, a fresh tab per test.

The server runs the real app on the tiny offline test models (real Whisper tiny.en, the offline
voice). Chromium is Debian's (``playwright install`` cannot download here), started with a fake
camera that films a picture of a red car and a fake microphone that says "What colour is the
car?" in the offline voice (Piper, or espeak-ng where no Piper voice is installed).

``SEESAY_TEST_URL`` points the tests at a SeeSay already running (started with the same settings)
instead of starting one: quicker when working on the tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from browserkit import PAGES, RECORD_EVENTS, open_page

from bench.app import AppDidNotStart, running

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SEESAY_TEST_CHROMIUM", "/usr/bin/chromium")
QUESTION = "What colour is the car?"
#: short answers keep the tiny model quick; long enough for a clip of a second or more
MAX_ANSWER_TOKENS = 24
START_TIMEOUT = 180  # seconds: the first start imports torch and transformers

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # SeeSay starts answers by itself after the tap that asked; a test's first action may be a
    # page load, so let every page play (real phones get the "Play answer again" fallback).
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]

DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@dataclass(frozen=True)
class Media:
    """Files the fake devices play and the uploader chooses."""

    question: str  # what the fake microphone says
    question_wav: Path  # 48 kHz mono WAV: 0.5 s quiet, the question, then quiet
    car_png: Path  # the picture the fake camera films
    car_y4m: Path
    street_jpeg: Path  # a second, different picture, for the uploader


def _draw_car(width=640, height=480):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (135, 190, 235))  # sky
    d = ImageDraw.Draw(img)
    d.rectangle((0, 340, width, height), fill=(90, 90, 90))  # road
    d.rectangle((140, 250, 500, 340), fill=(200, 20, 30))  # body
    d.polygon([(210, 250), (260, 190), (400, 190), (450, 250)], fill=(200, 20, 30))  # roof
    d.polygon([(230, 248), (270, 200), (320, 200), (320, 248)], fill=(180, 220, 240))  # windows
    d.polygon([(330, 248), (330, 200), (390, 200), (430, 248)], fill=(180, 220, 240))
    for x in (210, 430):  # wheels
        d.ellipse((x - 40, 300, x + 40, 380), fill=(20, 20, 20))
        d.ellipse((x - 18, 322, x + 18, 358), fill=(160, 160, 160))
    return img


def _draw_street(width=800, height=600):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (250, 245, 230))
    d = ImageDraw.Draw(img)
    d.rectangle((300, 80, 500, 520), fill=(30, 120, 60))  # a green door
    d.ellipse((460, 290, 480, 310), fill=(230, 190, 40))  # its handle
    d.rectangle((320, 30, 480, 70), fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    d.text((350, 42), "No. 12", fill=(0, 0, 0))
    return img


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    """A real spoken question (the offline voice) and real pictures, as the fake devices want them."""
    from core.tts import load_tts

    out = tmp_path_factory.mktemp("browser-media")
    # The offline voice: Piper when its voice is installed (clearer for Whisper), else espeak-ng.
    speech = load_tts("offline", private=True, timeout=10).synthesize(QUESTION, "en")
    assert speech.mime == "audio/wav", speech.mime
    (out / "question-raw.wav").write_bytes(speech.audio)
    # Chromium reads the file from the moment the recorder opens the microphone: a little quiet
    # first, and enough after it that the recording ends in quiet, not in a repeat.
    _ffmpeg("-i", str(out / "question-raw.wav"), "-af", "adelay=500:all=1,apad=pad_dur=3",
            "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", str(out / "question.wav"))
    _draw_car().save(out / "car.png")
    _ffmpeg("-loop", "1", "-i", str(out / "car.png"), "-t", "1", "-r", "10", "-pix_fmt", "yuv420p",
            str(out / "car.y4m"))
    _draw_street().save(out / "street.jpg", quality=90)
    return Media(QUESTION, out / "question.wav", out / "car.png", out / "car.y4m", out / "street.jpg")


def server_env(test_models, **settings: str) -> dict[str, str]:
    """The environment SeeSay runs with in the browser tests (other SEESAY_ settings removed);
    ``settings`` (``SEESAY_...="..."``) change or add some."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEESAY_")}
    env.update(
        SEESAY_LLAVA_MODEL=str(test_models.llava),
        SEESAY_WHISPER_MODEL=str(test_models.whisper_tiny_en),
        SEESAY_STT_ENGINE="openai-whisper",
        SEESAY_TTS_ENGINE="offline",
        SEESAY_DEVICE="cpu",
        SEESAY_MAX_ANSWER_TOKENS=str(MAX_ANSWER_TOKENS),
        SEESAY_DETAIL_ANSWER_TOKENS=str(MAX_ANSWER_TOKENS * 2),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    env.update(settings)
    return env


@contextlib.contextmanager
def running_seesay(env: dict[str, str], log_dir: Path):
    """A SeeSay server started with ``env`` on a free port: yields its address, stops it after."""
    try:
        with running(env, log_dir / "server.log", timeout=START_TIMEOUT) as (url, _process):
            yield url
    except AppDidNotStart as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def seesay_url(test_models, tmp_path_factory):
    """The address of a running SeeSay (started here and stopped after the run)."""
    external = os.environ.get("SEESAY_TEST_URL")
    if external:
        yield external.rstrip("/")
        return
    with running_seesay(server_env(test_models), tmp_path_factory.mktemp("seesay-server")) as url:
        yield url


def warm(chromium, url: str) -> str:
    """Load SeeSay's models on the server at ``url`` (the Home page loads them, once per server)."""
    context = chromium.new_context(**DESKTOP)
    try:
        page = context.new_page()
        open_page(page, url, PAGES[0], timeout=300_000)
        ready = page.get_by_text(": ready.", exact=False)
        assert ready.count() == 4, page.locator("main").inner_text()
    finally:
        context.close()
    return url


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright, media):
    """One headless Chromium for every test; each test opens its own context (cookies, session)."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is needed for the browser tests and is not at {CHROMIUM}: "
                    "install the Debian package chromium (./seesay test does).")
    flags = CHROMIUM_FLAGS + [
        # "%noloop": the question is said once per opening of the microphone, then quiet.
        f"--use-file-for-fake-audio-capture={media.question_wav}%noloop",
        f"--use-file-for-fake-video-capture={media.car_y4m}",
    ]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def chromium_filming(playwright, media):
    """``chromium_filming(video)`` -> another headless Chromium (closed after the run) whose fake camera plays
    ``video`` (a .y4m file) instead of the car; the fake microphone is the same."""
    browsers = []

    def launch(video: Path):
        flags = CHROMIUM_FLAGS + [f"--use-file-for-fake-audio-capture={media.question_wav}%noloop",
                                  f"--use-file-for-fake-video-capture={video}"]
        browsers.append(playwright.chromium.launch(executable_path=CHROMIUM, args=flags))
        return browsers[-1]

    yield launch
    for browser in browsers:
        with contextlib.suppress(Exception):
            browser.close()


@pytest.fixture(scope="session")
def warm_app(chromium, seesay_url):
    """SeeSay with its models loaded: the Home page loads them (once per server)."""
    return warm(chromium, seesay_url)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the test item (the fixtures below look at it)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _keep_screenshots(request, pages) -> None:
    """After a failed test, keep a picture of every tab it had open (artifacts/ is not committed)."""
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    out = ROOT / "artifacts" / "browser-failures"
    out.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name)
    for i, page in enumerate(pages):
        with contextlib.suppress(Exception):
            page.screenshot(path=str(out / f"{stem}-{i}.png"), full_page=True)


@pytest.fixture(scope="session")
def any_context(playwright, chromium):
    """``any_context(device=None, color_scheme="light", **options)`` -> a browser context (the
    caller closes it) for a desktop window or a phone profile ("Pixel 7", "iPhone 14"), for any
    server (the shared one is not started or warmed for it).

    Camera and microphone are allowed; audio events and the live region are recorded.
    """

    def make(device: str | None = None, color_scheme: str = "light", **options):
        profile = dict(playwright.devices[device]) if device else dict(DESKTOP)
        profile.pop("default_browser_type", None)  # Chromium plays every profile here
        profile.update(options)
        context = chromium.new_context(**profile, color_scheme=color_scheme,
                                       permissions=["camera", "microphone"], accept_downloads=True)
        context.set_default_timeout(60_000)
        context.add_init_script(RECORD_EVENTS)
        return context

    return make


@pytest.fixture(scope="session")
def new_context(any_context, warm_app):
    """``any_context`` once the shared SeeSay has its models loaded."""
    return any_context


@pytest.fixture
def new_tab(new_context, request):
    """``new_tab(device=None, color_scheme="light", **context_options)`` -> a Page in a fresh
    browser context, closed after the test."""
    contexts = []

    def make(device: str | None = None, color_scheme: str = "light", **options):
        context = new_context(device, color_scheme, **options)
        contexts.append(context)
        return context.new_page()

    yield make
    _keep_screenshots(request, [page for context in contexts for page in context.pages])
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


@pytest.fixture(scope="session")
def shared_tab(new_context):
    """``shared_tab(device=None, color_scheme="light")`` -> one Page per profile, kept for the run.

    Every ``open_page`` on it is a full load and a new Streamlit session (nothing carries over
    but the browser's cache of Streamlit's scripts, which makes each load a few seconds faster).
    """
    tabs, contexts = {}, []

    def get(device: str | None = None, color_scheme: str = "light", **options):
        key = (device, color_scheme, repr(sorted(options.items())))
        if key not in tabs:
            context = new_context(device, color_scheme, **options)
            contexts.append(context)
            tabs[key] = context.new_page()
        return tabs[key]

    yield get
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()
