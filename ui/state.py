"""What one browser session holds, kept in ``st.session_state`` (never on disk).

One :class:`Session` per browser tab: the current photo, every question and answer (the history),
the person's preferences, and the questions still to answer (``pending``) and being answered
(``jobs``, see :mod:`ui.jobs`). The conversation about the current photo is not stored twice: it is
the history entries of the current conversation, so deleting an entry also removes it from what
the model is told next. The page's runs and the session's worker thread share it under ``lock``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

import streamlit as st

from core.i18n import LANGUAGES as SPOKEN, N_, choose, words_language
from core.pipeline import Choices, Turn

if TYPE_CHECKING:
    from core.pipeline import Answer, Heard

__all__ = ["Prefs", "PhotoRecord", "Kind", "Entry", "Pending", "Session", "session", "digest",
           "RATES", "VOICES", "LENGTHS", "LANGUAGES"]

_KEY = "seesay"

#: speech rates offered (playbackRate of the player)
RATES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
#: voice choice (core.engines.VOICES) -> label (translated where shown)
VOICES = {"automatic": N_("Automatic"), "gtts": N_("Google voice (online)"), "offline": N_("Offline voice")}
#: answer length (core.engines.LENGTHS) -> label (translated where shown)
LENGTHS = {"short": N_("Short"), "normal": N_("Normal"), "detailed": N_("Detailed")}
#: the one Language setting (Choices.language), ISO 639-1 -> the language's own name (a person looks for
#: their language by its own name). "" = automatic: the last question's language, else the browser's.
#: SeeSay speaks its own words in core.i18n.LANGUAGES; the others are for answers only (its own words
#: then follow the question, else the browser).
LANGUAGES = {"": N_("Automatic"), **SPOKEN,
             "pl": "Polski", "ru": "Русский", "uk": "Українська", "tr": "Türkçe", "ar": "العربية",
             "he": "עברית", "hi": "हिन्दी", "zh": "中文", "ja": "日本語", "ko": "한국어"}


@dataclass(frozen=True)
class Prefs:
    """The person's choices on the Settings page, for this session only."""

    auto_speak: bool = True  # play answers as soon as they are ready
    rate: float = 1.0  # speech rate, 0.75 to 2
    voice: str = "automatic"  # key of VOICES
    private: bool = False  # nothing leaves the machine: offline voice only
    length: str = "normal"  # key of LENGTHS
    language: str = ""  # the Language setting (answers and SeeSay's words); "" = automatic
    large_text: bool = False
    high_contrast: bool = False
    cue_seconds: float = 3.0  # the live camera says the same guidance again at most this often
    tone: bool = False  # the live camera beeps, higher as the picture gets sharper

    def choices(self) -> Choices:
        """What core needs of these preferences (the rest is the page's and the player's)."""
        return Choices(voice=self.voice, private=self.private, length=self.length, language=self.language,
                       speak=self.auto_speak)


@dataclass
class PhotoRecord:
    """A photo of this session, as shown on the page and in the history."""

    key: str  # core.images.Photo.key
    jpeg: bytes  # the downscaled photo, for display and export
    size: tuple[int, int]  # original (width, height)
    description: str = ""  # the first description: the photo's alt text


class Kind(str, enum.Enum):
    """How a question came: SeeSay's own description of a new photo, or the person's question."""

    DESCRIBE = "describe"  # the short description of a new photo
    DETAIL = "detail"  # "More detail"
    VOICE = "voice"  # a recorded question
    TYPED = "typed"  # a typed question
    QUICK = "quick"  # a quick question's button ("Read the text", ...): SeeSay's prompt, the person's choice

    @property
    def is_description(self) -> bool:
        """SeeSay's own request, not the person's words (no "You asked:")."""
        return self in (Kind.DESCRIBE, Kind.DETAIL)


@dataclass
class Entry:
    """One question and its answer."""

    id: int
    conversation: int  # entries of one conversation are the model's history
    photo_key: str
    kind: Kind
    question: str
    answer: str
    language: str  # language of the answer
    asked_at: str  # ISO time, local to the server
    question_language: str = "en"  # language of the question (detected once, when it was asked)
    remarks: tuple = ()  # core Remark events said with the answer (notes before it, advice after it)
    confidence: Optional[float] = None  # 0..1 from the model's own token probabilities; None: unknown
    hedged: bool = False  # the spoken answer began "I am not sure, but ..."
    speech: Optional[bytes] = None  # the whole answer as one clip
    speech_mime: str = ""
    engines: dict = field(default_factory=dict)  # stage -> engine that did it
    speech_error: str = ""
    speech_on_request: bool = False  # made by "Speak this answer" (automatic speech was off)


@dataclass
class Pending:
    """A question not yet started: it waits for its photo, for the person to go on past the photo's
    guidance, or for the answer before it (questions are answered one at a time, in order)."""

    question: Union[str, bytes]  # typed text, a recording's bytes, or a quick question's name
    kind: Kind
    detail: bool = False  # "More detail": the longer answer
    photo: Any = None  # the core Photo it is about; None: the next photo to arrive
    conversation: int = 0  # the conversation it belongs to (set with the photo)


@dataclass
class Session:
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex[:8])  # makes clip ids unique per tab
    photo: Any = None  # the current photo (a core Photo, from PhotoTaken)
    conversation: int = 0  # id of the current conversation
    photos: dict[str, PhotoRecord] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    next_id: int = 1
    prefs: Prefs = field(default_factory=Prefs)
    round: int = 0  # bumped to give the photo/question widgets fresh keys (empties them)
    seen: dict[str, str] = field(default_factory=dict)  # widget key -> digest of the bytes handled
    recording_view: Optional[tuple] = None  # (spectrogram PNG, text alternative) of the last recording
    pending: list[Pending] = field(default_factory=list)  # questions not yet started, in order
    jobs: list = field(default_factory=list)  # ui.jobs.Job: work started and not yet all said, in order
    worker: Any = None  # the thread answering this session's questions, while there are any
    draft: str = ""  # a typed question that failed, given back to the question box
    quality: Any = None  # the current photo's core Quality; its guidance is said before any answer
    anyway: bool = False  # the person chose to have the current photo answered despite its flaws
    sent: list = field(default_factory=list)  # commands sent to the browser (clips without audio)
    said: set = field(default_factory=set)  # keys of the one-time announcements already made
    later: list = field(default_factory=list)  # announcements waiting for the next run
    flash: str = ""  # a confirmation shown (once) at the top of the next run
    confirm_delete_all: bool = False
    browser_language: str = ""  # the browser's language (ui.words, read on every page run); "" = unknown
    last_language: str = ""  # the language of the person's last question (spoken or typed); "" = none yet
    # Page runs and the worker thread (ui.jobs) both change the photo, the questions and the history.
    lock: Any = field(default_factory=threading.RLock, repr=False, compare=False)
    # The worker says something came (a piece of an answer, its end) to the page's run following it.
    changed: Any = field(default_factory=threading.Condition, repr=False, compare=False)
    version: int = 0  # counts what came

    def choices(self) -> Choices:
        """What core needs of this session: the preferences, and the language of SeeSay's words until a
        question says otherwise (the last question's language, else the browser's)."""
        return dataclasses.replace(self.prefs.choices(),
                                   ui_language=choose(self.last_language, self.browser_language))

    # --- photo and conversation -------------------------------------------------------------
    def set_photo(self, photo: Any, quality: Any = None) -> PhotoRecord:
        """Make ``photo`` (with its core Quality) the current one: a new photo starts a new
        conversation, which the questions asked before any photo join."""
        record = (self.photos.get(photo.key) or
                  PhotoRecord(photo.key, photo.jpeg(), tuple(photo.original_size)))
        with self.lock:
            self.photo, self.quality, self.anyway = photo, quality, False
            self.conversation += 1
            self.photos[photo.key] = record
            for question in self.pending:
                if question.photo is None:
                    question.photo, question.conversation = photo, self.conversation
        return record

    def clear_photo(self) -> None:
        """"New photo": forget the current photo, its conversation and the questions about it not yet
        started (the history stays)."""
        with self.lock:
            self.pending = [q for q in self.pending if q.photo is None or q.photo is not self.photo]
            self.photo = None
            self.quality, self.anyway = None, False
            self.conversation += 1
            self.round += 1

    def conversation_entries(self, conversation: Optional[int] = None) -> list[Entry]:
        """The entries of ``conversation`` (default: the current one)."""
        wanted = self.conversation if conversation is None else conversation
        return [e for e in self.entries if e.conversation == wanted]

    def turns(self, conversation: Optional[int] = None) -> list[Turn]:
        """The conversation so far, as the model is told it."""
        return [Turn(e.question, e.answer) for e in self.conversation_entries(conversation)]

    def reserve_id(self) -> int:
        """The id of an entry still being answered (its clips are named after it)."""
        with self.lock:
            self.next_id += 1
            return self.next_id - 1

    def clip_id(self, entry_id: int) -> str:
        """The player's name for the speech of entry ``entry_id`` (unique to this tab)."""
        return f"{self.nonce}-a{entry_id}"

    def add_entry(self, *, kind: Kind, answer: "Answer", photo_key: str, entry_id: Optional[int] = None,
                  conversation: Optional[int] = None) -> Entry:
        """Record an answered question (``entry_id`` from :meth:`reserve_id`; ``conversation``: the one it
        was asked in, default the current one)."""
        with self.lock:
            return self._add_entry(kind, answer, photo_key,
                                   self.reserve_id() if entry_id is None else entry_id,
                                   self.conversation if conversation is None else conversation)

    def _add_entry(self, kind: Kind, answer: "Answer", photo_key: str, entry_id: int,
                   conversation: int) -> Entry:
        entry = Entry(
            id=entry_id, conversation=conversation, photo_key=photo_key, kind=Kind(kind),
            question=answer.question, answer=answer.text, language=answer.language,
            question_language=answer.question_language or answer.language,
            asked_at=dt.datetime.now().isoformat(timespec="seconds"),
            speech=answer.speech.audio if answer.speech is not None else None,
            speech_mime=answer.speech.mime if answer.speech is not None else "",
            engines=dict(answer.engines), speech_error=answer.speech_error, remarks=tuple(answer.remarks),
            confidence=answer.confidence, hedged=answer.hedged,
        )
        self.entries.append(entry)
        if kind in (Kind.VOICE, Kind.TYPED) and entry.question_language:  # the person's own words
            self.last_language = entry.question_language
        record = self.photos.get(photo_key)
        if record is not None and not record.description and entry.kind.is_description:
            record.description = answer.text
        return entry

    @property
    def flawed(self) -> bool:
        """True while the current photo's quality guidance stands and the person has not chosen to go on."""
        return self.quality is not None and not self.quality.ok and not self.anyway

    def go_on(self) -> None:
        """The person chose to have the current photo answered as it is, despite its guidance."""
        self.anyway = True

    def poke(self) -> None:
        """Something came (from the worker): wake the page's run waiting for it."""
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Wait until something comes after ``seen`` (a :attr:`version`), at most ``timeout`` seconds;
        returns the version now."""
        with self.changed:
            self.changed.wait_for(lambda: self.version != seen, timeout)
            return self.version

    def next_question(self) -> Optional[Pending]:
        """The first question that can be answered now (taken off the list), or None: the first one
        waits while it has no photo, or while its photo's guidance stands."""
        with self.lock:
            first = self.pending[0] if self.pending else None
            if first is None or first.photo is None or (first.photo is self.photo and self.flawed):
                return None
            return self.pending.pop(0)

    def keep_recording_view(self, heard: "Heard") -> None:
        """Keep a picture of the last recording and its text description, for the page."""
        self.recording_view = (heard.spectrogram_png(), heard.speech_check.describe(words_language(self.choices())))

    # --- history ------------------------------------------------------------------------------
    def delete_entry(self, entry_id: int) -> bool:
        with self.lock:
            before = len(self.entries)
            self.entries = [e for e in self.entries if e.id != entry_id]
            self._forget_unused_photos()
            return len(self.entries) != before

    def delete_all(self) -> int:
        """Forget every question, answer and photo of this session; returns how many entries.
        (An answer still being written is added when it is done: it was asked after the history.)"""
        with self.lock:
            count = len(self.entries)
            self.entries = []
            self.clear_photo()
            self.photos = {}
            self.recording_view = None
            return count

    def _forget_unused_photos(self) -> None:
        used = {e.photo_key for e in self.entries}
        if self.photo is not None:
            used.add(self.photo.key)
        self.photos = {k: v for k, v in self.photos.items() if k in used}

    def alt_text(self, key: str) -> str:
        record = self.photos.get(key)
        _ = self._words()
        if record is not None and record.description:
            return _("Photo: {description}", description=record.description)
        return _("Your photo. It has not been described yet.")

    def _words(self):
        from .words import words

        return words(self)

    # --- widgets --------------------------------------------------------------------------------
    def is_new(self, widget: str, data: bytes) -> bool:
        """True the first time these bytes come from this widget; remembers them."""
        d = digest(data)
        if self.seen.get(widget) == d:
            return False
        self.seen[widget] = d
        return True

    def set_prefs(self, **changes) -> None:
        self.prefs = dataclasses.replace(self.prefs, **changes)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def session() -> Session:
    """This browser session's state, created on first use."""
    if _KEY not in st.session_state:
        st.session_state[_KEY] = Session()
    return st.session_state[_KEY]
