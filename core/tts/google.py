"""Google's voice through gTTS: natural and multilingual, but the text goes to Google over the internet.

Every request has a timeout, and the whole clip a time budget: requests' own timeouts bound each
connect and each read, but neither a DNS lookup nor a server that trickles bytes.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable

from .. import language as lang
from ..errors import SpeechSynthesisError
from ..i18n import N_, LanguageName
from .base import MP3, ON_PAGE, ON_PAGE_ASK_OFFLINE, Speech, UnsupportedLanguage, quiet_debug, require_words

__all__ = ["GttsEngine", "Background"]

log = logging.getLogger(__name__)


class GttsEngine:
    """Google's voice. ``budget``: seconds for the whole clip (None: ``timeout`` per request)."""

    name = "gtts"
    sends_text_off_machine = True

    def __init__(self, timeout: float, budget: float | None = None) -> None:
        import gtts  # noqa: F401  (fails early, at start-up, when gTTS is missing)

        quiet_debug("gtts")
        self.timeout, self.budget = timeout, budget

    def synthesize(self, text: str, language: str = "en") -> Speech:
        require_words(text)
        code = lang.gtts_language(language)
        if not code:
            raise UnsupportedLanguage(N_("The online voice cannot speak {language}."), ON_PAGE,
                                      language=LanguageName(language))
        from gtts import gTTS

        try:
            # lang_check=False: the language was checked above, against gTTS's own table.
            tts = gTTS(text, lang=code, lang_check=False, timeout=self.timeout)
            requests = max(1, len(tts.get_bodies()))  # gTTS sends 100 characters a request
        except AssertionError:  # only punctuation left after gTTS's clean-up
            raise SpeechSynthesisError(N_("There was nothing to read aloud."), ON_PAGE) from None
        budget = self.budget if self.budget is not None else self.timeout * requests
        t0 = time.perf_counter()
        try:
            job = Background("seesay-gtts", _fetch, tts)
            if not job.wait(budget):
                raise TimeoutError(f"no answer within {budget:g} s")
            audio = job.result()
        except Exception as error:  # anything gTTS or the network throws means: no Google voice
            raise _gtts_error(error) from error
        if not audio:
            raise SpeechSynthesisError(N_("The online voice sent back no sound."), ON_PAGE)
        log.debug("gtts: %d request(s), %d bytes in %.2fs", requests, len(audio), time.perf_counter() - t0)
        return Speech(audio, MP3, "gtts", lang.base_language(language))


def _fetch(tts) -> bytes:
    buffer = io.BytesIO()  # in memory: a failed request leaves no empty file behind
    tts.write_to_fp(buffer)
    return buffer.getvalue()


class Background:
    """``fn(*args)`` on a daemon thread, to be waited for with a time limit.

    requests' timeout bounds each connect and each read, but neither a DNS lookup nor a server
    that trickles bytes: waiting here bounds the whole call. A thread given up on is left to end
    by its own request timeout; being a daemon, it never holds up the process's exit.
    """

    def __init__(self, name: str, fn: Callable[..., Speech | bytes], *args) -> None:
        self.value: object = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self.thread.start()

    def _run(self, fn, args) -> None:
        try:
            self.value = fn(*args)
        except BaseException as error:  # handed to whoever waits
            self.error = error

    def wait(self, seconds: float) -> bool:
        """True when the call has ended (either way) within ``seconds``."""
        self.thread.join(max(0.0, seconds))
        return not self.thread.is_alive()

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


def _gtts_error(error: Exception) -> SpeechSynthesisError:
    status = getattr(getattr(error, "rsp", None), "status_code", None)
    timed_out, seen = False, error
    while seen is not None and not timed_out:  # gTTS wraps requests' exceptions in gTTSError
        timed_out = isinstance(seen, TimeoutError) or type(seen).__name__ in ("Timeout", "ConnectTimeout",
                                                                             "ReadTimeout")
        seen = seen.__cause__ or seen.__context__
    log.warning("gtts failed: %s%s", type(error).__name__, f" (HTTP {status})" if status else "")
    if status == 429:
        return SpeechSynthesisError(
            N_("The online voice is refusing requests for now, because too many were sent."),
            ON_PAGE_ASK_OFFLINE)
    if status is not None:
        return SpeechSynthesisError(N_("The online voice answered with an error."), ON_PAGE_ASK_OFFLINE)
    if timed_out:
        return SpeechSynthesisError(
            N_("The online voice did not answer in time."), ON_PAGE_ASK_OFFLINE)
    return SpeechSynthesisError(
        N_("The online voice could not be reached. This computer may be offline."), ON_PAGE_ASK_OFFLINE)
