"""Fixtures for the ``openai`` engine's tests: real ``transformers serve`` processes on loopback.

* ``model_servers(folder)``: a server pinned to that model folder, started on first use (once per run)
  and stopped at the end of the run;
* ``one_word_llava``: a copy of the tiny LLaVA whose every token but one ends the answer, so an answer
  that is not made to go on stops at its first token, and one that is (``min_new_tokens``) repeats that
  one word: the length a minimum forces can be seen through any engine, in the text alone.

conftest.py imports them, so every test module can use them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

#: the one token of ``one_word_llava`` that does not end the answer
ONE_WORD = " the"


def make_one_word_model(source: Path, out: Path) -> Path:
    """A copy of the LLaVA folder ``source`` at ``out`` whose end-of-answer tokens are all but ``ONE_WORD``."""
    from transformers import AutoTokenizer

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    (word,) = tokenizer.encode(ONE_WORD, add_special_tokens=False)
    path = out / "generation_config.json"
    config = json.loads(path.read_text())
    config["eos_token_id"] = [i for i in range(len(tokenizer)) if i != word]
    path.write_text(json.dumps(config, indent=1))
    return out


@pytest.fixture(scope="session")
def one_word_llava(test_models, tmp_path_factory) -> Path:
    return make_one_word_model(test_models.llava, tmp_path_factory.mktemp("one-word") / "tiny-llava-one-word")


@pytest.fixture(scope="session")
def model_servers():
    """``serve(folder) -> ModelServer``: the running server pinned to ``folder`` (started if need be)."""
    from core.testmodels.server import ModelServer

    servers: dict[str, ModelServer] = {}

    def serve(folder) -> ModelServer:
        key = str(folder)
        if key not in servers or not servers[key].running:
            servers[key] = ModelServer(folder).start()
        return servers[key]

    yield serve
    for server in servers.values():
        server.stop()
