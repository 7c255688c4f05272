"""Shared fixtures.

Test tiers: plain tests use fakes and pure functions; ``@pytest.mark.models`` tests use the tiny
random-weight models built offline and real Whisper tiny.en; ``@pytest.mark.browser`` tests drive
Chromium. Nothing here downloads anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.modelserver import model_servers, one_word_llava  # noqa: F401  (fixtures shared by every module)

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


@pytest.fixture
def engine_loads(monkeypatch):
    """Counts the engines SeeSay loads from here on: ``("vlm",)``, ``("stt",)``, ``("voice", name, private)``."""
    import collections

    from core import engines

    loads: collections.Counter = collections.Counter()

    def counted(key, load):
        def wrapper(settings, *args):
            loads[key(*args)] += 1
            return load(settings, *args)
        return wrapper

    monkeypatch.setattr(engines, "build_vlm", counted(lambda *budget: ("vlm",), engines.build_vlm))
    monkeypatch.setattr(engines, "build_stt", counted(lambda: ("stt",), engines.build_stt))
    monkeypatch.setattr(engines, "build_voice", counted(lambda name, private: ("voice", name, private),
                                                        engines.build_voice))
    return loads


# --- the reliability report ----------------------------------------------------------------
# Tests marked ``@pytest.mark.case(category, description)`` are bad inputs or faults. Each may call
# the ``heard`` fixture with the message a user sees and hears. At the end of a run that tried at
# least REPORT_MIN_CASES of them, the table is written to docs/reliability.md.

REPORT = ROOT / "docs" / "reliability.md"
REPORT_MIN_CASES = 40
_cases: dict[str, dict] = {}


@pytest.fixture
def heard(request):
    """Record what the user is told for this case: ``heard(error.spoken)``."""

    def record(message: str) -> None:
        _cases.setdefault(request.node.nodeid, {})["heard"] = " ".join(str(message).split())

    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("case")
    if marker is None or report.when != "call" and not (report.when == "setup" and report.failed):
        return
    entry = _cases.setdefault(item.nodeid, {})
    entry["category"], entry["case"] = marker.args[0], marker.args[1]
    entry["outcome"] = "passed" if report.passed else ("skipped" if report.skipped else "FAILED")


_deselected: list = []


def pytest_deselected(items):
    _deselected.extend(items)


def _whole_suite(config) -> bool:
    """True for a run of every test (no -m, -k, deselection or chosen files): only it may rewrite the report."""
    chosen = [a for a in config.invocation_params.args if not str(a).startswith("-") and Path(str(a)).exists()]
    return not (config.getoption("markexpr") or config.getoption("keyword") or _deselected or chosen)


def pytest_sessionfinish(session, exitstatus):
    rows = [c for c in _cases.values() if "outcome" in c]
    if len(rows) < REPORT_MIN_CASES or not _whole_suite(session.config):
        return
    rows.sort(key=lambda c: (c["category"], c["case"]))
    passed = sum(c["outcome"] == "passed" for c in rows)
    lines = [
        "# Reliability report",
        "",
        "Written by the test suite (`./seesay test`): every bad input and fault that was tried, and what",
        "the person using SeeSay is told. Do not edit by hand.",
        "",
        f"{len(rows)} cases, {passed} passed.",
        "",
        "| area | case | outcome | what the user sees and hears |",
        "| --- | --- | --- | --- |",
    ]
    for c in rows:
        said = c.get("heard", "").replace("|", "\\|")
        lines.append(f"| {c['category']} | {c['case']} | {c['outcome']} | {said} |")
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
