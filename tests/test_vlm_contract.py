"""The engine contract: what every vision-language engine does, checked on each engine the same way.

* ``transformers``: the tiny random LLaVA in this process;
* ``openai``: the same model behind a real ``transformers serve`` on loopback, through
  :class:`core.vlm.remote.OpenAICompatible`.

Random weights say nothing meaningful: these tests check structure, lengths and sameness, never words
(``one_word_llava`` is built so that a forced length shows in the text; see tests/modelserver.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import pytest

from core.vlm import Token, load_vlm
from core.vlm.prompt import Turn
from tests.modelserver import ONE_WORD

pytestmark = pytest.mark.models

QUESTION = "What is in the photo?"


def photo(size=(64, 48), colour=(200, 30, 30), key=None):
    from PIL import Image

    from core.images import Photo

    image = Image.new("RGB", size, colour)
    return Photo(image=image, original_size=size, format="PNG", key=key or f"{size}-{colour}")


@dataclass
class Kind:
    """One engine under the contract."""

    name: str
    make: Callable  # model folder -> engine
    logprobs: bool  # whether it reports token log-probabilities (transformers serve gives none)
    prompt: Callable  # (engine, photo, history, question, notes) -> (the prompt's text, images in it)


def _in_process_prompt(engine, picture, history, question, notes):
    text = engine.prompt(history, question, notes)
    return text, text.count(engine.image_token)


def _remote_prompt(engine, picture, history, question, notes):
    messages = engine.messages(picture, history, question, notes)
    parts = [part for message in messages for part in message["content"]]
    text = "\n".join(part["text"] for part in parts if part["type"] == "text")
    return text, sum(part["type"] == "image_url" for part in parts)


@pytest.fixture(scope="module", params=["transformers", "openai"])
def kind(request):
    loaded: dict = {}
    if request.param == "transformers":
        def make(folder):
            if str(folder) not in loaded:
                loaded[str(folder)] = load_vlm(str(folder), device="cpu", quantization="none", dtype="float32")
            return loaded[str(folder)]

        return Kind("transformers", make, logprobs=True, prompt=_in_process_prompt)
    servers = request.getfixturevalue("model_servers")

    def make_remote(folder):
        return load_vlm(str(folder), engine="openai", url=servers(folder).url)

    return Kind("openai", make_remote, logprobs=False, prompt=_remote_prompt)


@pytest.fixture
def llava(kind, test_models):
    return kind.make(test_models.llava)


def answer(engine, picture, history=(), question=QUESTION, tokens=16, min_tokens=None, notes=()):
    pieces = list(engine.stream(picture, list(history), question, max_new_tokens=tokens,
                                min_new_tokens=tokens if min_tokens is None else min_tokens, notes=notes))
    assert all(isinstance(p, str) and p for p in pieces)
    return pieces


def test_streams_several_pieces(llava):
    picture = photo(key="pieces")
    llava.prepare(picture)  # may do work ahead, or nothing: the answer comes either way
    pieces = answer(llava, picture, tokens=24)
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_min_new_tokens_forces_the_length(kind, one_word_llava):
    engine = kind.make(one_word_llava)
    unforced = "".join(answer(engine, photo(key="one-word"), tokens=30, min_tokens=0))
    forced = "".join(answer(engine, photo(key="one-word"), tokens=30, min_tokens=12))
    assert len(unforced.split()) <= 1  # the first token ends it
    assert forced.split().count(ONE_WORD.strip()) >= 12  # made to go on: the one word that does not end it


def test_follow_up_carries_the_conversation(kind, llava):
    picture = photo(key="follow-up")
    first = "".join(answer(llava, picture, question="What is this?", tokens=12))
    history = [Turn("What is this?", first)]
    text, images = kind.prompt(llava, picture, history, "Tell me more.", ())
    assert first in text and text.index(first) < text.index("Tell me more.")
    assert images == 1  # the photo goes with the first question only
    assert answer(llava, picture, history, question="Tell me more.", tokens=8)


def test_notes_follow_the_latest_question(kind, llava):
    picture = photo(key="notes")
    note = "Answer in French."
    history = [Turn("What is this?", "A red square.")]
    text, _ = kind.prompt(llava, picture, history, "Is it big?", [note])
    assert text.count(note) == 1 and text.index("Is it big?") < text.index(note)
    assert text.index("A red square.") < text.index(note)
    assert answer(llava, picture, history, question="Is it big?", tokens=6, notes=[note])


def test_leaving_early_stops_the_answer(llava):
    picture = photo(key="early")
    long = 600  # the tiny model's prompt is about 350 of its 1024 positions
    t = time.perf_counter()
    answer(llava, picture, tokens=long)
    whole = time.perf_counter() - t
    pieces = llava.stream(picture, [], QUESTION, max_new_tokens=long, min_new_tokens=long)
    assert next(pieces)
    t = time.perf_counter()
    pieces.close()
    answer(llava, picture, question="And now?", tokens=4)  # queued behind the first if it were still running
    assert time.perf_counter() - t < whole / 2, (time.perf_counter() - t, whole)


def test_concurrent_streams_each_get_their_own_answer(llava):
    asked = [(photo(colour=colour, key=f"concurrent-{colour}"), question)
             for colour in [(200, 30, 30), (20, 20, 220)] for question in ("What is this?", "Anything written?")]
    alone = ["".join(answer(llava, picture, question=question, tokens=10)) for picture, question in asked]
    results, errors = {}, []

    def person(i):
        picture, question = asked[i % len(asked)]
        try:
            results[i] = "".join(answer(llava, picture, question=question, tokens=10))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=person, args=(i,)) for i in range(2 * len(asked))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and sorted(results) == list(range(len(threads)))
    assert all(results[i] == alone[i % len(asked)] for i in results)  # greedy: the same as when asked alone


def test_token_log_probabilities_where_the_engine_gives_them(kind, llava):
    tokens: list[Token] = []
    text = "".join(llava.stream(photo(key="probabilities"), [], QUESTION, max_new_tokens=12, min_new_tokens=12,
                                tokens=tokens))
    assert text
    if kind.logprobs:
        assert len(tokens) >= 6 and all(isinstance(t, Token) and -50 < t.logprob <= 0 for t in tokens)
    else:
        assert tokens == []  # nothing made up where the server tells nothing


def test_an_answer_needs_room_for_a_token(llava):
    with pytest.raises(ValueError):
        list(llava.stream(photo(), [], QUESTION, max_new_tokens=0))


def test_an_answer_can_be_written_again_with_sampling(llava):
    """For the agreement between answers (SEESAY_CONFIDENCE_SAMPLES): text comes back, the engine is free."""
    picture = photo(key="contract-sampling")
    again = [llava.sample(picture, [], QUESTION, max_new_tokens=8, seed=seed) for seed in (0, 1)]
    assert all(isinstance(text, str) for text in again) and any(again)
    assert "".join(llava.stream(picture, [], QUESTION, max_new_tokens=4))  # still answers afterwards
