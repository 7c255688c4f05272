"""The ``openai`` engine: the model runs in a server made for serving it, and SeeSay asks it over HTTP.

Any server with an OpenAI-compatible ``/v1/chat/completions`` endpoint will do: vLLM or SGLang (their
continuous batching writes many people's answers at once), ``transformers serve``, a hosted service.
The conversation is built as the in-process engine builds it (:func:`~core.vlm.prompt.build_messages`:
the same instructions, as a system message; notes after the latest question), the photo goes as a base64
JPEG ``image_url`` in the first user turn, the answer streams back as server-sent events and is cleaned
with :class:`~core.vlm.prompt.AnswerStream`. Decoding is greedy (``temperature: 0``). Token
log-probabilities are asked for (``logprobs: true``) and recorded where the server gives them.

No model is loaded in SeeSay's process and nothing here imports torch: the standard library's
``http.client`` does the talking (:mod:`core.vlm.sse`), with a limit on every wait. A server that is busy
(429, 503) is asked again, after the wait it names in ``Retry-After`` or a doubling back-off, but only
before any of the answer has arrived: text a person has already heard is never asked for twice.

Servers differ in what they accept beyond the standard fields. A minimum answer length (benchmarks force
one) is sent as ``min_tokens`` (vLLM, SGLang); a server that refuses that field by name is sent
``generation_config`` instead (``transformers serve``), and one that refuses both gets neither. A server
that refuses ``logprobs`` is asked without it. What a server refused is remembered for later questions.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, GenerationError, ModelUnavailableError, SeeSayError
from ..i18n import N_
from . import Token
from .prompt import SYSTEM_PROMPT, AnswerStream, Turn, build_messages, strip_control_tokens
from .sse import BrokenOff, Endpoint, Garbled, Reply, TimedOut, TransportError, Unreachable, post

if TYPE_CHECKING:
    from ..images import Photo

__all__ = ["OpenAICompatible", "RemoteOptions", "refusal"]

log = logging.getLogger(__name__)

_ASK_AGAIN = N_("Please ask again. If it keeps happening, tell whoever runs SeeSay.")
UNREACHABLE = (N_("SeeSay cannot reach the server that answers questions."),
               N_("Please try again in a minute. If it keeps happening, tell whoever runs SeeSay."))
BUSY = (N_("The server that answers questions is busy."), N_("Please ask again in a minute."))
SLOW = (N_("The server that answers questions is taking too long to start the answer."), N_("Please ask again in a moment."))
STALLED = (N_("The server that answers questions stopped in the middle of the answer."), N_("Please ask again."))
BROKEN_OFF = (N_("The connection to the server that answers questions broke off before the answer was complete."),
              N_("Please ask again."))
GARBLED = (N_("The server that answers questions sent something SeeSay could not understand."), _ASK_AGAIN)
FAILED = (N_("The server that answers questions ran into a problem with this question."), _ASK_AGAIN)
PHOTO_REFUSED = (N_("The server that answers questions could not use this photo."), N_("Please try another photo."))
TOO_LONG = (N_("This conversation has grown too long for the server that answers questions."),
            N_("Please take the photo again to start a new conversation."))
WRONG_MODEL = (N_("The server that answers questions does not have the model SeeSay asks for."),
               N_("Whoever runs SeeSay should set SEESAY_VLM_MODEL to the name the server gives its model."))
KEY_REFUSED = (N_("The server that answers questions refused SeeSay's key."),
               N_("Whoever runs SeeSay should check SEESAY_VLM_API_KEY."))
NO_SERVICE = (N_("The address SeeSay has for its answering server does not lead to a chat service."),
              N_("Whoever runs SeeSay should check SEESAY_VLM_URL; it usually ends in /v1."))

_MIN_LENGTH_FORMS = ("min_tokens", "generation_config", "")  # tried in this order; "" = not sent


@dataclass(frozen=True)
class RemoteOptions:
    """How the ``openai`` engine talks to its server."""

    system_prompt: str = SYSTEM_PROMPT  # instructions for every conversation
    connect_seconds: float = 5.0  # to open the connection (SEESAY_NETWORK_TIMEOUT)
    # from the question to the first piece of the answer: the server may be queueing it behind others
    first_token_seconds: float = 120.0
    chunk_seconds: float = 30.0  # between two pieces once the answer has started
    retries: int = 3  # askings again on 429 / 503, before any of the answer has arrived
    backoff_seconds: float = 1.0  # the first wait when the server names none; doubles each time
    longest_wait_seconds: float = 20.0  # a server asking for a longer wait is not waited for
    parallel: int = 32  # questions SeeSay sends at once (the server batches them); more wait their turn
    jpeg_quality: int = 90  # the photo is sent as a JPEG of this quality


class OpenAICompatible:
    """A vision-language model behind an OpenAI-compatible chat completions server."""

    name = "openai"
    can_sample = True

    def __init__(self, url: str, model: str, *, api_key: str = "", options: RemoteOptions = RemoteOptions()):
        try:
            self.endpoint = Endpoint.parse(url, "/chat/completions")
        except ValueError as exc:
            raise ConfigError(N_("SEESAY_VLM_URL is {url}, which is {problem}."),
                              N_("Use the server's address, for example http://gpu-box:8000/v1."),
                              url=repr(url), problem=str(exc)) from exc
        if not model.strip():
            raise ConfigError(N_("No model name is set for the answering server."),
                              N_("Set SEESAY_VLM_MODEL to the name the server gives its model."))
        self.model = model.strip()
        self.options = options
        self._api_key = api_key.strip()
        self._refused: set[str] = set()  # optional request fields this server refuses
        self._min_form = 0  # index in _MIN_LENGTH_FORMS of the way to send a minimum length
        self._learn = threading.Lock()

    def __repr__(self) -> str:  # never the key
        return f"OpenAICompatible({str(self.endpoint)!r}, model={self.model!r})"

    # -- the protocol ---------------------------------------------------------------------------

    def prepare(self, photo: Photo) -> None:
        """Nothing to do ahead: the server encodes the photo with each question (vLLM keeps a prefix cache)."""

    def stream(self, photo: Photo, history: Sequence[Turn], question: str, *, max_new_tokens: int,
               min_new_tokens: int = 0, notes: Sequence[str] = (),
               tokens: list[Token] | None = None) -> Iterator[str]:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
        messages = self.messages(photo, history, question, notes)
        t0 = time.perf_counter()
        reply = self._send(messages, max_new_tokens, max(0, min(min_new_tokens, max_new_tokens)))
        answer = AnswerStream()
        first = None
        try:
            for piece, logprobs in self._pieces(reply):
                if tokens is not None:
                    tokens.extend(logprobs)
                if first is None and piece:
                    first = time.perf_counter() - t0
                    reply.set_timeout(self.options.chunk_seconds)
                text = answer.feed(piece)
                if text:
                    yield text
                if answer.stopped:  # the model began a new turn by itself: hang up, the server stops
                    break
            rest = answer.finish()
            if rest:
                yield rest
            log.info("answer of %d characters in %.2fs (first piece after %.2fs)", len(answer.sent),
                     time.perf_counter() - t0, first or 0.0)
        finally:
            reply.close()  # also when the person leaves early

    def sample(self, photo: Photo, history: Sequence[Turn], question: str, *, max_new_tokens: int,
               notes: Sequence[str] = (), temperature: float = 0.7, seed: int = 0) -> str:
        """One answer written with sampling (``seed`` where the server honours it): for the agreement
        between a few answers (core.confidence.agreement)."""
        reply = self._send(self.messages(photo, history, question, notes), max_new_tokens, 0,
                           sampling={"temperature": temperature, "top_p": 0.95, "seed": seed})
        answer = AnswerStream()
        try:
            text = "".join(answer.feed(piece) for piece, _ in self._pieces(reply))
        finally:
            reply.close()
        return text + answer.finish()

    # -- the request ----------------------------------------------------------------------------

    def messages(self, photo: Photo, history: Sequence[Turn], question: str, notes: Sequence[str] = ()) -> list[dict]:
        """The chat messages sent for ``question``: the photo as a data URL in the first user turn only."""
        def clean(text: str) -> str:  # no control tokens: a question cannot forge turns or images
            return " ".join(strip_control_tokens(text, ("<image>", "<s>", "</s>", "<unk>", "<pad>")).split())

        turns = [Turn(clean(turn.question), clean(turn.answer)) for turn in history]
        messages = build_messages(turns, clean(question), system_prompt=self.options.system_prompt,
                                  has_system_role=True, notes=[clean(n) for n in notes])
        url = "data:image/jpeg;base64," + base64.b64encode(photo.jpeg(self.options.jpeg_quality)).decode("ascii")
        for message in messages:
            message["content"] = [{"type": "image_url", "image_url": {"url": url}} if part["type"] == "image"
                                  else part for part in message["content"]]
        return messages

    def _body(self, messages: list[dict], max_new_tokens: int, min_new_tokens: int,
              sampling: dict | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                "max_tokens": max_new_tokens, "temperature": 0}
        body.update({k: v for k, v in (sampling or {}).items() if k not in self._refused})
        if "logprobs" not in self._refused:
            body["logprobs"] = True
        form = _MIN_LENGTH_FORMS[self._min_form]
        if min_new_tokens and form == "min_tokens":
            body["min_tokens"] = min_new_tokens
        elif min_new_tokens and form == "generation_config":
            body["generation_config"] = json.dumps({"min_new_tokens": min_new_tokens})
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "User-Agent": "SeeSay"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _send(self, messages: list[dict], max_new_tokens: int, min_new_tokens: int,
              sampling: dict | None = None) -> Reply:
        """The server's streaming reply, after asking again while it is busy; raises what a person hears."""
        busy = 0
        while True:
            body = self._body(messages, max_new_tokens, min_new_tokens, sampling)
            try:
                reply = post(self.endpoint, json.dumps(body).encode("utf-8"), self._headers(),
                             connect_seconds=self.options.connect_seconds,
                             read_seconds=self.options.first_token_seconds)
            except TransportError as exc:
                raise self._transport_error(exc, started=False) from exc
            if reply.status == 200:
                return reply
            detail = self._hide_key(reply.body().decode("utf-8", "replace"))
            reply.close()
            if reply.status in (400, 422) and self._drop_refused_field(body, detail):
                continue
            if reply.status in (429, 503) and busy < self.options.retries:
                wait = _retry_after(reply.headers.get("retry-after"))
                if wait is None:
                    wait = self.options.backoff_seconds * 2 ** busy
                if wait <= self.options.longest_wait_seconds:
                    log.info("answering server busy (HTTP %d); asking again in %.1fs", reply.status, wait)
                    time.sleep(wait)
                    busy += 1
                    continue
            log.warning("answering server refused the question: HTTP %d: %s", reply.status, detail[:500])
            raise refusal(reply.status, detail)

    def _drop_refused_field(self, body: dict, detail: str) -> bool:
        """Learns that the server refuses an optional field of ``body`` by name; True: ask again without it."""
        refused = detail.lower()
        with self._learn:
            if "logprobs" in body and "logprobs" in refused:
                self._refused.add("logprobs")
                log.info("the answering server does not take logprobs: token probabilities will not be known")
                return True
            for field in ("seed", "top_p"):  # optional for sampling: some servers take neither
                if field in body and field in refused:
                    self._refused.add(field)
                    log.info("the answering server does not take %s when sampling", field)
                    return True
            for form in ("min_tokens", "generation_config"):
                if form in body and form in refused and _MIN_LENGTH_FORMS[self._min_form] == form:
                    self._min_form += 1
                    log.info("the answering server does not take %s for a minimum answer length", form)
                    return True
        return False

    # -- the reply ------------------------------------------------------------------------------

    def _pieces(self, reply: Reply) -> Iterator[tuple[str, list[Token]]]:
        """(text, tokens) of each chunk of the answer; raises what a person hears if it does not end well."""
        started = False  # some of the answer has arrived
        try:
            if "json" in reply.content_type:  # a server that does not stream: the whole answer at once
                piece, logprobs, _ = _chunk(_json(reply.body(1 << 24)), "message")
                yield piece, logprobs
                return
            finished = False
            for data in reply.events():
                if data.strip() == "[DONE]":
                    return
                piece, logprobs, finish = _chunk(_json(data.encode("utf-8")), "delta")
                finished = finished or bool(finish)
                started = started or bool(piece)
                yield piece, logprobs
            if not finished:
                raise BrokenOff("the stream ended without a finish reason")
        except TransportError as exc:
            raise self._transport_error(exc, started=started) from exc

    def _transport_error(self, exc: TransportError, *, started: bool) -> SeeSayError:
        log.warning("answering server at %s: %s: %s", self.endpoint, type(exc).__name__, self._hide_key(str(exc)))
        if isinstance(exc, Unreachable):
            return ModelUnavailableError(*UNREACHABLE)
        if isinstance(exc, TimedOut):
            return GenerationError(*(STALLED if started else SLOW))
        if isinstance(exc, _ServerError):
            return GenerationError(*FAILED)
        if isinstance(exc, Garbled):
            return GenerationError(*GARBLED)
        return GenerationError(*BROKEN_OFF)

    def _hide_key(self, text: str) -> str:
        return text.replace(self._api_key, "[key]") if self._api_key else text


class _ServerError(TransportError):
    """The server reported an error in the middle of the stream."""


def _json(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise Garbled(f"not JSON: {data[:120]!r}") from exc
    if not isinstance(value, dict):
        raise Garbled(f"not a JSON object: {data[:120]!r}")
    if value.get("error"):
        raise _ServerError(f"error event: {str(value['error'])[:300]}")
    return value


def _chunk(value: dict, part: str) -> tuple[str, list[Token], str]:
    """(text, tokens, finish reason) of a chunk (``part="delta"``) or a whole answer (``"message"``)."""
    choices = value.get("choices")
    if not isinstance(choices, list):
        raise Garbled(f"no choices in {str(value)[:120]!r}")
    if not choices:  # a usage-only chunk
        return "", [], ""
    choice = choices[0]
    content = choice.get(part, {}).get("content") if isinstance(choice, dict) else None
    if content is not None and not isinstance(content, str):
        raise Garbled(f"content is not text: {str(choice)[:120]!r}")
    tokens = []
    logprobs = choice.get("logprobs") or {}
    for item in (logprobs.get("content") or []) if isinstance(logprobs, dict) else []:
        try:
            tokens.append(Token(str(item["token"]), float(item["logprob"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise Garbled(f"a token log-probability that is not one: {str(item)[:120]!r}") from exc
    return content or "", tokens, str(choice.get("finish_reason") or "")


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number, or an HTTP date); None when there is none."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def refusal(status: int, detail: str) -> SeeSayError:
    """What a person hears when the server answers ``status`` with ``detail`` (its error text)."""
    text = detail.lower()
    if status in (401, 403):
        return ModelUnavailableError(*KEY_REFUSED)
    if status in (429, 503):
        return ModelUnavailableError(*BUSY)
    if status == 413:
        return GenerationError(*PHOTO_REFUSED)
    if status in (400, 404, 422):
        if "context length" in text or "too long" in text or "maximum context" in text:
            return GenerationError(*TOO_LONG)
        if "image" in text:
            return GenerationError(*PHOTO_REFUSED)
        if "model" in text or "pinned" in text:
            return ModelUnavailableError(*WRONG_MODEL)
        if status == 404:
            return ModelUnavailableError(*NO_SERVICE)
    if status in (405, 501):
        return ModelUnavailableError(*NO_SERVICE)
    if status in (502, 504):  # a proxy in front of the server cannot reach it
        return ModelUnavailableError(*UNREACHABLE)
    return GenerationError(*FAILED)
