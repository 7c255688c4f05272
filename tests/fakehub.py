"""A model hub on loopback: just what huggingface_hub asks of the real one when it downloads.

* ``GET /api/models/{repo}`` (and ``.../revision/{rev}``): the repository's commit and its files with
  their sizes (``?blobs=true``), as ``HfApi.model_info`` reads it;
* ``HEAD /{repo}/resolve/{rev}/{file}``: the file's metadata in the headers hf_hub_download needs
  (``X-Repo-Commit``, ``ETag``, ``Content-Length``);
* ``GET /{repo}/resolve/{rev}/{file}``: the file itself.

An unknown repository answers 404 with ``X-Error-Code: RepoNotFound``, an unknown file 404 with
``EntryNotFound``, as the hub does. Every request is recorded, and a file can be sent slowly.
Also serves plain files at ``/files/{name}`` (openai-whisper's download server).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]], files: dict[str, bytes] | None = None,
                 *, chunk: int = 64 * 1024, pause: float = 0.0) -> None:
        self.repos = repos  # repo id -> {file name: bytes}
        self.files = files or {}  # plain files, served at /files/{name}
        self.chunk, self.pause = chunk, pause  # bodies go out in pieces of `chunk` bytes, `pause` s apart
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hub._answer(self, body=True)

            def do_HEAD(self):  # noqa: N802
                hub._answer(self, body=False)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def downloads(self) -> list[str]:
        """Paths of the file bodies sent (GET of a file)."""
        return [p for m, p in self.requests if m == "GET" and ("/resolve/" in p or p.startswith("/files/"))]

    # --- answering ---------------------------------------------------------------------------
    def _answer(self, h: BaseHTTPRequestHandler, *, body: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append((h.command, path))
        if path.startswith("/api/models/"):
            return self._info(h, path.removeprefix("/api/models/").split("/revision/")[0])
        if path.startswith("/files/"):
            data = self.files.get(path.removeprefix("/files/"))
            return self._file(h, data, body, {}) if data is not None else self._error(h, 404, "")
        repo, sep, rest = path.lstrip("/").partition("/resolve/")
        if not sep or repo not in self.repos:
            return self._error(h, 404, "RepoNotFound")
        name = rest.partition("/")[2]
        data = self.repos[repo].get(name)
        if data is None:
            return self._error(h, 404, "EntryNotFound")
        self._file(h, data, body, {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'})

    def _info(self, h, repo: str) -> None:
        if repo not in self.repos:
            return self._error(h, 404, "RepoNotFound")
        siblings = [{"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
                    for name, data in self.repos[repo].items()]
        payload = json.dumps({"id": repo, "sha": COMMIT, "siblings": siblings, "private": False}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def _file(self, h, data: bytes, body: bool, headers: dict[str, str]) -> None:
        h.send_response(200)
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body:
            for start in range(0, len(data), self.chunk):
                h.wfile.write(data[start:start + self.chunk])
                h.wfile.flush()
                time.sleep(self.pause)

    def _error(self, h, status: int, code: str) -> None:
        h.send_response(status)
        if code:
            h.send_header("X-Error-Code", code)
        h.send_header("Content-Length", "0")
        h.end_headers()
