"""``transformers serve`` on a loopback port, pinned to one local model folder: a real OpenAI-compatible
server for the ``openai`` engine's tests and the load benchmark.

It needs transformers' ``serving`` extra (fastapi, uvicorn, openai; see requirements-test.txt). The
server runs in a process of its own (its own session, so stopping it stops all of it), offline, on the
CPU, and is ready when ``/health`` answers: pinned to a model, it loads the model before it listens.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

__all__ = ["ModelServer", "free_port"]

_CLI = "from transformers.cli.transformers import app; app()"


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ModelServer:
    """``transformers serve MODEL`` on 127.0.0.1. Use as a context manager, or start() and stop()."""

    def __init__(self, model: Path | str, *, port: int = 0, dtype: str = "float32", ready_seconds: float = 180.0):
        self.model = str(model)  # the name requests must give: a pinned server answers for this name only
        self.port = port or free_port()
        self.dtype = dtype
        self.ready_seconds = ready_seconds
        self._process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def url(self) -> str:
        """The base address the ``openai`` engine takes (SEESAY_VLM_URL)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> ModelServer:
        """Start the server and wait until it answers; raises RuntimeError (with its log) if it does not."""
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_UPDATE_CHECK="1",
                   HF_HUB_DISABLE_TELEMETRY="1", PYTHONUNBUFFERED="1")
        command = [sys.executable, "-c", _CLI, "serve", self.model, "--host", "127.0.0.1", "--port", str(self.port),
                   "--device", "cpu", "--dtype", self.dtype, "--log-level", "warning"]
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)
        deadline = time.monotonic() + self.ready_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self._process.returncode}:\n{self.log()}")
            if self.healthy():
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"transformers serve was not ready in {self.ready_seconds:.0f}s:\n{self.log()}")

    def healthy(self) -> bool:
        """True when ``/health`` answers 200 within a second."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as reply:
                return reply.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        self._signal(signal.SIGKILL)
        if self._process is not None:
            self._process.wait(10)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if not self.running:
            return
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self, tail: int = 4000) -> str:
        """The end of what the server wrote."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-tail:]

    def _signal(self, sig: int) -> None:
        if self.running:
            try:
                os.killpg(self._process.pid, sig)  # its own session: the whole group
            except ProcessLookupError:
                pass

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
