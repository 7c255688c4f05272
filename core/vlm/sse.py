"""One HTTP POST whose answer streams back as server-sent events, on the standard library alone.

Every wait has a limit of its own: connecting, then each read (the caller sets a long one while the
server may still be queueing the question, and a short one between the chunks of an answer that has
started). What goes wrong on the way is one of four :class:`TransportError` kinds, which the engine
turns into what a person hears; nothing here knows about models or messages.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Endpoint", "Reply", "TransportError", "Unreachable", "TimedOut", "BrokenOff", "Garbled", "post"]

MAX_LINE = 1 << 20  # one event's line; a longer one is not a chat server's answer
MAX_ERROR_BODY = 64 * 1024  # how much of a refusal's body is read (for the log)


class TransportError(Exception):
    """The exchange with the server failed; ``str()`` is a detail for the log."""


class Unreachable(TransportError):
    """No connection could be made (refused, unknown host, connect timeout, TLS failure)."""


class TimedOut(TransportError):
    """Connected, but nothing arrived within the read limit."""


class BrokenOff(TransportError):
    """The connection ended or was reset before the answer was complete."""


class Garbled(TransportError):
    """What arrived is not HTTP, or not server-sent events."""


@dataclass(frozen=True)
class Endpoint:
    """Where the requests go: ``http(s)://host:port/path``."""

    scheme: str  # "http" or "https"
    host: str
    port: int
    path: str  # e.g. "/v1/chat/completions"

    @classmethod
    def parse(cls, url: str, suffix: str = "") -> Endpoint:
        """``url`` (a base such as ``http://gpu-box:8000/v1``) with ``suffix`` added unless it ends with it.

        Raises ValueError for anything that is not an http(s) URL with a host.
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http:// or https:// address with a host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:  # "host:abc"
            raise ValueError("the port is not a number") from exc
        path = parts.path.rstrip("/")
        if suffix and not path.endswith(suffix):
            path += suffix
        return cls(parts.scheme, parts.hostname, port, path or "/")

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"


class Reply:
    """A server's reply: status and headers at once, the body as it streams. Close it when done."""

    def __init__(self, conn: http.client.HTTPConnection, sock: socket.socket, response: http.client.HTTPResponse):
        self._conn, self._sock, self._response = conn, sock, response
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def set_timeout(self, seconds: float) -> None:
        """The limit for each later read."""
        self._sock.settimeout(seconds)

    def body(self, limit: int = MAX_ERROR_BODY) -> bytes:
        """Up to ``limit`` bytes of the body (a refusal's explanation, or a whole JSON answer)."""
        try:
            return self._read(lambda: self._response.read(limit))
        except BrokenOff:
            return b""

    def lines(self) -> Iterator[bytes]:
        """The body's lines, without their line ends, as they arrive. Ends at the end of the body."""
        while True:
            line = self._read(lambda: self._response.readline(MAX_LINE + 1))
            if not line:
                return
            if len(line) > MAX_LINE:
                raise Garbled(f"a line of more than {MAX_LINE} bytes")
            yield line.rstrip(b"\r\n")

    def events(self) -> Iterator[str]:
        """The ``data`` of each server-sent event, as it arrives; ends when the body ends."""
        data: list[str] = []
        seen_field = False
        for raw in self.lines():
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Garbled("an event that is not UTF-8") from exc
            if not line:  # a blank line ends an event
                if data:
                    yield "\n".join(data)
                data = []
                continue
            name, _, value = line.partition(":")
            if name == "":  # a comment (keep-alive)
                continue
            if name not in ("data", "event", "id", "retry"):
                if not seen_field:
                    raise Garbled(f"not server-sent events: {line[:80]!r}")
                continue
            seen_field = True
            if name == "data":
                data.append(value[1:] if value.startswith(" ") else value)
        if data:
            yield "\n".join(data)

    def close(self) -> None:
        """Hang up: a server that is still writing sees the connection go and can stop."""
        for closing in (self._response.close, self._conn.close, self._sock.close):
            try:
                closing()
            except OSError:
                pass

    def _read(self, read):
        try:
            return read()
        except TimeoutError as exc:  # socket.timeout
            raise TimedOut("no data within the read limit") from exc
        except http.client.IncompleteRead as exc:
            raise BrokenOff("the body ended early") from exc
        except (ConnectionError, http.client.HTTPException, OSError, ValueError) as exc:
            raise BrokenOff(f"{type(exc).__name__}: {exc}") from exc


def post(endpoint: Endpoint, body: bytes, headers: dict[str, str], *, connect_seconds: float,
         read_seconds: float) -> Reply:
    """POST ``body``; returns once the status line and headers are in (within ``read_seconds``)."""
    if endpoint.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            endpoint.host, endpoint.port, timeout=connect_seconds, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=connect_seconds)
    try:
        conn.connect()
    except (OSError, ssl.SSLError) as exc:
        conn.close()
        raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
    sock = conn.sock
    sock.settimeout(read_seconds)
    try:
        conn.request("POST", endpoint.path, body=body, headers=headers)
        response = conn.getresponse()
    except TimeoutError as exc:
        conn.close()
        raise TimedOut("no reply within the read limit") from exc
    except (http.client.BadStatusLine, http.client.LineTooLong) as exc:
        conn.close()
        if isinstance(exc, http.client.RemoteDisconnected):
            raise BrokenOff("the server closed the connection without replying") from exc
        raise Garbled(f"not an HTTP reply: {exc}") from exc
    except (ConnectionError, http.client.HTTPException, OSError) as exc:
        conn.close()
        raise BrokenOff(f"{type(exc).__name__}: {exc}") from exc
    return Reply(conn, sock, response)
