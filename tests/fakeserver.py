"""A scripted chat completions server on loopback, for the faults a real server will not produce on demand:
busy replies, a server that accepts and never answers, garbage. Never instead of the real one
(:mod:`core.testmodels.server`) for what a real server can show.

Each request is answered by the next step of the script (the last step repeats). It records what it
was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Step = Callable[[BaseHTTPRequestHandler, "FakeServer"], None]


class FakeServer:
    def __init__(self, *steps: Step):
        self.steps = list(steps)
        self.requests: list[dict] = []  # {"body": parsed JSON, "headers": {...}, "at": monotonic time}
        self.release = threading.Event()  # set on close: hanging steps return
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # no chunking: a body ends when the connection closes

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                server.requests.append({"body": body, "headers": dict(self.headers), "at": time.monotonic(),
                                        "path": self.path})
                step = server.steps[min(len(server.requests) - 1, len(server.steps) - 1)]
                try:
                    step(self, server)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up

            def log_message(self, *args):
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- steps ---------------------------------------------------------------------------------


def chunk(content: str | None = None, *, finish: str | None = None, logprobs: list | None = None) -> str:
    choice: dict = {"index": 0, "delta": {} if content is None else {"content": content}, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = {"content": [{"token": t, "logprob": p} for t, p in logprobs]}
    return "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}) + "\n\n"


def stream(*pieces: str, logprobs: bool = False, done: bool = True, finish: bool = True,
           delay: float = 0.0) -> Step:
    """A streamed answer, one chunk per piece (with made-up log-probabilities when ``logprobs``)."""
    def step(handler, server):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(b'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}\n\n')
        for i, piece in enumerate(pieces):
            time.sleep(delay)
            handler.wfile.write(chunk(piece, logprobs=[(piece, -0.25 * (i + 1))] if logprobs else None).encode())
            handler.wfile.flush()
        if finish:
            handler.wfile.write(chunk(finish="stop").encode())
        if done:
            handler.wfile.write(b"data: [DONE]\n\n")
    return step


def status(code: int, body: str | dict = "", headers: dict | None = None) -> Step:
    """A refusal: ``code`` with ``body`` (a dict is sent as JSON)."""
    def step(handler, server):
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    return step


def raw(data: bytes, content_type: str = "text/event-stream") -> Step:
    """A 200 reply whose body is ``data`` as it is."""
    def step(handler, server):
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.end_headers()
        handler.wfile.write(data)
    return step


def hang(after_headers: bool) -> Step:
    """Accepts the question, then sends nothing (or only the headers) until the server is closed."""
    def step(handler, server):
        if after_headers:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.end_headers()
            handler.wfile.write(chunk("The").encode())
            handler.wfile.flush()
        server.release.wait(60)
    return step
