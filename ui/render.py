"""Putting answers, photos and errors on the page.

Answers are the model's words and are shown as plain text only: escaped, inside an element with
``lang`` (and ``dir="rtl"`` for right-to-left languages), never as Markdown or HTML. A link,
an image or a script in an answer appears as the characters it is made of.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
from typing import Iterator

import streamlit as st

from core.errors import SeeSayError
from core.i18n import N_

from . import browser
from .state import Entry, Kind, Session, session
from .words import language as words_language
from .words import words

__all__ = ["plain", "lang_attrs", "answer_html", "question_html", "show_answer", "show_question",
           "entry_heading", "show_entry", "show_photo", "show_speech", "problem", "show_error", "say_error",
           "guard", "BUG_MESSAGE"]

log = logging.getLogger(__name__)

BUG_MESSAGE = N_("Sorry, something went wrong inside SeeSay. Your photo and your questions are kept. "
                 "Please try again.")

#: id of the element holding the latest answer on the page (stable: browser tests use it)
LAST_ANSWER_ID = "seesay-last-answer"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def lang_attrs(language: str) -> str:
    """`` lang="xx"`` (and `` dir="rtl"``) for an element holding text in ``language``."""
    from core.language import is_right_to_left

    code = language if _LANG_TAG.match(language or "") else ""
    if not code:
        return ""
    code = code.replace("_", "-")
    attrs = f' lang="{html.escape(code)}"'
    if is_right_to_left(code):
        attrs += ' dir="rtl"'
    return attrs


def plain(text: str) -> str:
    """``text`` escaped for HTML, without control characters (a model can emit them)."""
    return html.escape(_CONTROL.sub("", text))


def answer_html(text: str, language: str, *, element_id: str = "", remarks=()) -> str:
    """The answer as plain text in its language; ``remarks`` (core Remark events, in the language of
    SeeSay's words, the page's) go before or after it, as they were said."""
    id_attr = f' id="{html.escape(element_id)}"' if element_id else ""
    answer = f'<div class="seesay-answer"{id_attr}{lang_attrs(language)}>{plain(text)}</div>'
    before = "".join(_remark_html(r.text) for r in remarks if not r.after)
    after = "".join(_remark_html(r.text) for r in remarks if r.after)
    return before + answer + after


def _remark_html(text: str) -> str:
    return f'<p class="seesay-remark">{plain(text)}</p>'


def question_html(text: str, language: str) -> str:
    _ = words()
    you_asked = _("You asked:")
    return (f'<p class="seesay-question">{plain(you_asked)} '
            f'<span{lang_attrs(language)}>{plain(text)}</span></p>')


def show_answer(text: str, language: str, target=None, *, element_id: str = "", remarks=()) -> None:
    (target or st).html(answer_html(text, language, element_id=element_id, remarks=remarks))


def show_confidence(entry: Entry, target=None) -> None:
    """How sure SeeSay is of an answer, in words (answers SeeSay did not write itself have none)."""
    from core.pipeline import in_words

    if "vlm" in entry.engines:
        (target or st).caption(in_words(entry.confidence, words_language()))


def show_question(text: str, language: str, target=None) -> None:
    (target or st).html(question_html(text, language))


def entry_heading(kind: Kind, question: str, number: int) -> str:
    """The heading of a question and answer in a conversation: what kind of question it was
    (``question``: a quick question's label), or its number among the person's questions."""
    _ = words()
    if kind == Kind.DESCRIBE:
        return _("Short description")
    if kind == Kind.DETAIL:
        return _("Detailed description")
    if kind == Kind.QUICK:
        return question
    return _("Question {number}", number=number)


def show_entry(entry: Entry, *, heading: str, play: bool = True) -> None:
    """One question and answer: a heading, "You asked: …", the answer, how sure, its Play control."""
    st.subheader(heading, anchor=False)
    if not entry.kind.is_description:  # SeeSay's own request, not the person's words
        show_question(entry.question, entry.question_language)
    # The latest answer on the page has a stable id (browser tests and skip links use it).
    show_answer(entry.answer, entry.language, element_id=LAST_ANSWER_ID if play else "",
                remarks=entry.remarks)
    show_confidence(entry)
    if play:
        show_speech(entry)


def show_photo(s: Session, key: str, target=None) -> None:
    record = s.photos.get(key)
    if record is not None:
        # At most 480 px wide: big enough to check the framing, small enough to keep the
        # answer near; narrower screens shrink it.
        (target or st).image(record.jpeg, alt=s.alt_text(key), width=480)


def show_speech(entry: Entry, target=None, *, label: str = "") -> None:
    """The visible, labelled Play control for an answer (the fallback to the player bar).

    An answer made with automatic speech off has no speech yet: a "Speak this answer" button
    makes it, plays it, and keeps it with the answer; the button stays and says it again.
    """
    where, _ = target or st, words()
    label = label or _("Play the answer")
    if (not entry.speech and not entry.speech_error) or entry.speech_on_request:
        problem = speak_entry(entry) if where.button(_("Speak this answer"), key=f"speak-{entry.id}") else ""
        if problem:
            where.caption(problem)
        if not entry.speech:
            return
    if entry.speech:
        where.audio(entry.speech, format=entry.speech_mime or "audio/wav",
                    alt=_("{label}: {answer}", label=label, answer=_short(entry.answer)))
    elif entry.speech_error:
        where.caption(entry.speech_error)


def speak_entry(entry: Entry) -> str:
    """Speak an answer, making its speech first if it has none (then kept with it).

    Returns what to tell the person when no voice could speak it ("" when it is playing); the
    button stays, so they can try again.
    """
    if not entry.speech:
        from core.pipeline import spoken_text

        said_in = words_language(heard=entry.language)  # the hedge in the language of SeeSay's words
        spoken = _speech(spoken_text(entry.answer, entry.remarks, entry.hedged, language=said_in), entry.language)
        if spoken is None:
            _ = words()
            problem = _("No voice could speak this answer just now. The text above is the whole answer. "
                        "Press Speak this answer to try again.")
            browser.announce(problem)
            return problem
        entry.speech, entry.speech_mime, entry.speech_on_request = spoken.audio, spoken.mime, True
        entry.engines["tts"] = spoken.engine
    browser.play(entry.speech, entry.speech_mime, answer=session().clip_id(entry.id), index=0, autoplay=True)
    return ""


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def problem(error: BaseException) -> str:
    """What a person is told about ``error``: its own words, or a short apology for a bug."""
    if isinstance(error, SeeSayError):
        return error.spoken_in(words_language())
    return words()(BUG_MESSAGE)


def show_error(error: BaseException, target=None) -> None:
    """Show, announce and speak what went wrong. The page keeps everything else."""
    (target or st).error(problem(error))
    say_error(error)


def say_error(error: BaseException) -> None:
    """Announce what went wrong, and speak it in the session's voice when answers are spoken (a
    bug's apology is only announced: the voice may be what broke)."""
    browser.announce(problem(error))
    if isinstance(error, SeeSayError) and session().prefs.auto_speak:
        speak_message(problem(error))


def speak_message(text: str) -> None:
    """Say one of SeeSay's messages (in the language of its words) in the session's voice (the offline
    voice if that fails)."""
    s = session()
    speech = _speech(text, words_language(s))
    if speech is not None:
        browser.play(speech.audio, speech.mime, answer=f"message-{s.nonce}-{s.next_id}-{len(s.sent)}",
                     index=0, autoplay=True, kind="message")


def _speech(text: str, language: str):
    """``text`` spoken by the pipeline in the session's voice; None when no voice can say it."""
    from . import resources

    try:
        return resources.pipeline().speak(text, language, session().choices())
    except SeeSayError:
        return None
    except Exception:  # a voice bug must not hide the text it was reading out
        log.exception("no voice could speak")
        return None


@contextlib.contextmanager
def guard(target=None) -> Iterator[None]:
    """Turn a SeeSayError into a shown, spoken message and a bug into a short apology.

    Streamlit's own control flow (rerun, stop) passes through: it is a BaseException.
    """
    try:
        yield
    except SeeSayError as error:
        show_error(error, target)
    except Exception as error:
        log.exception("bug on a SeeSay page")
        show_error(error, target)

