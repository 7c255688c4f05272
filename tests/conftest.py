"""Shared fixtures.

Test tiers: plain tests use fakes and pure functions; ``@pytest.mark.models`` tests use the tiny
random-weight models built offline and real Whisper tiny.en; ``@pytest.mark.browser`` tests drive
Chromium. Nothing here downloads anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def test_models(tmp_path_factory):
    """The offline test models, built once per run (or reused from SEESAY_TEST_MODELS_DIR)."""
    from core.testmodels import build_all

    cached = os.environ.get("SEESAY_TEST_MODELS_DIR")
    out = Path(cached) if cached else tmp_path_factory.mktemp("test-models")
    return build_all(out)
