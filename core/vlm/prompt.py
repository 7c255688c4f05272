"""Prompt building and answer cleaning: pure text, no model, no torch.

Every vision-language engine builds its conversation with :func:`build_messages` (the photo goes in
the first user turn only; instructions go in a system turn where the chat template has one) and
cleans what the model writes with :class:`AnswerStream` / :func:`clean_answer`, so tests can check
both without a model.

*Notes* are lines added after the latest question: the answer language the person chose, and later
stages' reference text. They come after the photo, so the photo's prefix cache stays valid whatever
they say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "SYSTEM_PROMPT",
    "AnswerStream",
    "Turn",
    "build_messages",
    "clean_answer",
    "common_prefix_length",
    "detect_system_role",
    "language_note",
    "reference_note",
    "strip_control_tokens",
]

SYSTEM_PROMPT = (
    "You describe photos for a person who is blind or has low vision and will hear your answer read aloud. "
    "Say the most important thing first. "
    "Read any visible text word for word. "
    "If you are not sure about something, say that you are not sure; never guess. "
    "Keep the answer short, two or three sentences, unless the person asks for more detail. "
    "Answer in the language of the question. "
    "Do not use markdown, headings or lists with symbols: "
    "write plain sentences that sound natural when spoken."
)


@dataclass(frozen=True)
class Turn:
    """One earlier question about the photo and the answer it got."""

    question: str
    answer: str


def language_note(language_name: str) -> str:
    """The note that asks for answers in ``language_name`` ("French"), whatever the question's language."""
    return f"Answer in {language_name}."


def reference_note(text: str, limit: int = 80) -> str:
    """The note that gives the model the words the text reader found, as LLaVA-1.5's TextVQA
    evaluation gives them ("Reference OCR token: ..."); at most ``limit`` words."""
    words = text.split()
    return "Reference OCR token: " + ", ".join(words[:limit])


def build_messages(history: Sequence[Turn], question: str, *, system_prompt: str,
                   has_system_role: bool, notes: Sequence[str] = ()) -> list[dict]:
    """Chat messages in the processors' format; the image goes in the first user turn only.

    Without a system role in the chat template, the instructions open the first user turn's text.
    ``notes`` follow the latest question, each on a line of its own.
    """

    def text(value: str) -> dict:
        return {"type": "text", "text": value}

    messages: list[dict] = []
    if system_prompt and has_system_role:
        messages.append({"role": "system", "content": [text(system_prompt)]})
    latest = "\n".join([question, *(note for note in notes if note)])
    questions = [turn.question for turn in history] + [latest]
    answers = [turn.answer for turn in history]
    for i, asked in enumerate(questions):
        if i == 0:
            if system_prompt and not has_system_role:
                asked = f"{system_prompt}\n\n{asked}"
            messages.append({"role": "user", "content": [{"type": "image"}, text(asked)]})
        else:
            messages.append({"role": "user", "content": [text(asked)]})
        if i < len(answers):
            messages.append({"role": "assistant", "content": [text(answers[i])]})
    return messages


def detect_system_role(render: Callable[[list[dict]], str]) -> bool:
    """Whether a chat template (``render(messages) -> prompt``) gives system messages a place of their own.

    Some templates raise on a system message, some drop it, some render it as if it were an
    assistant or user turn (Vicuna-style ``USER:``/``ASSISTANT:`` ones): none of those has one.
    """
    probe = "Seesay probe instructions."
    question = {"type": "text", "text": "Seesay probe question?"}
    user = {"role": "user", "content": [{"type": "image"}, question]}

    def as_role(role: str) -> str | None:
        try:
            return render([{"role": role, "content": [{"type": "text", "text": probe}]}, user])
        except Exception:  # templates refuse what they do not support, in their own ways
            return None

    system = as_role("system")
    if system is None or probe not in system:
        return False
    return system != as_role("assistant") and system != as_role("user")


_CONTROL_MARKUP = re.compile(r"<\|[^|<>\s]{1,40}\|>")  # ChatML-style control tokens, e.g. <|im_start|>


def strip_control_tokens(text: str, tokens: Sequence[str] = ()) -> str:
    """``text`` with the model's control tokens removed, so a question cannot forge turns or images."""
    for token in sorted((t for t in tokens if t), key=len, reverse=True):
        text = text.replace(token, " ")
    return _CONTROL_MARKUP.sub(" ", text)


_SPECIAL = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|<image>|<unk>|<pad>")
_UNSPEAKABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")  # control bytes, undecodable bytes
_LEADING_ROLE = re.compile(r"^\s*(?:(?:assistant|gpt)\s*(?::|\n)\s*)+", re.IGNORECASE)
_NEXT_TURN = re.compile(r"\b(?:USER|ASSISTANT)\s*:")  # upper case only: read-out text may say "User:"
_BOLD = re.compile(r"\*\*|__|`+")
_LINE_MARK = re.compile(r"(?m)^[ \t]*(?:#{1,6}[ \t]+|[-*•][ \t]+)")


def clean_answer(text: str) -> str:
    """The model's answer made ready to show and speak.

    Drops leftover control tokens and role tags (and anything after the model starts a new turn by
    itself), markdown emphasis, headings and list bullets, and collapses all whitespace.
    """
    text = _SPECIAL.sub(" ", _UNSPEAKABLE.sub("", text))
    text = _LEADING_ROLE.sub("", text)
    cut = _NEXT_TURN.search(text)
    if cut:
        text = text[:cut.start()]
    text = _LINE_MARK.sub("", _BOLD.sub("", text))
    return " ".join(text.split())


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading items all ``sequences`` share."""
    if not sequences:
        return 0
    n = 0
    for items in zip(*sequences):
        if any(item != items[0] for item in items[1:]):
            break
        n += 1
    return n


class AnswerStream:
    """Turns raw decoded pieces into clean pieces, as :func:`clean_answer` would clean the whole.

    Text is passed on as soon as cleaning can no longer change it: only a tail that might still become
    a role tag or markdown is held back. ``stopped`` turns true when the model starts a new turn by
    itself, so generation can end there.
    """

    _HOLD_CHARS = "*_#`-•"
    _TAGS = ("USER:", "ASSISTANT:", "ASSISTANT\n", "GPT:")

    def __init__(self) -> None:
        self.raw = ""
        self.sent = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        self.raw += piece
        if _NEXT_TURN.search(_LEADING_ROLE.sub("", _SPECIAL.sub(" ", _UNSPEAKABLE.sub("", self.raw)))):
            self.stopped = True
        return self._emit(self._stable(clean_answer(self.raw)))

    def finish(self) -> str:
        return self._emit(clean_answer(self.raw))

    def _stable(self, clean: str) -> str:
        # hold back a tail that is the start of a role tag ("U", "ASSIST", ...) or markdown
        hold = 0
        upper = clean.upper()
        for tag in self._TAGS:
            for n in range(min(len(tag), len(clean)), 0, -1):
                if upper.endswith(tag[:n]) and n > hold:
                    hold = n
                    break
        end = len(clean) - hold
        while end > 0 and clean[end - 1] in self._HOLD_CHARS:
            end -= 1
        opening = clean.rfind("<", 0, end)  # a control token may be half written: "<|im_e"
        if opening != -1 and ">" not in clean[opening:end] and end - opening <= 44:
            end = opening
        return clean[:end].rstrip()

    def _emit(self, clean: str) -> str:
        if not clean.startswith(self.sent) or len(clean) <= len(self.sent):
            return ""
        new = clean[len(self.sent):]
        self.sent = clean
        return new
