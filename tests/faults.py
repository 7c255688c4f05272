"""Fault injection for tests: networks that refuse, hang or answer 429, and a network guard.

There is no internet here, and tests must not depend on Google anyway: gTTS is pointed, inside
this process only, at loopback servers through a patched ``socket.getaddrinfo`` (the seam
``/work/shared/recipes/gtts_hang.py`` uses). gTTS speaks HTTPS with ``verify=False``, so a loopback
TLS server with a throw-away self-signed certificate (made with the ``openssl`` command) stands in
for Google: it can answer 429, or send back an MP3 the way Google does.

Import the fixtures into a test module to use them (``from tests.faults import fake_google``);
``no_proxies`` is autouse wherever it is imported.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

__all__ = [
    "closed_port",
    "fake_google",
    "is_loopback",
    "no_network",
    "no_proxies",
    "outside_connections",
    "redirect_google",
    "silent_server",
    "spoken_texts",
    "tls_files",
]


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    # gTTS passes urllib's environment proxies to requests: they would bypass our loopback.
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def redirect_google(monkeypatch, port: int) -> list[str]:
    """Resolve Google's hosts to 127.0.0.1:``port``; returns the hosts looked up."""
    original, looked_up = socket.getaddrinfo, []

    def getaddrinfo(host, service, *args, **kwargs):
        if "google" in str(host):
            looked_up.append(str(host))
            return original("127.0.0.1", port, *args, **kwargs)
        return original(host, service, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    return port


@pytest.fixture
def silent_server():
    """Accepts connections and never says a word (a host that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], held
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A throw-away self-signed certificate for the fake Google (gTTS does not verify it)."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=translate.google.com"], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def fake_google(tls_files, monkeypatch):
    """A loopback HTTPS server in Google's place; set ``.status`` and ``.audio`` to script it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            server.requests.append((self.path, body))
            if server.status != 200:
                self.send_response(server.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            # Google's batchexecute answer: the MP3, base64, inside a JSON-ish line.
            b64 = base64.b64encode(server.audio).decode()
            payload = (")]}'\n\n" + json.dumps([["wrb.fr", "jQ1olc", json.dumps([b64]), None, None, None,
                                                  "generic"]], separators=(",", ":")) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.status, server.audio, server.requests = 200, b"", []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    redirect_google(monkeypatch, server.server_address[1])
    yield server
    server.shutdown()
    server.server_close()


def spoken_texts(server) -> list[tuple[str, str]]:
    """(text, language) of each request gTTS sent to the fake Google."""
    out = []
    for _, body in server.requests:
        rpc = json.loads(urllib.parse.parse_qs(body)["f.req"][0])
        text, language = json.loads(rpc[0][0][1])[:2]
        out.append((text, language))
    return out


@pytest.fixture
def no_network(monkeypatch):
    """Every way Python opens a connection fails and is recorded."""
    attempts = []

    def refuse(what):
        def call(*args, **kwargs):
            attempts.append(what)
            raise OSError(f"test forbids network: {what}")
        return call

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    return attempts


def is_loopback(address) -> bool:
    """True for a Unix socket path, localhost, 127.0.0.0/8 or ::1 (a (host, port, ...) tuple or a host)."""
    if isinstance(address, (str, bytes)):
        host = address.decode() if isinstance(address, bytes) else address
        if host.startswith(("/", "\0")) or host == "":
            return True  # AF_UNIX path, abstract socket, or "any" (never an outside host)
    else:
        host = str(address[0]) if address else ""
    if host in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def outside_connections(monkeypatch):
    """Records, and refuses, every connection or name lookup that would leave this machine.

    Loopback (what a test harness may use between its own parts) is recorded in ``.loopback``
    and allowed; everything else lands in the returned list and fails with OSError.
    """

    class Recorder(list):
        loopback: list

    outside = Recorder()
    outside.loopback = []
    real = {"getaddrinfo": socket.getaddrinfo, "create_connection": socket.create_connection,
            "connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex}

    def check(what, target):
        if is_loopback(target):
            outside.loopback.append((what, target))
            return
        outside.append((what, target))
        raise OSError(f"test forbids leaving this machine: {what} {target!r}")

    def getaddrinfo(host, port, *args, **kwargs):
        check("getaddrinfo", host if host is not None else "")
        return real["getaddrinfo"](host, port, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        check("create_connection", address)
        return real["create_connection"](address, *args, **kwargs)

    def connect(self, address):
        check("connect", address)
        return real["connect"](self, address)

    def connect_ex(self, address):
        check("connect_ex", address)
        return real["connect_ex"](self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return outside
