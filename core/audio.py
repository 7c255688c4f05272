"""Recorded question bytes -> 16 kHz mono float32, a speech check, and Whisper's log-mel picture.

Decoding runs in this process with PyAV (FFmpeg's libraries): no ``ffmpeg`` program is started per
request and nothing is written to disk. The container is recognised from its first bytes and
opened with that demuxer only: letting FFmpeg guess among all its demuxers would also allow
playlist formats that open other files or URLs.

The speech check exists because Whisper, given silence or noise, invents whole sentences
("Thank you for watching."). It is a plain energy and spectrum test, see :func:`check_speech`.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import AudioError, NoSpeechError
from .i18n import N_

__all__ = [
    "SAMPLE_RATE",
    "Recording",
    "SpeechCheck",
    "decode_audio",
    "check_speech",
    "require_length",
    "require_speech",
    "loudness_words",
    "log_mel",
    "mel_filters",
    "spectrogram_png",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
#: Encoders pad the end (MP3 and AAC by up to a frame or two), so a recording made to stop exactly
#: at the limit decodes a little longer. This much over ``max_seconds`` is still accepted.
LENGTH_TOLERANCE = 0.25
#: No recorder samples faster (384 kHz is studio DXD). A header claiming more is damaged or forged:
#: resampling from hundreds of MHz makes FFmpeg build a huge filter (a minute of CPU, then ENOMEM).
MAX_SAMPLE_RATE = 384_000

_TRY_AGAIN = N_("Please record your question again, or type it.")


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value
class Recording:
    samples: np.ndarray  # float32, mono, 16 kHz, in [-1, 1]
    source_format: str  # "wav", "webm", "ogg", "mp3", "mp4", "flac" (also "aac", "aiff")

    @property
    def duration(self) -> float:
        """Seconds of sound."""
        return len(self.samples) / SAMPLE_RATE


# --- decoding ------------------------------------------------------------------------------------


def _sniff(data: bytes) -> tuple[str, str] | None:
    """(FFmpeg demuxer, source_format) from the first bytes, or None if not a known sound format."""
    head = data[:12]
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav", "wav"
    if head.startswith(b"\x1aE\xdf\xa3"):  # EBML: WebM from browsers' MediaRecorder, or Matroska
        return "matroska", "webm"
    if head.startswith(b"OggS"):
        return "ogg", "ogg"
    if head.startswith(b"fLaC"):
        return "flac", "flac"
    if head[4:8] == b"ftyp":  # MP4 / M4A / 3GP from phones and Safari
        return "mp4", "mp4"
    if head.startswith(b"ID3"):
        return "mp3", "mp3"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff", "aiff"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS: raw AAC
            return "aac", "aac"
        if head[1] & 0xE0 == 0xE0:  # MPEG audio frame sync: MP3 with no ID3 tag
            return "mp3", "mp3"
    return None


def decode_audio(data: bytes, *, max_seconds: float, min_seconds: float) -> Recording:
    """Decode a recording to 16 kHz mono float32. Raises :class:`AudioError` meant to be spoken."""
    if not data:
        raise AudioError(N_("The recording is empty: no sound arrived."), _TRY_AGAIN)
    found = _sniff(data)
    if found is None:
        raise AudioError(
            N_("SeeSay could not read this recording: it is not a sound file SeeSay knows."), _TRY_AGAIN
        )
    demuxer, source_format = found
    samples = _decode(data, demuxer, max_seconds)
    if samples.size == 0:
        raise AudioError(
            N_("SeeSay could not read this recording. The file may be damaged, or only part of it arrived."),
            _TRY_AGAIN,
        )
    recording = Recording(samples=samples, source_format=source_format)
    require_length(recording, min_seconds)
    return recording


def require_length(recording: Recording, min_seconds: float) -> None:
    """Raises :class:`AudioError` when the recording is shorter than ``min_seconds``."""
    if recording.duration < min_seconds:
        raise AudioError(
            N_("The recording is too short: {seconds} seconds."),
            N_("Please keep recording while you ask your question, then try again, or type it."),
            seconds=round(recording.duration, 1),
        )


def _too_long(max_seconds: float) -> AudioError:
    return AudioError(
        N_("The recording is longer than {seconds} seconds, which is the most SeeSay listens to."),
        N_("Please ask a shorter question, or type it."), seconds=max_seconds,
    )


def _decode(data: bytes, demuxer: str, max_seconds: float) -> np.ndarray:
    """Decode what decodes; stop as soon as the sound is longer than allowed.

    Frames are mixed to mono here and resampled to 16 kHz once at the end: resampling each 20 ms
    frame on its own costs more than decoding it (0.95 s against 0.42 s for a minute of Opus).
    """
    import av  # PyAV: only needed once a recording arrives

    try:
        container = av.open(io.BytesIO(data), mode="r", format=demuxer, metadata_errors="ignore")
    except Exception as exc:  # av.error.FFmpegError and friends: not readable as this container
        log.info("recording could not be opened as %s (%s)", demuxer, type(exc).__name__)
        return np.zeros(0, np.float32)
    segments: list[tuple[int, list[np.ndarray]]] = []  # (sample rate, mono chunks), one per rate
    seconds = 0.0
    with container:
        if not container.streams.audio:
            raise AudioError(N_("This file has no sound in it."), _TRY_AGAIN)
        stream = container.streams.audio[0]
        # Refuse early when the container says how long it is. Uncompressed WAV is left to the
        # decoding loop: its header size is often wrong (streamed recorders write a placeholder).
        if container.duration is not None and demuxer != "wav":
            if container.duration / 1_000_000 > max_seconds + 1.0:
                raise _too_long(max_seconds)
        packets = container.demux(stream)
        bad_packets = 0
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except Exception as exc:  # truncated or corrupt container: keep what decoded so far
                log.info("recording cut short while reading (%s)", type(exc).__name__)
                break
            try:
                for frame in packet.decode():
                    rate = frame.sample_rate
                    if rate <= 0 or frame.samples == 0:
                        continue
                    if rate > MAX_SAMPLE_RATE:
                        log.info("recording claims %d samples a second", rate)
                        return np.zeros(0, np.float32)  # reported as damaged by decode_audio
                    if not segments or segments[-1][0] != rate:
                        segments.append((rate, []))
                    segments[-1][1].append(_mono(frame))
                    seconds += frame.samples / rate
            except Exception as exc:  # one damaged packet: skip it, unless the whole stream is bad
                bad_packets += 1
                if bad_packets > 20:
                    log.info("recording has too many damaged packets (%s)", type(exc).__name__)
                    break
                continue
            if seconds > max_seconds + LENGTH_TOLERANCE:
                raise _too_long(max_seconds)
    pieces = [_resample(np.concatenate(chunks), rate) for rate, chunks in segments]
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    # Float WAV can hold NaN, infinities or values past full scale; Whisper expects [-1, 1].
    np.nan_to_num(samples, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(samples, -1.0, 1.0, out=samples)


def _mono(frame) -> np.ndarray:
    """One decoded frame as float32 in [-1, 1], channels averaged (a mean cannot clip)."""
    values = frame.to_ndarray()
    if not frame.format.is_planar:  # packed: (1, samples * channels), interleaved
        values = values.reshape(-1, len(frame.layout.channels)).T
    if values.dtype.kind == "f":
        values = values.astype(np.float32, copy=False)
    elif values.dtype == np.uint8:
        values = (values.astype(np.float32) - 128.0) / 128.0
    else:
        values = values.astype(np.float32) / float(np.iinfo(values.dtype).max + 1)
    return values.mean(axis=0, dtype=np.float32) if values.shape[0] > 1 else values[0]


def _resample(mono: np.ndarray, rate: int) -> np.ndarray:
    """To 16 kHz with FFmpeg's resampler, as Whisper's own loader does (``ffmpeg -ar 16000``)."""
    import av

    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if rate == SAMPLE_RATE or mono.size == 0:
        return mono
    frame = av.AudioFrame.from_ndarray(mono[None, :], format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    out = resampler.resample(frame) + resampler.resample(None)  # None: what it still holds
    if not out:
        return np.zeros(0, np.float32)
    return np.concatenate([piece.to_ndarray().reshape(-1) for piece in out])


# --- speech check --------------------------------------------------------------------------------

FRAME = 480  # 30 ms at 16 kHz: long enough to hold a couple of voice pitch periods
SILENCE_DBFS = -60.0  # quieter than this overall: nothing was recorded
QUIET_DBFS = -45.0  # quieter than this overall: the phone was too far away
FRAME_GATE_DBFS = -55.0  # a frame must be at least this loud to count as voice
ABOVE_FLOOR_DB = 6.0  # ... and this much louder than the clip's noise floor
VOICE_BAND = (300.0, 3400.0)  # telephone band: where most of a voice's energy lies
MIN_VOICE_SHARE = 0.5  # share of a frame's energy that must lie in the voice band
MAX_FLATNESS = 0.3  # in-band spectral flatness: any white noise ~0.57, voiced speech ~0.01-0.06
MIN_VOICE_SECONDS = 0.24  # this much voice-like sound in total counts as speech


@dataclass(frozen=True)
class SpeechCheck:
    duration: float  # seconds
    rms_dbfs: float  # loudness of the whole clip
    speech_ratio: float  # share of 30 ms frames that look like voice
    has_speech: bool

    def describe(self, language: str = "en") -> str:
        """Text alternative of the recording, in ``language``: "3.2 seconds, normal loudness, speech heard." """
        from babel.numbers import format_decimal

        from .i18n import translator

        _ = translator(language)
        seconds = format_decimal(self.duration, format="0.0", locale=_.language)
        loudness = loudness_words(self.rms_dbfs, language)
        if self.has_speech:
            return _("{seconds} seconds, {loudness}, speech heard.", seconds=seconds, loudness=loudness)
        return _("{seconds} seconds, {loudness}, no speech heard.", seconds=seconds, loudness=loudness)


def loudness_words(dbfs: float, language: str = "en") -> str:
    """A loudness in words, for people who cannot see a level meter, in ``language``."""
    from .i18n import translator

    _ = translator(language)
    if dbfs < SILENCE_DBFS:
        return _("silent")
    if dbfs < QUIET_DBFS:
        return _("very quiet")
    if dbfs < -32.0:
        return _("quiet")
    if dbfs < -10.0:
        return _("normal loudness")
    return _("very loud")


def check_speech(samples: np.ndarray) -> SpeechCheck:
    """Decide whether 16 kHz mono samples hold a voice, before Whisper sees them.

    The clip is cut into 30 ms frames. A frame looks like voice when all of these hold:

    * it is louder than ``FRAME_GATE_DBFS`` and ``ABOVE_FLOOR_DB`` above the clip's noise floor
      (the 10th percentile of frame loudness): steady hum and hiss never rise above their own floor;
    * at least ``MIN_VOICE_SHARE`` of its energy lies in the 300-3400 Hz voice band: rumble,
      wind and hiss put theirs elsewhere;
    * the spectral flatness in that band (geometric over arithmetic mean of the power spectrum)
      is below ``MAX_FLATNESS``: voiced sound is a comb of harmonics, noise is flat.

    The clip has speech when at least ``MIN_VOICE_SECONDS`` of frames look like voice. A clip
    quieter than ``SILENCE_DBFS`` overall is silent whatever its frames say.
    """
    x = np.nan_to_num(np.asarray(samples, dtype=np.float64).reshape(-1))
    duration = x.size / SAMPLE_RATE
    if x.size == 0:
        return SpeechCheck(duration=0.0, rms_dbfs=-120.0, speech_ratio=0.0, has_speech=False)
    x = x - x.mean()  # a DC offset is not sound
    rms_dbfs = _dbfs(float(np.mean(x * x)))
    n = x.size // FRAME
    if n == 0 or rms_dbfs < SILENCE_DBFS:
        return SpeechCheck(duration=duration, rms_dbfs=rms_dbfs, speech_ratio=0.0, has_speech=False)

    frames = x[: n * FRAME].reshape(n, FRAME)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy_db = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
    floor = np.percentile(energy_db, 10)

    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), n=512, axis=1)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / SAMPLE_RATE)
    power = power[:, 1:] + 1e-12  # drop DC
    freqs = freqs[1:]
    in_band = (freqs >= VOICE_BAND[0]) & (freqs <= VOICE_BAND[1])
    band = power[:, in_band]
    band_share = band.sum(axis=1) / power.sum(axis=1)
    # Flatness inside the band only: outside it, a resampler's or a codec's cut-off leaves
    # near-zero bins that would make any sound, noise included, look "peaky".
    flatness = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)

    voiced = (
        (energy_db > FRAME_GATE_DBFS)
        & (energy_db > floor + ABOVE_FLOOR_DB)
        & (band_share > MIN_VOICE_SHARE)
        & (flatness < MAX_FLATNESS)
    )
    voiced_count = int(voiced.sum())
    has_speech = voiced_count * FRAME / SAMPLE_RATE >= MIN_VOICE_SECONDS
    return SpeechCheck(
        duration=duration, rms_dbfs=rms_dbfs, speech_ratio=voiced_count / n, has_speech=has_speech
    )


def require_speech(recording: Recording, check: SpeechCheck | None = None) -> SpeechCheck:
    """The speech check (``check`` when it was already made), raising :class:`NoSpeechError` when no
    voice was heard."""
    check = check or check_speech(recording.samples)
    if check.has_speech:
        return check
    log.info("no speech in recording: %s", check.describe())
    if check.rms_dbfs < SILENCE_DBFS:
        raise NoSpeechError(
            N_("I could not hear a question in that recording. It sounded silent."),
            N_("Please check that the microphone is allowed, hold the phone closer and try again, "
               "or type your question."),
        )
    if check.rms_dbfs < QUIET_DBFS:
        raise NoSpeechError(
            N_("I could not hear a question in that recording. It was very quiet."),
            N_("Please hold the phone closer and try again, or type your question."),
        )
    raise NoSpeechError(
        N_("I could not hear a question in that recording. It sounded like noise, not a voice."),
        N_("Please move somewhere quieter, hold the phone closer and try again, or type your question."),
    )


def _dbfs(mean_square: float) -> float:
    """Loudness relative to a full-scale square wave (RMS 1.0), floored at -120 dBFS."""
    return max(-120.0, 10.0 * math.log10(mean_square)) if mean_square > 0 else -120.0


# --- Whisper's log-mel spectrogram ---------------------------------------------------------------

N_FFT = 400  # 25 ms window
HOP_LENGTH = 160  # 10 ms hop


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    mel = hz / f_sp
    above = hz >= min_log_hz
    mel[above] = min_log_mel + np.log(hz[above] / min_log_hz) / logstep
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    hz = f_sp * mel
    above = mel >= min_log_mel
    hz[above] = min_log_hz * np.exp(logstep * (mel[above] - min_log_mel))
    return hz


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = 80) -> np.ndarray:
    """``librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)``: Slaney scale and area norm.

    Whisper ships exactly these (for 80 and 128 mels) in ``mel_filters.npz``. Shape (n_mels, 201).
    """
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0],
                                        _hz_to_mel(np.array([SAMPLE_RATE / 2]))[0], n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]  # equal area per filter
    weights.setflags(write=False)  # cached and shared
    return weights


def log_mel(samples: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """Whisper's ``log_mel_spectrogram`` in numpy: (n_mels, len(samples) // 160) float32.

    Periodic Hann window of 400, hop 160, centred frames with reflect padding (``torch.stft``'s
    defaults), power spectrum, mel filters, log10 clamped to 8 decades under the peak, then
    ``(x + 4) / 4``. Clips shorter than 201 samples are padded with zeros first (reflect padding
    needs that many).
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    n_frames = x.size // HOP_LENGTH
    if n_frames == 0:
        return np.zeros((n_mels, 0), np.float32)
    if x.size <= N_FFT // 2:
        x = np.pad(x, (0, N_FFT // 2 + 1 - x.size))
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH][:n_frames]
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (n_frames, 201)
    mel = mel_filters(n_mels) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


# --- a picture of the recording ------------------------------------------------------------------

# Nine stops of matplotlib's viridis (dark purple -> yellow): even steps in lightness, so the
# picture also reads in greyscale and for colour-blind people.
_VIRIDIS_STOPS = np.array(
    [(68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140),
     (40, 174, 128), (94, 201, 98), (173, 220, 48), (253, 231, 37)],
    dtype=np.float64,
)


@lru_cache(maxsize=1)
def _colour_table() -> np.ndarray:
    """256 RGB colours interpolated between the viridis stops."""
    positions = np.linspace(0.0, 1.0, len(_VIRIDIS_STOPS))
    levels = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(levels, positions, _VIRIDIS_STOPS[:, c]) for c in range(3)], axis=1)
    return np.rint(table).astype(np.uint8)


def spectrogram_png(samples: np.ndarray, size: tuple[int, int] = (600, 160)) -> bytes:
    """A PNG of the log-mel spectrogram: time left to right, low pitches at the bottom."""
    from PIL import Image

    spec = log_mel(samples)
    if spec.shape[1] == 0:
        levels = np.zeros((spec.shape[0], 1), np.uint8)
    else:
        low, high = float(spec.min()), float(spec.max())
        scaled = (spec - low) / (high - low) if high > low else np.zeros_like(spec)
        levels = np.rint(scaled * 255).astype(np.uint8)
    rgb = _colour_table()[levels[::-1]]  # row 0 is the top of the picture: highest mel band first
    picture = Image.fromarray(rgb, "RGB").resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    picture.save(buf, "PNG", optimize=True)
    return buf.getvalue()
