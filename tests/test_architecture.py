"""The shape of the code: where the seam between the app and core is, and how big a module may grow.

These read the source (Python's own parser), so they fail the moment a page reaches past the pipeline
into an engine, a module outgrows one sitting, or a test or benchmark leans on an engine's private parts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "Home.py", *sorted((ROOT / "pages").glob("*.py"))]
APP = [*PAGES, *sorted((ROOT / "ui").rglob("*.py"))]
#: what the app may import from core: the pipeline, the engine builder, errors, settings, language helpers,
#: the model download (files only: it loads no engine), and the live camera's words and limits (core.aiming:
#: plain data the browser judges frames by; its one call to a model, the text check, goes through the pipeline)
APP_MAY_IMPORT = {"core", "core.pipeline", "core.engines", "core.errors", "core.config", "core.language",
                  "core.download", "core.aiming", "core.i18n"}
ENGINE_MODULES = ("core.vlm", "core.stt", "core.tts", "core.audio", "core.images")
MAX_LINES = 500
#: a page is widgets, one call into ui/ or core, and what it shows: this much, and no more
MAX_PAGE_STATEMENTS = 30
MAX_PAGE_BRANCHES = 4


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports (``from core import audio`` counts as ``core.audio``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _core_modules() -> set[str]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for p in (ROOT / "core").rglob("*.py")}


@pytest.mark.parametrize("path", APP, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_app_reaches_the_models_only_through_the_pipeline(path):
    modules = _core_modules()
    reached = {name for name in _imports(path) if name == "core" or name.startswith("core.")}
    reached = {name for name in reached if name in modules or name == "core"}  # "core.errors.X" is a name
    engines = sorted(name for name in reached if name.startswith(ENGINE_MODULES))
    assert not engines, f"{path.name} imports engine modules {engines}: use core.pipeline or core.engines"
    assert reached <= APP_MAY_IMPORT, sorted(reached - APP_MAY_IMPORT)


def test_the_seam_check_catches_an_engine_import(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("from core import audio\nfrom core.vlm.prompt import Turn\nimport core.tts\n")
    assert {"core.audio", "core.vlm.prompt", "core.tts"} <= set(_imports(page))


@pytest.mark.parametrize("folder", ["core", "ui", "bench", "pages"])
def test_every_module_reads_in_one_sitting(folder):
    paths = [p for p in (ROOT / folder).rglob("*.py")] + ([ROOT / "Home.py"] if folder == "pages" else [])
    long = {str(p.relative_to(ROOT)): n for p in paths
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def _page_logic(source: str) -> dict[str, list[str]]:
    """What in a page's ``source`` is logic that belongs in ui/ (empty lists: none), and its size."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))

    def where(kinds) -> list[str]:
        # (a comprehension's own node has no line: its iterable's is the one)
        return [f"line {getattr(n, 'lineno', None) or n.iter.lineno}: {type(n).__name__}"
                for n in nodes if isinstance(n, kinds)]

    writes = [n for n in nodes if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
              and any(isinstance(t, (ast.Attribute, ast.Subscript))
                      for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
    statements = [n for n in nodes
                  if isinstance(n, ast.stmt) and not isinstance(n, (ast.Import, ast.ImportFrom))]
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
        statements.remove(tree.body[0])  # the docstring
    return {
        "loops": where((ast.For, ast.AsyncFor, ast.While, ast.comprehension)),
        "functions": where((ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)),
        "writes to the session or its state": [f"line {n.lineno}" for n in writes],
        "the question queue": [f"line {n.lineno}" for n in nodes
                               if isinstance(n, ast.Attribute) and n.attr == "pending"],
        "branches": where((ast.If, ast.IfExp, ast.BoolOp, ast.Try, ast.Match)),
        "statements": [f"line {n.lineno}" for n in statements],
    }


def _thin(logic: dict[str, list[str]]) -> list[str]:
    """What makes a page not thin (empty: it is thin)."""
    problems = [f"{what}: {found}" for what, found in logic.items()
                if found and what not in ("branches", "statements")]
    if len(logic["branches"]) > MAX_PAGE_BRANCHES:
        problems.append(f"{len(logic['branches'])} branches (at most {MAX_PAGE_BRANCHES}): "
                        f"{logic['branches']}")
    if len(logic["statements"]) > MAX_PAGE_STATEMENTS:
        problems.append(f"{len(logic['statements'])} statements (at most {MAX_PAGE_STATEMENTS})")
    return problems


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_are_thin(path):
    """Widgets, one call into ui/ (or core) and what it shows: the queue of questions, the session's
    state, callbacks and loops live in ui/, where they are written once and tested."""
    problems = _thin(_page_logic(path.read_text(encoding="utf-8")))
    assert not problems, f"{path.name} is not thin: " + "; ".join(problems)


def test_the_thinness_check_catches_logic_in_a_page():
    page = ("import streamlit as st\nfrom ui.state import session\ns = session()\n"
            "def go_on():\n    s.anyway = True\n"
            "for q in s.pending:\n    st.write(q)\n" + "st.write(1)\n" * MAX_PAGE_STATEMENTS)
    problems = " ".join(_thin(_page_logic(page)))
    for what in ("loops", "functions", "writes to the session", "the question queue", "statements"):
        assert what in problems, what
    thin = "import streamlit as st\nst.title('Hi')\nif st.button('Go'):\n    st.write('Gone')\n"
    assert not _thin(_page_logic(thin))


def test_the_choice_to_answer_a_flawed_photo_is_made_in_one_place():
    """``anyway`` (the person chose to have a flawed photo answered) is set in one place, in ui/."""
    places = []
    for path in APP:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and node.value.value is True \
                    and any(isinstance(t, ast.Attribute) and t.attr == "anyway" for t in node.targets):
                places.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(places) == 1 and places[0].startswith("ui/"), places


def _private_members(path: Path, cls: str) -> set[str]:
    """Names of ``cls``'s private attributes and methods (``self._x = ...``, ``def _x``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for inner in ast.walk(node):
                if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(inner.name)
                elif isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) \
                        and inner.value.id == "self" and isinstance(inner.ctx, ast.Store):
                    names.add(inner.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_tests_and_benchmarks_use_the_engines_public_accessors():
    private = set()
    for path, cls in [(ROOT / "core/vlm/llava.py", "TransformersLlava"), (ROOT / "core/stt.py", "OpenAIWhisper"),
                      (ROOT / "core/stt.py", "FasterWhisper")]:
        private |= _private_members(path, cls)
    assert {"_model", "_prefixes", "_lock", "_generation_config"} <= private
    users = []
    for path in [*sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "bench").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private and not (
                    isinstance(node.value, ast.Name) and node.value.id == "self"):
                users.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not users, users
