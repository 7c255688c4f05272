"""Quick questions: one tap (or ``--quick NAME``) for what blind people ask most about a photo.

Each has its own prompt for the model, except ``read``, which is answered by the text reader
(:mod:`core.ocr`) with every word exactly as found, never paraphrased by the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import QuestionError
from .i18n import N_

__all__ = ["Quick", "QUICK", "quick_question", "READ_BY_MODEL"]


@dataclass(frozen=True)
class Quick:
    name: str  # for the command line and the page's widget keys
    label: str  # the button's name, and "You asked: ..." in the conversation (English, marked: N_)
    prompt: str  # what the model is asked ("" for read: the text reader answers)
    detail: bool = False  # the longer answer limit


QUICK: dict[str, Quick] = {q.name: q for q in (
    Quick("describe", N_("Describe the photo"), "Describe this photo for me."),
    Quick("read", N_("Read the text"), ""),
    Quick("colours", N_("What colours?"),
          "What are the main colours in this photo? Name each colour and what it belongs to, "
          "the most noticeable first."),
    Quick("people", N_("Who is there?"),
          "Are there people in this photo? Say how many, where they are in the photo, what they are doing, "
          "and what they look like and wear. Do not guess who they are or how old they are."),
    Quick("ahead", N_("What is ahead?"),
          "I am walking and this photo shows what is in front of me. Name hazards and obstacles first: steps, "
          "kerbs, holes, traffic, doors, poles, things at head height. Give each one's direction as a clock "
          "position, twelve o'clock being straight ahead, and about how far away it is. Then say whether the way "
          "ahead is clear.", detail=True),
)}

#: what the model is asked when the text reader cannot run and "Read the text" falls back to it
READ_BY_MODEL = "Read all the text in this photo, word for word, in reading order. Say nothing else."


def quick_question(name: str) -> Quick:
    """The quick question ``name``; QuestionError (listing the names) for one SeeSay does not have."""
    try:
        return QUICK[name.strip().lower()]
    except KeyError:
        raise QuestionError(N_("SeeSay has no quick question called {name}."), N_("Use one of: {names}."),
                            name=repr(name), names=", ".join(QUICK)) from None
