"""Saying it honestly: answers that say when the photo cannot answer, and what to change.

LLaVA-1.5 was taught, on the VizWiz questions blind people asked, to answer "Unanswerable" when the
photo does not show what is asked (its evaluation prompt: "When the provided information is
insufficient, respond with 'Unanswerable'"). SeeSay gives the model that instruction after every
question (:data:`ANSWERABLE_NOTE`, a note: it keeps the photo's prefix cache) and never lets the
bare word through: :class:`Answerability` holds back the start of an answer that could still become
it, and :func:`cannot_tell` says instead what to change (where to point the camera, what to turn,
to step back), fitted to what was asked.

The confidence (:mod:`core.confidence`) and the double-check (:mod:`core.checks`) are the other two
parts; :mod:`core.answering` puts them together.
"""

from __future__ import annotations

import re

from .checks import domain
from .i18n import translator

__all__ = ["ANSWERABLE_NOTE", "Answerability", "cannot_tell", "asks_about_text"]

ANSWERABLE_NOTE = "When the provided information is insufficient, respond with 'Unanswerable'."
_WORD = "unanswerable"
_TEXT_WORDS = re.compile(r"\b(read|say|says|said|written|write|text|label|sign|word|words|letter|title|name|"
                         r"number|lee|leer|dice|escrito|texto|etiqueta|lire|écrit|texte|étiquette|lesen|steht|"
                         r"text|etikett|leggi|scritto|testo|ler|escrito|rótulo)\b", re.IGNORECASE)
_COLOUR_WORDS = re.compile(r"\b(colou?rs?|shade|color|colores?|couleurs?|farben?|colori?|cores?|kleur)\b",
                           re.IGNORECASE)
_PEOPLE_WORDS = re.compile(r"\b(who|people|person|man|woman|child|anyone|somebody|someone|face|personas?|"
                           r"gente|quién|personnes?|qui|leute|menschen|wer|persone|chi|pessoas?|quem)\b",
                           re.IGNORECASE)


class Answerability:
    """Passes the answer's pieces on, except an opening that may still turn out to be "Unanswerable".

    ``feed(piece)`` returns the text to pass on now ("" while it holds back); ``unanswerable`` turns
    true once the answer is that word (the caller then stops the model and says :func:`cannot_tell`);
    ``finish()`` returns what is still held when the model ends.
    """

    def __init__(self) -> None:
        self.held = ""
        self.decided = False
        self.unanswerable = False

    def feed(self, piece: str) -> str:
        if self.decided:
            return "" if self.unanswerable else piece
        self.held += piece
        bare = self.held.strip().strip("'\"“”‘’*").lower()
        if bare.startswith(_WORD):
            self.decided = self.unanswerable = True
            return ""
        if _WORD.startswith(bare):  # "Un", "Unans": could still be it
            return ""
        self.decided = True
        held, self.held = self.held, ""
        return held

    def finish(self) -> str:
        if self.decided:
            return ""
        self.decided = True
        held, self.held = self.held, ""
        return held


def asks_about_text(question: str) -> bool:
    """True for a question about written things: reading, labels, signs, doses, prices, dates."""
    return bool(_TEXT_WORDS.search(question)) or domain(question) is not None


def cannot_tell(question: str, language: str = "en") -> str:
    """What SeeSay says when the photo cannot answer ``question``: that, and what to change, in ``language``."""
    _ = translator(language)
    if asks_about_text(question):
        return _("I cannot tell from this photo: the writing is not clear enough in it, or not in it at all. "
                 "Point the back of the phone straight at the writing, hold it about a hand's length away, "
                 "turn the object until the label faces you, and take the photo again.")
    if _COLOUR_WORDS.search(question):
        return _("I cannot tell the colour from this photo. Take it again in good light, with the thing "
                 "you are asking about filling most of the picture.")
    if _PEOPLE_WORDS.search(question):
        return _("I cannot tell from this photo. Point the camera towards where the people are, step back "
                 "a little so all of them are in the picture, and take the photo again.")
    return _("I cannot tell from this photo. Point the camera at the thing you are asking about, turn it so "
             "its front faces the camera, or step back so all of it is in the picture, then take the photo again.")
