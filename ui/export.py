"""The history of a session as a readable HTML document and as JSON.

Everything that came from a person or a model is escaped; photos are embedded as base64 with
their description as alt text; every answer carries its language. Speech is left out (the text is
the record); JSON has the same content in a form programs can read.
"""

from __future__ import annotations

import base64
import html
import json
from itertools import groupby

from .render import lang_attrs, plain
from .state import Session

__all__ = ["to_html", "to_json"]

_CSS = """
body { font-family: system-ui, sans-serif; font-size: 1.1rem; line-height: 1.6; max-width: 48rem;
       margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; background: #ffffff; }
img { max-width: 100%; height: auto; }
.answer { white-space: pre-wrap; overflow-wrap: anywhere; }
.question { font-weight: 600; overflow-wrap: anywhere; }
"""


def to_html(s: Session, title: str = "") -> str:
    """The history as one web page, in the language of SeeSay's words for this session."""
    from .words import language, words

    _ = words(s)
    title = title or _("SeeSay history")
    out = ['<!DOCTYPE html>', f'<html lang="{html.escape(language(s))}">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f'<title>{html.escape(title)}</title>', f'<style>{_CSS}</style>', '</head>', '<body>',
           '<main>', f'<h1>{html.escape(title)}</h1>']
    if not s.entries:
        nothing = _("No questions and answers.")
        out.append(f'<p>{plain(nothing)}</p>')
    for number, (_conversation, group) in enumerate(groupby(s.entries, key=lambda e: e.conversation), start=1):
        group = list(group)
        heading = _("Photo {number}", number=number)
        out.append(f'<section><h2>{plain(heading)}</h2>')
        record = s.photos.get(group[0].photo_key)
        if record is not None:
            src = "data:image/jpeg;base64," + base64.b64encode(record.jpeg).decode("ascii")
            out.append(f'<img src="{src}" alt="{html.escape(s.alt_text(record.key))}">')
        for entry in group:
            asked = _("Asked at {time}", time=entry.asked_at.replace("T", " "))
            out.append(f'<h3>{plain(asked)}</h3>')
            you_asked = _("You asked:")
            out.append(f'<p class="question">{plain(you_asked)} <span{lang_attrs(entry.question_language)}>'
                       f'{plain(entry.question)}</span></p>')
            out.append(f'<p class="answer"{lang_attrs(entry.language)}>{plain(entry.answer)}</p>')
        out.append('</section>')
    out += ['</main>', '</body>', '</html>']
    return "\n".join(out) + "\n"


def to_json(s: Session) -> str:
    photos = {}
    for key, record in s.photos.items():
        if any(e.photo_key == key for e in s.entries):
            photos[key] = {"description": record.description, "width": record.size[0],
                           "height": record.size[1],
                           "jpeg_base64": base64.b64encode(record.jpeg).decode("ascii")}
    entries = [{"id": e.id, "conversation": e.conversation, "photo": e.photo_key, "kind": e.kind.value,
                "question": e.question, "question_language": e.question_language,
                "answer": e.answer, "language": e.language,
                "asked_at": e.asked_at, "engines": e.engines} for e in s.entries]
    return json.dumps({"format": "seesay-history", "version": 1, "entries": entries, "photos": photos},
                      ensure_ascii=False, indent=2)
