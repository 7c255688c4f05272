"""Joining the clips of an answer's sentences into one, and measuring a clip's length."""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Sequence

from ..errors import SpeechSynthesisError
from ..i18n import N_
from .base import MP3, WAV, Speech, wav

__all__ = ["concat_speech", "speech_duration"]

log = logging.getLogger(__name__)


def concat_speech(parts: Sequence[Speech]) -> Speech:
    """One clip from the clips of an answer's sentences, in order.

    MP3 clips are joined frame by frame; WAV clips share one header. When the formats or sample
    rates differ everything becomes 16-bit mono WAV at the highest rate (MP3 decoded in memory
    with PyAV). Raises :class:`~core.errors.SpeechSynthesisError` when a clip cannot be read.
    """
    if not parts:
        raise ValueError("concat_speech needs at least one clip")
    if len(parts) == 1:
        return parts[0]
    engine = "+".join(dict.fromkeys(part.engine for part in parts))
    language = parts[0].language
    try:
        if all(part.mime == MP3 for part in parts):
            return Speech(b"".join(_mp3_frames(part.audio) for part in parts), MP3, engine, language)
        params = [_wav_params(part.audio) for part in parts if part.mime == WAV]
        if len(params) == len(parts) and len(set(params)) == 1:
            pcm = b"".join(_wav_pcm(part.audio) for part in parts)
            channels, width, rate = params[0]
            return Speech(wav(pcm, rate, channels, width), WAV, engine, language)
        rate = max((p[2] for p in params), default=24_000)
        pcm = b"".join(_pcm16_mono(part, rate) for part in parts)
        return Speech(wav(pcm, rate), WAV, engine, language)
    except SpeechSynthesisError:
        raise
    except Exception as error:  # a clip that cannot be decoded: the sentences stay separate
        log.warning("could not join %d clips: %s", len(parts), type(error).__name__)
        raise SpeechSynthesisError(N_("The spoken answer could not be joined into one recording."),
                                   N_("Each sentence was still played.")) from error


def speech_duration(speech: Speech) -> float:
    """Length of the clip in seconds (MP3 is decoded to count its samples exactly)."""
    if speech.mime == WAV:
        with wave.open(io.BytesIO(speech.audio), "rb") as clip:
            return clip.getnframes() / clip.getframerate()
    import av

    with av.open(io.BytesIO(speech.audio)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def _wav_params(data: bytes) -> tuple[int, int, int]:
    with wave.open(io.BytesIO(data), "rb") as clip:
        return clip.getnchannels(), clip.getsampwidth(), clip.getframerate()


def _wav_pcm(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as clip:
        return clip.readframes(clip.getnframes())


def _mp3_frames(data: bytes) -> bytes:
    """The MPEG audio frames of an MP3, without ID3 tags or the Xing/Info header frame.

    Those describe one clip (its length, its title); left in the middle of a joined clip they
    stop some decoders and make players show the first sentence's length.
    """
    import av

    with av.open(io.BytesIO(data), format="mp3") as container:
        frames = b"".join(bytes(packet) for packet in container.demux(container.streams.audio[0])
                          if packet.size)
    if not frames:
        raise SpeechSynthesisError(N_("The spoken answer could not be joined into one recording."),
                                   N_("Each sentence was still played."))
    return frames


def _pcm16_mono(part: Speech, rate: int) -> bytes:
    if part.mime == WAV and _wav_params(part.audio) == (1, 2, rate):
        return _wav_pcm(part.audio)
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    out = []
    with av.open(io.BytesIO(part.audio)) as container:
        for frame in container.decode(container.streams.audio[0]):
            out.extend(resampler.resample(frame))
    out.extend(resampler.resample(None))  # flush what the resampler holds back
    return b"".join(frame.to_ndarray().tobytes() for frame in out)
