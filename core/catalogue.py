"""Keeping the translation catalogues whole: ``python -m core.catalogue check`` / ``update``.

``check`` extracts every marked message from the code (Babel's extractor, keywords ``_``, ``N_`` and
``ngettext``) and lists, per language, what a person would hear in English by mistake: a message with
no translation (or a fuzzy one), a translation that lost or invented a ``{placeholder}``, and marks
the extractor cannot read (``_(f"...")``: a message built at run time is never translated). It exits
with 1 when anything is listed. ``update`` adds new messages to every catalogue (empty, to be
translated) and removes those the code no longer uses; translations already written stay.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

from .i18n import LANGUAGES, SOURCE, catalogue_path, placeholders

__all__ = ["SOURCES", "KEYWORDS", "Message", "extract", "unreadable_marks", "problems", "update", "main"]

ROOT = Path(__file__).resolve().parent.parent
#: where SeeSay's own words are (the test models and the benchmarks speak to developers, in English)
SOURCES = ("core", "ui", "pages", "Home.py")
SKIP = ("core/testmodels", "core/i18n.py", "core/catalogue.py")  # the machinery itself marks nothing
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


@dataclass(frozen=True)
class Message:
    id: str  # the English text
    plural: str = ""  # the English plural, for ngettext
    where: str = ""  # file:line of one use


def _files() -> list[Path]:
    files: list[Path] = []
    for source in SOURCES:
        path = ROOT / source
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if not any(f.relative_to(ROOT).as_posix().startswith(s) for s in SKIP)]


def extract() -> dict[str, Message]:
    """Every message marked in the code, by its English text."""
    from babel.messages.extract import extract as babel_extract

    found: dict[str, Message] = {}
    for path in _files():
        with path.open("rb") as source:
            for line, text, _comments, _context in babel_extract("python", source, keywords=KEYWORDS):
                singular, plural = (text[0], text[1]) if isinstance(text, tuple) else (text, "")
                if singular and singular not in found:
                    found[singular] = Message(singular, plural or "", f"{path.relative_to(ROOT)}:{line}")
    return found


def _built(node: ast.AST) -> bool:
    """True for a text built at run time (an f-string, ``+``/``%``, ``.format()``): never in a catalogue.
    A name or an attribute is fine: it holds a message marked where it was written (``N_``)."""
    return isinstance(node, (ast.JoinedStr, ast.BinOp)) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format")


def unreadable_marks() -> list[str]:
    """Calls of ``_``/``N_``/``ngettext`` given a text built at run time, or written inside an f-string,
    and texts given to a translator not named ``_``: never extracted, never translated."""
    bad = []
    for path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_fstrings = {id(n) for f in ast.walk(tree) if isinstance(f, ast.JoinedStr) for n in ast.walk(f)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if name in KEYWORDS and id(node) in in_fstrings:  # Babel's extractor does not look inside f-strings
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(...) inside an f-string is never extracted")
                continue
            if (isinstance(node.func, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):  # words()("...") is never extracted: use _ = words()
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} a text given to a translator not named _")
                continue
            if name not in KEYWORDS or not node.args:
                continue
            texts = node.args[:2] if name == "ngettext" else node.args[:1]
            if any(_built(a) for a in texts) or (name == "N_" and not (
                    isinstance(texts[0], ast.Constant) and isinstance(texts[0].value, str))):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(...) is given a text built at run time")
    return bad


def _read(language: str):
    from babel.messages.pofile import read_po

    path = catalogue_path(language)
    if not path.exists():
        from babel.messages.catalog import Catalog

        return Catalog(locale=language, domain="seesay")
    with path.open("rb") as po:
        return read_po(po, locale=language)


def _singular(msgid: str | tuple) -> str:
    """A catalogue entry's English text (a plural entry's id is its singular and plural)."""
    return msgid[0] if isinstance(msgid, (tuple, list)) else msgid


def problems(messages: dict[str, Message] | None = None) -> dict[str, list[str]]:
    """What is wrong, per language ("code" for marks the extractor cannot read)."""
    messages = extract() if messages is None else messages
    out: dict[str, list[str]] = {}
    marks = unreadable_marks()
    if marks:
        out["code"] = marks
    for language in LANGUAGES:
        if language == SOURCE:
            continue
        catalogue, wrong = _read(language), []
        for message in messages.values():
            entry = catalogue.get(message.id)
            strings = entry.string if entry is not None else ""
            strings = list(strings) if isinstance(strings, (tuple, list)) else [strings]
            if entry is None or entry.fuzzy or not all(s.strip() for s in strings):
                wrong.append(f"not translated: {message.id!r} ({message.where})")
                continue
            want = placeholders(message.id) | placeholders(message.plural)
            for text in strings:
                if placeholders(text) != want:
                    wrong.append(f"placeholders {sorted(placeholders(text))} instead of {sorted(want)}: "
                                 f"{message.id!r} -> {text!r}")
        unused = sorted(str(_singular(m.id)) for m in catalogue if m.id and _singular(m.id) not in messages)
        wrong += [f"no longer in the code: {m!r}" for m in unused]
        if wrong:
            out[language] = wrong
    return out


def update() -> None:
    """Every catalogue gets the code's messages (new ones empty) and loses the ones no longer used."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = Catalog(domain="seesay", project="SeeSay", msgid_bugs_address="", charset="utf-8")
    for message in extract().values():
        template.add((message.id, message.plural) if message.plural else message.id,
                     locations=[tuple(message.where.rsplit(":", 1))])
    for language in LANGUAGES:
        if language == SOURCE:
            continue
        catalogue = _read(language)
        catalogue.project, catalogue.version, catalogue.fuzzy = "SeeSay", "", False
        catalogue.header_comment = (f"# SeeSay's own words in {LANGUAGES[language]}: written for listeners.\n"
                                    "# Keep every {placeholder}; `python -m core.catalogue check` tests it.")
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        path = catalogue_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalogue, width=110, omit_header=False, sort_output=False, include_lineno=False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["update"]:
        update()
        args = ["check"]
    if args[:1] != ["check"]:
        print("usage: python -m core.catalogue check | update", file=sys.stderr)
        return 2
    found = problems()
    for language, lines in found.items():
        print(f"{language}: {len(lines)} problem(s)")
        for line in lines:
            print(f"  {line}")
    if not found:
        print(f"every message is translated into {', '.join(c for c in LANGUAGES if c != SOURCE)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
