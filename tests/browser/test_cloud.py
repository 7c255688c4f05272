"""SeeSay as Streamlit Community Cloud runs it: a fresh environment from requirements.txt alone.

The cloud does `uv pip install -r requirements.txt` (pip if that fails) into an empty environment,
then `streamlit run Home.py` from the repository root, with the app's secrets as environment
variables. This module does the same once per test run (uv's download cache is the user's, so
later runs are quicker; the environment itself is new each run), then checks that everything the
app imports is there and takes the journey in a real browser: a photo, a typed question, and the
answer spoken by the automatic voice (settings given as the app's secrets, in TOML) through gTTS's own code, whose request to Google reaches a
fake Google on loopback (name lookup redirected at the socket, inside the fresh environment).

Here uv is pointed at /opt/wheels (UV_FIND_LINKS) where that folder exists, so it takes the local
CPU build of torch instead of downloading PyPI's CUDA build (~3 GB); the cloud takes PyPI's.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from browserkit import (
    PAGES,
    ask_typed,
    audio_events,
    open_page,
    upload_photo,
    wait_for_announcement,
    wait_for_playing,
)
from conftest import START_TIMEOUT, _keep_screenshots, server_env

from bench.app import AppDidNotStart, running
from tests.faults import fake_google, no_proxies, spoken_texts, tls_files  # noqa: F401
from tests.media import tone_mp3

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES
LOCAL_WHEELS = Path("/opt/wheels")  # this machine's CPU torch (see the module's docstring)
INSTALL_TIMEOUT = 1800
GTTS_CLIP_SECONDS = 2.0

#: Put in the fresh environment's site-packages (a .pth line imports it at every start): while
#: FAKE_GOOGLE_PORT is set, Google's host names resolve to that loopback port. Only the name
#: lookup is changed; gTTS, requests and urllib3 run their own code.
REDIRECT = textwrap.dedent('''
    import os
    import socket

    _port = os.environ.get("FAKE_GOOGLE_PORT")
    if _port:
        _real = socket.getaddrinfo

        def _getaddrinfo(host, port, *args, **kwargs):
            if "google" in str(host):
                return _real("127.0.0.1", int(_port), *args, **kwargs)
            return _real(host, port, *args, **kwargs)

        socket.getaddrinfo = _getaddrinfo
''')


def _run(command, timeout, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def uv_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if LOCAL_WHEELS.is_dir():
        env["UV_FIND_LINKS"] = str(LOCAL_WHEELS)
    return env


class CloudEnv:
    """The fresh environment: its folder, its python and streamlit, and how long the install took."""

    def __init__(self, folder: Path, install_seconds: float):
        self.folder = folder
        self.python = folder / "bin" / "python"
        self.streamlit = folder / "bin" / "streamlit"
        self.install_seconds = install_seconds


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> CloudEnv:
    """A new environment with requirements.txt alone, installed by uv as the cloud does."""
    folder = tmp_path_factory.mktemp("cloud") / "venv"
    # SEESAY_TEST_CLOUD_PYTHON: another interpreter for it (e.g. a Python 3.12 or 3.13), as the cloud
    # offers; by default the one running the tests.
    base = os.environ.get("SEESAY_TEST_CLOUD_PYTHON") or getattr(sys, "_base_executable", sys.executable)
    env = uv_environ()
    t0 = time.monotonic()
    _run([sys.executable, "-m", "uv", "venv", "--quiet", "--python", base, folder], 120, env=env)
    _run([sys.executable, "-m", "uv", "pip", "install", "--python", folder / "bin" / "python",
          "-r", "requirements.txt"], INSTALL_TIMEOUT, cwd=ROOT, env=env)
    seconds = time.monotonic() - t0
    print(f"\ncloud-shaped install (uv, requirements.txt alone): {seconds:.1f} s")
    site = _run([folder / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                60).stdout.strip()
    (Path(site) / "seesay_test_fake_google.py").write_text(REDIRECT)
    (Path(site) / "seesay_test_fake_google.pth").write_text("import seesay_test_fake_google\n")
    return CloudEnv(folder, seconds)


def app_imports() -> set[str]:
    """Every outside package the app's code imports (at the top or inside functions): Home.py,
    pages/, ui/ and core/ (but core/testmodels/, which only the tests use)."""
    files = [ROOT / "Home.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py"),
             *[p for p in (ROOT / "core").rglob("*.py") if "testmodels" not in p.parts]]
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("core", "ui")}


def test_the_fresh_environment_has_everything_the_app_imports(cloud):
    wanted = app_imports()
    assert {"gtts", "whisper", "streamlit", "torch", "transformers"} <= wanted  # the scan sees them
    check = textwrap.dedent(f"""
        import importlib, importlib.util, pkgutil, sys
        from importlib.metadata import version
        import gtts, whisper  # the two that once came from a second file only ./seesay read
        assert version("gTTS") == "2.5.4+seesay1", version("gTTS")
        missing = [n for n in {sorted(wanted)!r} if importlib.util.find_spec(n) is None]
        assert not missing, f"not installed: {{missing}}"
        import core, ui
        for package in (core, ui):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if ".testmodels" not in module.name:
                    importlib.import_module(module.name)
        print("ok")
    """)
    done = _run([cloud.python, "-c", check], 600, cwd=ROOT, env=uv_environ())
    assert done.stdout.strip().endswith("ok")
    # And the installer agrees the environment is consistent (no broken requirement).
    _run([sys.executable, "-m", "uv", "pip", "check", "--python", cloud.python], 120, env=uv_environ())


@pytest.fixture
def cloud_app(cloud, test_models, fake_google, tmp_path):  # noqa: F811
    """`streamlit run Home.py` from the repository root with the fresh environment, the settings in
    the app's secrets (TOML), the automatic voice on, Google faked."""
    fake_google.audio = tone_mp3(GTTS_CLIP_SECONDS)
    # The settings go where the cloud puts the app's secrets (Streamlit reads ~/.streamlit/secrets.toml
    # at start and turns its root-level keys into environment variables), not into the environment.
    settings = {k: v for k, v in server_env(test_models, SEESAY_TTS_ENGINE="auto").items()
                if k.startswith("SEESAY_") or k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    home = tmp_path / "home"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "secrets.toml").write_text(
        "".join(f"{k} = {json.dumps(v)}\n" for k, v in sorted(settings.items())), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEESAY_") and k not in settings
           and k not in ("VIRTUAL_ENV", "PYTHONPATH")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["HOME"] = str(home)
    env["PATH"] = f"{cloud.folder / 'bin'}:{env.get('PATH', '')}"
    env["FAKE_GOOGLE_PORT"] = str(fake_google.server_address[1])
    log_path = tmp_path / "cloud-server.log"
    try:  # as the cloud runs it: its own streamlit, Streamlit's default options
        with running(env, log_path, timeout=START_TIMEOUT, streamlit=[cloud.streamlit], options=()) as (url, _):
            yield url, fake_google, log_path
    except AppDidNotStart as error:
        pytest.fail(f"from the fresh environment: {error}")


def test_the_cloud_shaped_app_answers_a_typed_question_out_loud_through_gtts(cloud_app, any_context, media,
                                                                            request):
    url, google, log_path = cloud_app
    context = any_context()
    page = context.new_page()
    try:
        open_page(page, url, HOME, timeout=300_000)  # loads the models, as the first visitor does
        open_page(page, url, ASK)
        upload_photo(page, media.street_jpeg)
        before = len(google.requests)
        events = len(audio_events(page))
        after = ask_typed(page, "What colour is the door?")
        wait_for_announcement(page, "Answer ready.", after)
        played = wait_for_playing(page, events, timeout=60_000)
        # gTTS's request reached the fake Google, in the question's language...
        asked = spoken_texts(google)[before:]
        assert asked, "gTTS never reached Google: " + log_path.read_text(errors="replace")[-2000:]
        assert {language for _, language in asked} == {"en"}, asked
        # ...and what the page played is Google's answer: the fake's tone (at least its length).
        assert played["duration"] >= GTTS_CLIP_SECONDS - 0.2, played
    finally:
        _keep_screenshots(request, [page])
        context.close()


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_requirements_resolve_for_each_python_the_cloud_offers(python):
    """uv finds one set of versions for Linux x86_64 (the cloud's machines) on each Python that
    transformers 5.x and Streamlit 1.67 support (both need 3.11 or newer)."""
    done = _run([sys.executable, "-m", "uv", "pip", "compile", "requirements.txt", "--quiet", "--no-header",
                 "--python-version", python, "--python-platform", "x86_64-unknown-linux-gnu"],
                300, cwd=ROOT, env=uv_environ())
    pins = done.stdout
    assert "deploy/wheels/gTTS-2.5.4+seesay1-py3-none-any.whl" in pins
    assert "\nopenai-whisper==20250625" in pins and "\nclick==" in pins
