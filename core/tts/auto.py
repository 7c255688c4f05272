"""``auto``: gTTS first, the offline voice when gTTS fails or is too slow, and for a while after."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..errors import SpeechSynthesisError
from .base import Speech, TextToSpeech, UnsupportedLanguage, require_words
from .google import Background

__all__ = ["AutoEngine", "RETRY_ONLINE_AFTER", "OFFLINE_HEAD_START"]

log = logging.getLogger(__name__)

#: seconds the auto engine stays offline after gTTS failed
RETRY_ONLINE_AFTER = 60.0
#: share of the timeout after which auto starts the offline voice too, in case gTTS never answers
OFFLINE_HEAD_START = 0.5


class AutoEngine:
    """gTTS first; the offline voice when gTTS fails or is too slow, and for a while after.

    gTTS gets ``timeout`` seconds for the whole clip. If it has not answered after half of them,
    the offline voice starts on the same sentence meanwhile, so that at the deadline its speech
    is ready: on 2 busy cores (the model is still writing the answer) Piper can take a second
    for a sentence. The price is a wasted offline clip when gTTS answers late but in time.
    """

    name = "auto"
    sends_text_off_machine = True

    def __init__(self, online: TextToSpeech, offline: TextToSpeech, *, timeout: float,
                 retry_after: float = RETRY_ONLINE_AFTER, clock: Callable[[], float] = time.monotonic):
        self.online, self.offline, self.timeout = online, offline, timeout
        self.retry_after, self.clock = retry_after, clock
        self.failed_at: float | None = None  # a float, written whole: no lock needed

    def online_resting(self) -> bool:
        """True while gTTS is left alone after a recent failure."""
        failed = self.failed_at
        return failed is not None and self.clock() - failed < self.retry_after

    def synthesize(self, text: str, language: str = "en") -> Speech:
        require_words(text)
        if self.online_resting():
            return self.offline.synthesize(text, language)
        deadline = time.monotonic() + self.timeout
        online = Background("seesay-auto", self.online.synthesize, text, language)
        backup: Speech | None = None
        backup_error: SpeechSynthesisError | None = None
        if not online.wait(self.timeout * OFFLINE_HEAD_START):
            try:
                backup = self.offline.synthesize(text, language)
            except SpeechSynthesisError as error:
                backup_error = error
            online.wait(deadline - time.monotonic())
        if not online.wait(0):
            self._rest(f"no answer within {self.timeout:g} s")
        elif online.error is None:
            return online.value  # type: ignore[return-value]
        elif isinstance(online.error, UnsupportedLanguage):
            log.info("online voice has no %r; offline voice", language)
        else:  # a SpeechSynthesisError, or a bug in gTTS: either way, no Google voice
            self._rest(type(online.error).__name__)
        if backup is not None:
            return backup
        if backup_error is not None:
            raise backup_error
        return self.offline.synthesize(text, language)

    def _rest(self, why: str) -> None:
        self.failed_at = self.clock()
        log.warning("online voice failed (%s); offline voice for the next %g s", why, self.retry_after)
