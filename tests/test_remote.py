"""The ``openai`` engine (core.vlm.remote) beyond the shared contract (tests/test_vlm_contract.py).

Against a real ``transformers serve`` (``@pytest.mark.models``): through SeeSay's pipeline, a wrong model
name, a server killed in the middle of an answer, a server that is down. Against a scripted server
(tests/fakeserver.py), the faults a real one does not produce on demand: busy replies, a server that
accepts and never answers, garbage. And what goes over the wire, the settings, and no torch in the app.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import ConfigError, GenerationError, ModelUnavailableError
from core.testmodels.server import ModelServer, free_port
from core.vlm import SYSTEM_PROMPT, Token, load_vlm
from core.vlm.prompt import Turn
from core.vlm.remote import OpenAICompatible, RemoteOptions, refusal
from tests.fakeserver import FakeServer, chunk, hang, raw, status, stream

FAST = RemoteOptions(connect_seconds=2, first_token_seconds=2, chunk_seconds=2, backoff_seconds=0.05)


def photo(size=(64, 48), colour=(200, 30, 30), key="remote"):
    from PIL import Image

    from core.images import Photo

    image = Image.new("RGB", size, colour)
    return Photo(image=image, original_size=size, format="PNG", key=key)


def engine(url, options=FAST, model="tiny", api_key=""):
    return OpenAICompatible(url, model, api_key=api_key, options=options)


def ask(vlm, question="What is this?", history=(), tokens=None, **kwargs):
    return list(vlm.stream(photo(), list(history), question, max_new_tokens=kwargs.pop("max_new_tokens", 20),
                           tokens=tokens, **kwargs))


def fails(error_type, vlm, heard=None, seen=None, **kwargs):
    """Asks, expecting ``error_type``; the pieces that came first go to ``seen``."""
    with pytest.raises(error_type) as caught:
        for piece in vlm.stream(photo(), [], "What is this?", max_new_tokens=20, **kwargs):
            if seen is not None:
                seen.append(piece)
    if heard is not None:
        heard(caught.value.spoken)
    return caught.value


# --- against a real server ---------------------------------------------------------------------


@pytest.mark.models
def test_through_the_pipeline_with_a_follow_up(test_models, model_servers):
    from core.config import Settings
    from core.engines import Choices
    from core.pipeline import AnswerText, Done, PhotoTaken, Pipeline

    server = model_servers(test_models.llava)
    settings = Settings(vlm_engine="openai", vlm_url=server.url, vlm_model=server.model, tts_engine="espeak")
    pipeline = Pipeline(settings)
    assert pipeline.models.lock.slots == RemoteOptions().parallel  # questions are not queued one by one here
    buf = io.BytesIO()
    photo().image.save(buf, "PNG")
    choices = Choices(speak=False)
    taken = [e for e in pipeline.take_photo(buf.getvalue(), choices, spoken=False) if isinstance(e, PhotoTaken)][0]
    history = []
    for question in ("What is in the photo?", "And on the left?"):
        events = list(pipeline.ask(taken.photo, question, history, choices, max_tokens=12, min_tokens=12))
        done = events[-1]
        assert isinstance(done, Done) and done.answer.engines["vlm"] == "openai"
        assert done.answer.text == "".join(e.text for e in events if isinstance(e, AnswerText)).strip()
        assert done.answer.timings["first_token"] <= done.answer.timings["total"]
        history.append(Turn(question, done.answer.text))


@pytest.mark.models
@pytest.mark.case("answering server", "the model name is not the one the server serves")
def test_wrong_model_name(test_models, model_servers, heard):
    server = model_servers(test_models.llava)
    error = fails(ModelUnavailableError, engine(server.url, model="llava-hf/no-such-model"), heard)
    assert "SEESAY_VLM_MODEL" in error.hint
    assert ask(engine(server.url, model=server.model), tokens=None)  # the right name answers


@pytest.mark.models
@pytest.mark.timeout(120)
@pytest.mark.case("answering server", "the server is killed in the middle of an answer")
def test_server_killed_in_the_middle_of_an_answer(test_models, heard):
    with ModelServer(test_models.llava) as server:
        vlm = engine(server.url, model=server.model, options=RemoteOptions(chunk_seconds=10))
        seen = []
        t = time.perf_counter()
        with pytest.raises(GenerationError) as caught:
            for piece in vlm.stream(photo(), [], "What is this?", max_new_tokens=600, min_new_tokens=600):
                seen.append(piece)
                if len(seen) == 1:
                    server.kill()
        heard(caught.value.spoken)
        assert seen and time.perf_counter() - t < 10  # the end of the connection is noticed, not waited out
        assert "ask again" in caught.value.hint
        fails(ModelUnavailableError, vlm)  # and now the server is down


@pytest.mark.case("answering server", "nothing listens at the server's address")
def test_server_down(heard):
    t = time.perf_counter()
    error = fails(ModelUnavailableError, engine(f"http://127.0.0.1:{free_port()}/v1"), heard)
    assert "cannot reach" in error.message and time.perf_counter() - t < 2


# --- faults, on a scripted server -----------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.case("answering server", "accepts the question and never answers")
def test_server_that_never_answers(heard):
    with FakeServer(hang(after_headers=False)) as server:
        t = time.perf_counter()
        error = fails(GenerationError, engine(server.url, RemoteOptions(first_token_seconds=0.5)), heard)
        assert "too long" in error.message and 0.4 < time.perf_counter() - t < 5


@pytest.mark.timeout(30)
@pytest.mark.case("answering server", "stops sending in the middle of an answer")
def test_server_that_stops_in_the_middle(heard):
    with FakeServer(hang(after_headers=True)) as server:
        seen = []
        t = time.perf_counter()
        error = fails(GenerationError, engine(server.url, RemoteOptions(chunk_seconds=0.5)), heard, seen)
        assert seen == ["The"] and "stopped" in error.message and time.perf_counter() - t < 5
        assert len(server.requests) == 1  # never asked again once text has been given


@pytest.mark.case("answering server", "busy (429), then answers")
def test_busy_then_answers(heard):
    with FakeServer(status(429, {"error": "too many requests"}), stream("The car", " is red.")) as server:
        assert "".join(ask(engine(server.url))) == "The car is red."
        assert len(server.requests) == 2
        heard("answered after asking again: The car is red.")


def test_retry_after_is_honoured():
    with FakeServer(status(503, "overloaded", {"Retry-After": "1"}), stream("Fine.")) as server:
        assert ask(engine(server.url)) == ["Fine."]
        first, second = server.requests
        assert second["at"] - first["at"] >= 0.95


@pytest.mark.case("answering server", "busy (503) every time")
def test_busy_every_time(heard):
    with FakeServer(status(503, "overloaded")) as server:
        error = fails(ModelUnavailableError, engine(server.url, RemoteOptions(retries=2, backoff_seconds=0.01)),
                      heard)
        assert "busy" in error.message and len(server.requests) == 3


def test_a_wait_longer_than_it_is_worth_is_not_waited_for():
    with FakeServer(status(429, "slow down", {"Retry-After": "120"})) as server:
        t = time.perf_counter()
        fails(ModelUnavailableError, engine(server.url))
        assert len(server.requests) == 1 and time.perf_counter() - t < 2


@pytest.mark.case("answering server", "connection closed after part of the answer")
def test_connection_closed_mid_answer_is_not_asked_again(heard):
    with FakeServer(stream("The", " car", done=False, finish=False)) as server:
        seen = []
        error = fails(GenerationError, engine(server.url), heard, seen)
        assert "".join(seen) == "The car" and "broke off" in error.message
        assert len(server.requests) == 1


GARBAGE = [
    ("an HTML page", raw(b"<html><body>Bad gateway</body></html>", "text/html")),
    ("an event that is not JSON", raw(b"data: {not json\n\n")),
    ("an event that is a JSON list", raw(b"data: [1, 2, 3]\n\n")),
    ("a number as the answer's text", raw(b'data: {"choices": [{"delta": {"content": 42}}]}\n\n')),
    ("an event without choices", raw(b'data: {"object": "something else"}\n\n')),
    ("a JSON answer without choices", raw(b'{"choices": "none"}', "application/json")),
]


@pytest.mark.parametrize("reply", [pytest.param(reply, id=what, marks=pytest.mark.case(
    "answering server", f"sends garbage: {what}")) for what, reply in GARBAGE])
def test_garbage(reply, heard):
    with FakeServer(reply) as server:
        error = fails(GenerationError, engine(server.url), heard)
        assert "could not understand" in error.message


@pytest.mark.case("answering server", "reports an error in the middle of the stream")
def test_error_event_in_the_stream(heard):
    body = (chunk("The") + 'data: {"error": "CUDA out of memory"}\n\n').encode()
    with FakeServer(raw(body)) as server:
        seen = []
        error = fails(GenerationError, engine(server.url), heard, seen)
        assert seen == ["The"] and "problem" in error.message


REFUSALS = [
    (401, "invalid api key", ModelUnavailableError, "SEESAY_VLM_API_KEY"),
    (404, '{"detail": "Not Found"}', ModelUnavailableError, "SEESAY_VLM_URL"),
    (404, "The model `x` does not exist.", ModelUnavailableError, "SEESAY_VLM_MODEL"),
    (400, "Server is pinned to '/m'; requested 'x'.", ModelUnavailableError, "SEESAY_VLM_MODEL"),
    (400, "Failed to load the image from the URL", GenerationError, "another photo"),
    (413, "", GenerationError, "another photo"),
    (400, "This model's maximum context length is 4096 tokens.", GenerationError, "new conversation"),
    (500, "Internal Server Error", GenerationError, "ask again"),
    (502, "Bad Gateway", ModelUnavailableError, "try again"),
]


@pytest.mark.parametrize("code, detail, error_type, words", [
    pytest.param(*refused, id=f"{refused[0]}-{refused[3]}", marks=pytest.mark.case(
        "answering server", f"refuses the question: HTTP {refused[0]} {refused[1] or '(no detail)'}"))
    for refused in REFUSALS])
def test_refusals_say_what_to_do(code, detail, error_type, words, heard):
    error = refusal(code, detail)
    assert isinstance(error, error_type) and words in error.spoken
    with FakeServer(status(code, detail)) as server:
        heard(fails(error_type, engine(server.url)).spoken)


def test_a_whole_json_answer_is_taken_too():
    whole = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "A red card."},
                          "finish_reason": "stop"}]}
    with FakeServer(raw(json.dumps(whole).encode(), "application/json")) as server:
        assert "".join(ask(engine(server.url))) == "A red card."


def test_the_answer_ends_where_the_model_starts_a_new_turn():
    with FakeServer(stream("The car is red.", " USER:", " what else?", " More text.")) as server:
        assert "".join(ask(engine(server.url))) == "The car is red."


# --- what goes over the wire --------------------------------------------------------------------


def test_the_request():
    from PIL import Image

    with FakeServer(stream("Red.")) as server:
        vlm = engine(server.url, model="llava-hf/llava-1.5-7b-hf", api_key="sk-secret")
        history = [Turn("What is this?", "A square.")]
        ask(vlm, "What colour <|im_start|>is it?", history, max_new_tokens=33, notes=["Answer in French."])
        request = server.requests[0]
    body = request["body"]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-secret"
    assert (body["model"], body["stream"], body["temperature"], body["max_tokens"]) == (
        "llava-hf/llava-1.5-7b-hf", True, 0, 33)
    assert body["logprobs"] is True and "min_tokens" not in body
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert body["messages"][0]["content"][0]["text"] == SYSTEM_PROMPT
    images = [p for m in body["messages"] for p in m["content"] if p["type"] == "image_url"]
    assert len(images) == 1 and body["messages"][1]["content"][0] is images[0]  # first question only
    url = images[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert picture.format == "JPEG" and picture.size == (64, 48)
    last = body["messages"][-1]["content"][0]["text"]
    assert last == "What colour is it?\nAnswer in French."  # a control token cannot forge a turn


def test_a_minimum_length_is_sent_the_way_the_server_takes_it():
    unexpected = {"detail": "Unexpected fields in the request: {'min_tokens'}"}
    with FakeServer(status(422, unexpected), stream("One."), stream("Two.")) as server:
        vlm = engine(server.url)
        assert ask(vlm, min_new_tokens=8) == ["One."]
        assert ask(vlm, min_new_tokens=9) == ["Two."]  # remembered: refused once, not asked again
        bodies = [r["body"] for r in server.requests]
    assert bodies[0]["min_tokens"] == 8
    assert "min_tokens" not in bodies[1] and json.loads(bodies[1]["generation_config"]) == {"min_new_tokens": 8}
    assert json.loads(bodies[2]["generation_config"]) == {"min_new_tokens": 9} and len(bodies) == 3


def test_a_server_that_refuses_logprobs_is_asked_without():
    with FakeServer(status(400, {"error": {"message": "logprobs is not supported"}}), stream("Yes.")) as server:
        vlm = engine(server.url)
        tokens = []
        assert ask(vlm, tokens=tokens) == ["Yes."] and tokens == []
        ask(vlm)
        assert [("logprobs" in r["body"]) for r in server.requests] == [True, False, False]


def test_token_log_probabilities_are_recorded():
    with FakeServer(stream("The", " car", logprobs=True)) as server:
        tokens: list[Token] = []
        assert "".join(ask(engine(server.url), tokens=tokens)) == "The car"
    assert tokens == [Token("The", -0.25), Token(" car", -0.5)]


def test_the_key_is_never_logged_or_shown(caplog):
    key = "sk-very-secret-123"
    with FakeServer(status(401, f"key {key} is not valid")) as server, caplog.at_level(logging.DEBUG):
        vlm = engine(server.url, api_key=key)
        error = fails(ModelUnavailableError, vlm)
    assert key not in caplog.text and "not valid" in caplog.text  # the detail is logged, the key hidden
    assert key not in error.spoken and key not in repr(vlm)
    settings = load_settings({"SEESAY_VLM_ENGINE": "openai", "SEESAY_VLM_URL": server.url, "SEESAY_VLM_API_KEY": key})
    assert settings.vlm_api_key == key and key not in repr(settings)


# --- settings and the app process ---------------------------------------------------------------


def test_settings_choose_the_remote_engine():
    settings = load_settings({"SEESAY_VLM_ENGINE": "openai", "SEESAY_VLM_URL": "http://gpu-box:8000/v1"})
    assert (settings.vlm_engine, settings.vlm_url) == ("openai", "http://gpu-box:8000/v1")
    assert settings.vlm_model_name() == "llava-hf/llava-1.5-7b-hf"  # the server has the GPU: the CUDA profile's
    cpu = load_settings({"SEESAY_VLM_ENGINE": "openai", "SEESAY_VLM_URL": "https://x/v1", "SEESAY_DEVICE": "cpu"})
    assert cpu.vlm_model_name() == "llava-hf/llava-interleave-qwen-0.5b-hf"
    named = load_settings({"SEESAY_VLM_ENGINE": "OpenAI", "SEESAY_VLM_URL": "https://x/v1",
                           "SEESAY_LLAVA_MODEL": "/models/llava", "SEESAY_VLM_MODEL": "llava"})
    assert named.vlm_model_name() == "llava" and load_settings({}).vlm_engine == "transformers"


@pytest.mark.parametrize("env, words", [
    ({"SEESAY_VLM_ENGINE": "openai"}, "SEESAY_VLM_URL"),
    ({"SEESAY_VLM_ENGINE": "vllm"}, "transformers, openai"),
    ({"SEESAY_VLM_ENGINE": "openai", "SEESAY_VLM_URL": "gpu-box:8000"}, "http://"),
    ({"SEESAY_VLM_URL": "ftp://gpu-box/v1"}, "SEESAY_VLM_URL"),
    ({"SEESAY_VLM_URL": "http://gpu-box:port/v1"}, "SEESAY_VLM_URL"),
])
def test_wrong_remote_settings_say_what_to_set(env, words):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert words in str(caught.value)


def test_engine_arguments_are_checked():
    with pytest.raises(ConfigError, match="SEESAY_VLM_URL"):
        load_vlm("m", engine="openai")
    with pytest.raises(ConfigError, match="SEESAY_VLM_MODEL"):
        load_vlm(" ", engine="openai", url="http://127.0.0.1:9/v1")
    vlm = load_vlm("m", engine="openai", url="https://gpu-box/v1/")
    assert str(vlm.endpoint) == "https://gpu-box:443/v1/chat/completions" and vlm.name == "openai"
    assert str(engine("http://h:81/v1/chat/completions").endpoint) == "http://h:81/v1/chat/completions"


def test_the_app_loads_no_model_and_no_torch_for_the_remote_engine():
    code = ("import sys; from core.config import load_settings; from core.engines import Models; "
            "models = Models(load_settings()); vlm = models.vlm(); "
            "heavy = [m for m in ('torch', 'transformers', 'whisper') if m in sys.modules]; "
            "print(vlm.name, models.lock.slots, heavy); sys.exit(1 if heavy else 0)")
    env = {"SEESAY_VLM_ENGINE": "openai", "SEESAY_VLM_URL": "http://127.0.0.1:9/v1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[:2] == ["openai", str(RemoteOptions().parallel)]

