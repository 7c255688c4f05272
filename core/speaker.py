"""Speaking an answer while it is being written: sentences split off as they end, each synthesized in order
on a worker thread, so the first is heard while the model writes the next."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from .errors import SeeSayError, SpeechSynthesisError

if TYPE_CHECKING:
    from .tts import Speech, TextToSpeech

__all__ = ["Speaker", "split_sentences"]

_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])[\"')\]]*\s+|\n+")


def split_sentences(buffer: str, min_chars: int = 12) -> tuple[list[str], str]:
    """Split finished sentences off ``buffer``; return them and the unfinished rest.

    Very short pieces ("Yes.") are joined to the next sentence so the voice does not stutter.
    """
    done, start = [], 0
    for match in _SENTENCE_END.finditer(buffer):
        piece = buffer[start:match.end()].strip()
        if len(piece) >= min_chars:
            done.append(piece)
            start = match.end()
    return done, buffer[start:]


class Speaker:
    """Synthesizes sentences one after another on a worker thread, in order.

    :meth:`ready` gives the clips made so far, :meth:`finish` waits for the rest; both yield
    ``(index, sentence, speech)``. The first failure stops the speaking and is kept in ``error``:
    the answer's text is still there.
    """

    def __init__(self, tts: TextToSpeech, language: str, words_language: str = "en") -> None:
        self.tts, self.language = tts, language
        self.words_language = words_language  # the language ``error`` is said in (SeeSay's words)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seesay-tts")
        self.queue: list[tuple[str, Future]] = []
        self.clips: list[Speech] = []
        self.error = ""

    def say(self, sentence: str, language: str | None = None) -> None:
        """Queue ``sentence`` (in the answer's language unless ``language`` says otherwise)."""
        if not self.error:
            self.queue.append((sentence, self.pool.submit(self.tts.synthesize, sentence,
                                                          language or self.language)))

    def ready(self) -> Iterator[tuple[int, str, Speech]]:
        yield from self._take(wait=False)

    def finish(self) -> Iterator[tuple[int, str, Speech]]:
        yield from self._take(wait=True)
        self.pool.shutdown(wait=False)

    def close(self) -> None:
        for _, future in self.queue:
            future.cancel()
        self.queue.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def joined(self) -> Speech | None:
        """The whole answer as one clip (the first sentence's if they cannot be joined)."""
        if not self.clips:
            return None
        from .tts import concat_speech

        try:
            return concat_speech(self.clips)
        except SpeechSynthesisError as error:
            self.error = error.spoken_in(self.words_language)
            return self.clips[0]

    def _take(self, wait: bool) -> Iterator[tuple[int, str, Speech]]:
        while self.queue and (wait or self.queue[0][1].done()):
            sentence, future = self.queue.pop(0)
            try:
                speech = future.result()
            except SeeSayError as error:
                self.error = error.spoken_in(self.words_language)
                self.close()
                return
            self.clips.append(speech)
            yield len(self.clips) - 1, sentence, speech
