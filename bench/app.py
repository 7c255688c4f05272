"""SeeSay's app started as people start it, for the benchmarks and the browser tests.

``streamlit run Home.py`` from the repository root, headless, on a free loopback port, its output in a
log file: :func:`running` starts it, waits until it answers its health check, yields its address and
process, and stops it after, whatever happened.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["ROOT", "AppDidNotStart", "free_port", "healthy", "stop", "running"]

ROOT = Path(__file__).resolve().parent.parent


class AppDidNotStart(RuntimeError):
    """The app exited, or did not answer its health check in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def stop(process: subprocess.Popen) -> None:
    """Politely, then for good after 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextlib.contextmanager
def running(env: dict[str, str], log_path: Path, *, timeout: float = 180.0,
            streamlit: Sequence[str] = (sys.executable, "-m", "streamlit"), prefix: Sequence[str] = (),
            options: Sequence[str] = ("--server.fileWatcherType", "none")) -> Iterator[tuple[str, subprocess.Popen]]:
    """The app with ``env``, started by ``streamlit`` (another environment's ``streamlit`` script, say),
    after ``prefix`` (``taskset -c 0,1``), with Streamlit ``options``; yields ``(address, process)``.
    Raises :class:`AppDidNotStart` when it exits or is not healthy within ``timeout`` seconds."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*prefix, *streamlit, "run", "Home.py", "--server.headless", "true", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", *options]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(c) for c in command], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AppDidNotStart(f"SeeSay did not start (exit code {process.poll()}):\n"
                                     + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield url, process
    finally:
        stop(process)
