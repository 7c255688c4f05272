"""The speak stage: the answer is spoken while it is being written, sentence by sentence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..confidence import hedge
from ..events import AnswerAudio, AnswerText, Event, Remark
from ..speaker import Speaker, split_sentences
from .base import Draft, Question, Rest

if TYPE_CHECKING:
    from ..tts import Speech, TextToSpeech

__all__ = ["Speak"]


class Speak:
    """Transforms the events that pass up through it: each sentence of ``AnswerText`` is handed to the voice
    as soon as it ends (the first one hedged when the judge decided so), each ``Remark`` in its place, in
    SeeSay's own words in their language (:attr:`Question.words_language`); ``AnswerAudio`` for each clip, in
    order, as it is ready. No voice (``voice`` None):
    the answer stays text, and ``no_voice`` says why."""

    def __init__(self, voice: TextToSpeech | None, no_voice: str = "") -> None:
        self.voice, self.no_voice = voice, no_voice

    def __call__(self, question: Question, draft: Draft, rest: Rest) -> Iterator[Event]:
        if self.voice is None:
            draft.speech_error = self.no_voice
            yield from rest(question)
            return
        speaker = Speaker(self.voice, question.answer_language, question.words_language)
        sentences = _Sentences(speaker, draft, question.words_language)
        try:
            for event in rest(question):
                yield event
                if isinstance(event, AnswerText):
                    sentences.add(event.text)
                elif isinstance(event, Remark):
                    sentences.finish()  # a remark after the answer: the answer's last words first
                    speaker.say(event.text, question.words_language)  # SeeSay's own words, in their language
                yield from _clips(speaker.ready())
            sentences.finish()
            yield from _clips(speaker.finish())
        except BaseException:
            speaker.close()  # the model failed or the person left: stop speaking
            raise
        draft.speech, draft.speech_error = speaker.joined(), speaker.error
        if draft.speech is not None:
            draft.engines["tts"] = draft.speech.engine


class _Sentences:
    """The answer's words, handed to the speaker a finished sentence at a time."""

    def __init__(self, speaker: Speaker, draft: Draft, words_language: str = "en") -> None:
        self.speaker, self.draft, self.words_language = speaker, draft, words_language
        self.pending = ""
        self.said = 0

    def add(self, piece: str) -> None:
        done, self.pending = split_sentences(self.pending + piece)
        for sentence in done:
            self._say(sentence)

    def finish(self) -> None:
        rest, self.pending = self.pending.strip(), ""
        if rest:
            self._say(rest)

    def _say(self, sentence: str) -> None:
        if not self.said and self.draft.hedged:
            sentence = hedge(sentence, self.words_language)
        self.said += 1
        self.speaker.say(sentence)


def _clips(ready: Iterator[tuple[int, str, Speech]]) -> Iterator[AnswerAudio]:
    for index, sentence, speech in ready:
        yield AnswerAudio(speech, index, sentence)
