"""core.audio: every recording format browsers and phones send, resampling, refusals, the speech
check, Whisper's log-mel and its picture.

Inputs are made here in memory: soundfile for WAV/FLAC, PyAV's encoders for the compressed
formats, espeak-ng (on stdout) for a real spoken sentence.
"""

from __future__ import annotations

import functools
import io
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import core.audio as audio
from core.audio import (
    SAMPLE_RATE,
    Recording,
    SpeechCheck,
    check_speech,
    decode_audio,
    log_mel,
    mel_filters,
    require_speech,
    spectrogram_png,
)
from core.errors import AudioError, NoSpeechError
from tests.media import encode

LIMITS = dict(max_seconds=60.0, min_seconds=0.5)
QUESTION = "What colour is the car?"


# --- making recordings ---------------------------------------------------------------------------


def tone(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


class Unseekable:
    """A write-only sink, as a browser's MediaRecorder is: the muxer cannot go back to write a duration."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk) -> int:
        self.data += bytes(chunk)
        return len(chunk)


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum)) * SAMPLE_RATE / len(samples)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def espeak_wav() -> bytes:
    assert shutil.which("espeak-ng"), "espeak-ng is a SeeSay system dependency (apt-get install espeak-ng)"
    done = subprocess.run(["espeak-ng", "--stdout", QUESTION], capture_output=True, check=True, timeout=30)
    return done.stdout


@pytest.fixture(scope="module")
def spoken() -> np.ndarray:
    """espeak-ng saying a question, decoded by decode_audio (espeak's stdout WAV has placeholder sizes)."""
    data = espeak_wav()
    return decode_audio(data, **LIMITS).samples


def white_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 10 ** (dbfs / 20)).astype(np.float32)


def refusal(data: bytes, error=AudioError, **limits) -> AudioError:
    with pytest.raises(error) as caught:
        decode_audio(data, **{**LIMITS, **limits})
    assert caught.value.hint.startswith("Please"), "every refusal says what to do next"
    return caught.value


# --- formats -------------------------------------------------------------------------------------

COMPRESSED = [
    # (container, codec, rate the codec runs at, source_format reported)
    ("webm", "libopus", 48000, "webm"),
    ("ogg", "libopus", 48000, "ogg"),
    ("ogg", "vorbis", 44100, "ogg"),
    ("mp3", "libmp3lame", 44100, "mp3"),
    ("mp4", "aac", 44100, "mp4"),
    ("ipod", "aac", 44100, "mp4"),  # .m4a
    ("flac", "flac", 44100, "flac"),
]


@pytest.mark.parametrize("container, codec, codec_rate, reported", COMPRESSED,
                         ids=[f"{c[0]}-{c[1]}" for c in COMPRESSED])
def test_compressed_formats_decode_to_16k_mono(container, codec, codec_rate, reported):
    data = encode(tone(2.0, codec_rate), codec_rate, container, codec)
    recording = decode_audio(data, **LIMITS)
    assert recording.source_format == reported
    assert recording.samples.dtype == np.float32 and recording.samples.ndim == 1
    assert recording.duration == pytest.approx(2.0, abs=0.05)
    assert peak_hz(recording.samples) == pytest.approx(440, abs=3)
    assert rms(recording.samples) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW"])
def test_wav_sample_formats_decode(subtype):
    recording = decode_audio(wav(tone(1.5, 16000), 16000, subtype), **LIMITS)
    assert recording.source_format == "wav"
    assert len(recording.samples) == 24000
    assert peak_hz(recording.samples) == pytest.approx(440, abs=3)
    assert rms(recording.samples) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_flac_from_soundfile_decodes():
    buf = io.BytesIO()
    sf.write(buf, tone(1.0, 22050), 22050, format="FLAC")
    recording = decode_audio(buf.getvalue(), **LIMITS)
    assert recording.source_format == "flac"
    assert recording.duration == pytest.approx(1.0, abs=0.002)


def test_48k_stereo_is_mixed_and_resampled():
    left, right = tone(3.0, 48000, 440, 0.5), tone(3.0, 48000, 1000, 0.5)
    recording = decode_audio(wav(np.stack([left, right], axis=1), 48000), **LIMITS)
    assert abs(len(recording.samples) - 48000) <= 2
    spectrum = np.abs(np.fft.rfft(recording.samples))
    freqs = np.fft.rfftfreq(len(recording.samples), 1 / SAMPLE_RATE)
    strongest = sorted(freqs[np.argsort(spectrum)[-2:]].round())
    assert strongest == [440.0, 1000.0]  # both channels are heard


def test_stereo_is_averaged_not_summed():
    same = tone(2.0, 48000, 440, 0.9)
    recording = decode_audio(wav(np.stack([same, same], axis=1), 48000, "FLOAT"), **LIMITS)
    assert np.abs(recording.samples).max() == pytest.approx(0.9, abs=0.02)  # a sum would clip at 1
    opposite = decode_audio(wav(np.stack([same, -same], axis=1), 48000, "FLOAT"), **LIMITS)
    assert np.abs(opposite.samples).max() < 0.01


def test_48k_stereo_opus_webm_has_the_right_duration():
    stereo = np.stack([tone(2.5, 48000), tone(2.5, 48000, 660)], axis=1)
    recording = decode_audio(encode(stereo, 48000, "webm", "libopus"), **LIMITS)
    assert recording.duration == pytest.approx(2.5, abs=0.03)


def test_8k_mono_is_upsampled():
    recording = decode_audio(wav(tone(3.0, 8000, 1000), 8000), **LIMITS)
    assert abs(len(recording.samples) - 48000) <= 2
    assert peak_hz(recording.samples) == pytest.approx(1000, abs=3)


def test_import_loads_neither_pyav_nor_torch():
    code = "import sys, core.audio; assert 'av' not in sys.modules and 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_recording_duration_property():
    assert Recording(np.zeros(24000, np.float32), "wav").duration == 1.5


# --- WAV headers that lie ------------------------------------------------------------------------


def _set_u32(data: bytes, offset: int, value: int) -> bytes:
    patched = bytearray(data)
    patched[offset:offset + 4] = struct.pack("<I", value)
    return bytes(patched)


@pytest.fixture(scope="module")
def three_seconds_wav() -> bytes:
    return wav(tone(3.0, 16000), 16000)


def test_wav_claiming_more_data_than_the_file_holds_decodes_what_is_there(three_seconds_wav):
    size_at = three_seconds_wav.index(b"data") + 4
    lying = _set_u32(three_seconds_wav, size_at, 0xFFFFFFF0)
    assert decode_audio(lying, **LIMITS).duration == pytest.approx(3.0, abs=0.001)
    cut = lying[: 44 + 2 * 16000]  # one second of samples actually arrived
    assert decode_audio(cut, **LIMITS).duration == pytest.approx(1.0, abs=0.001)


def test_wav_with_wrong_riff_size_or_zero_data_size_decodes(three_seconds_wav):
    assert decode_audio(_set_u32(three_seconds_wav, 4, 0xFFFFFFFF), **LIMITS).duration == pytest.approx(3.0)
    size_at = three_seconds_wav.index(b"data") + 4
    assert decode_audio(_set_u32(three_seconds_wav, size_at, 0), **LIMITS).duration == pytest.approx(3.0)


@pytest.mark.parametrize("claimed", [1000, 12345, 0x7FFFFFFF])
def test_wav_with_a_wrong_data_size_gives_sound_or_an_audio_error(three_seconds_wav, claimed):
    size_at = three_seconds_wav.index(b"data") + 4
    try:
        recording = decode_audio(_set_u32(three_seconds_wav, size_at, claimed), **LIMITS)
    except AudioError as error:
        assert "short" in error.message or "could not read" in error.message
    else:
        assert 0.5 <= recording.duration <= 3.0


def test_espeak_stdout_wav_with_placeholder_sizes_decodes(spoken):
    data = espeak_wav()
    assert struct.unpack("<I", data[40:44])[0] > len(data)  # the header does lie
    rate = struct.unpack("<I", data[24:28])[0]
    assert len(spoken) / SAMPLE_RATE == pytest.approx((len(data) - 44) / 2 / rate, abs=0.002)


# --- refusals ------------------------------------------------------------------------------------


def test_empty_is_refused():
    assert "empty" in refusal(b"").message


def test_random_bytes_are_refused():
    assert "not a sound file" in refusal(np.random.default_rng(0).bytes(5000)).message


def test_text_is_refused():
    refusal(b"What colour is the car? " * 40)


def test_file_with_no_audio_stream_is_refused():
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as muxer:
        stream = muxer.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        black = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for _ in range(3):
            for packet in stream.encode(black):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    assert "no sound" in refusal(buf.getvalue()).message


def test_truncated_webm_decodes_what_arrived():
    data = encode(tone(3.0, 48000), 48000, "webm", "libopus")
    half = decode_audio(data[: len(data) // 2], **LIMITS)
    assert 1.0 <= half.duration <= 2.0
    assert peak_hz(half.samples) == pytest.approx(440, abs=3)
    error = refusal(data[:200])
    assert "damaged" in error.message or "part of it" in error.message


def test_too_long_is_refused_from_the_header_before_decoding(monkeypatch):
    decoded = []
    monkeypatch.setattr(audio, "_mono", lambda frame: decoded.append(frame) or np.zeros(frame.samples))
    data = encode(tone(6.0, 48000), 48000, "ogg", "libopus")
    assert "longer than 2 seconds" in refusal(data, max_seconds=2.0).message
    assert decoded == []


def test_too_long_without_a_duration_stops_decoding_at_the_limit(monkeypatch):
    data = encode(tone(20.0, 48000, amplitude=0.3), 48000, "webm", "libopus", sink=Unseekable())
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is None  # as from a browser: only decoding can tell the length
    seconds = []
    real_mono = audio._mono
    monkeypatch.setattr(audio, "_mono", lambda frame: seconds.append(frame.samples / frame.sample_rate)
                        or real_mono(frame))
    assert "longer than 2 seconds" in refusal(data, max_seconds=2.0).message
    assert 2.0 < sum(seconds) < 2.0 + audio.LENGTH_TOLERANCE + 0.1  # not the whole 20 seconds


def test_too_long_wav_is_refused():
    assert "longer than" in refusal(wav(tone(5.0, 16000), 16000), max_seconds=2.0).message


def test_a_recording_at_the_limit_is_accepted():
    assert decode_audio(encode(tone(2.0, 44100), 44100, "mp3", "libmp3lame"), max_seconds=2.0,
                        min_seconds=0.5).duration == pytest.approx(2.0, abs=0.05)


def test_too_short_is_refused():
    error = refusal(encode(tone(0.2, 48000), 48000, "ogg", "libopus"))
    assert "too short" in error.message


# --- speech check --------------------------------------------------------------------------------


def test_digital_silence_has_no_speech():
    check = check_speech(np.zeros(2 * SAMPLE_RATE, np.float32))
    assert not check.has_speech and check.speech_ratio == 0.0
    assert check.describe() == "2.0 seconds, silent, no speech heard."
    with pytest.raises(NoSpeechError) as caught:
        require_speech(Recording(np.zeros(2 * SAMPLE_RATE, np.float32), "wav"))
    assert "could not hear a question" in caught.value.message and "silent" in caught.value.message
    assert "type your question" in caught.value.hint


@pytest.mark.parametrize("dbfs, said", [(-50.0, "very quiet"), (-35.0, "noise"), (-12.0, "noise")])
def test_white_noise_has_no_speech(dbfs, said):
    noise = white_noise(3.0, dbfs)
    assert not check_speech(noise).has_speech
    with pytest.raises(NoSpeechError) as caught:
        require_speech(Recording(noise, "webm"))
    assert said in caught.value.message


def bursts(sound: np.ndarray, on: float = 0.2) -> np.ndarray:
    """The sound switched on and off every ``on`` seconds: loud frames well above a silent floor."""
    gate = (np.arange(len(sound)) // int(on * SAMPLE_RATE)) % 2 == 0
    return (sound * gate).astype(np.float32)


def band_noise(seconds: float, low: float, high: float, amplitude: float) -> np.ndarray:
    spectrum = np.fft.rfft(white_noise(seconds, 0.0, seed=2))
    freqs = np.fft.rfftfreq(int(seconds * SAMPLE_RATE), 1 / SAMPLE_RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0
    noise = np.fft.irfft(spectrum, int(seconds * SAMPLE_RATE))
    return (noise * amplitude / rms(noise)).astype(np.float32)


def test_mains_hum_has_no_speech():
    assert not check_speech(tone(2.0, SAMPLE_RATE, 50, 0.2)).has_speech


def test_steady_beep_has_no_speech():  # never rises above its own floor
    assert not check_speech(tone(3.0, SAMPLE_RATE, 1000, 0.3)).has_speech


def test_rumble_bursts_have_no_speech():  # loud frames, but their energy is below the voice band
    assert not check_speech(bursts(tone(3.0, SAMPLE_RATE, 90, 0.3))).has_speech


def test_hiss_bursts_in_the_voice_band_have_no_speech():  # voice band, loud frames, but flat like noise
    assert not check_speech(bursts(band_noise(3.0, 300, 3400, 0.1))).has_speech


def test_spoken_question_has_speech(spoken):
    check = require_speech(Recording(spoken, "wav"))
    assert check.has_speech and check.speech_ratio > 0.2
    assert check.duration == pytest.approx(len(spoken) / SAMPLE_RATE)
    assert check.describe().endswith("normal loudness, speech heard.")


def test_spoken_question_in_mild_noise_has_speech(spoken):
    noise_dbfs = 20 * np.log10(rms(spoken)) - 20  # 20 dB signal-to-noise
    noisy = spoken + white_noise(len(spoken) / SAMPLE_RATE, noise_dbfs, seed=1)
    assert check_speech(noisy).has_speech


def test_short_question_in_a_long_silent_recording_has_speech(spoken):
    silence = np.zeros(4 * SAMPLE_RATE, np.float32)
    padded = np.concatenate([silence, spoken, silence])
    check = check_speech(padded)
    assert check.has_speech and check.speech_ratio < 0.2


def test_spoken_question_survives_opus_in_webm(spoken):
    recording = decode_audio(encode(spoken, SAMPLE_RATE, "webm", "libopus", codec_rate=48000), **LIMITS)
    assert require_speech(recording).has_speech


def test_quiet_speech_is_still_heard_and_described_as_quiet(spoken):
    check = check_speech(spoken * 0.05)  # about 26 dB quieter
    assert check.has_speech
    assert "quiet" in check.describe()


def test_empty_samples_have_no_speech():
    assert check_speech(np.zeros(0, np.float32)) == SpeechCheck(0.0, -120.0, 0.0, False)


# --- Whisper's log-mel ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def whisper_audio():
    import whisper.audio  # imports torch: only this group of tests pays for it

    return whisper.audio


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filters_match_whispers(whisper_audio, n_mels):
    import os

    shipped = np.load(os.path.join(os.path.dirname(whisper_audio.__file__), "assets", "mel_filters.npz"))
    assert np.allclose(mel_filters(n_mels), shipped[f"mel_{n_mels}"], atol=1e-7)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_matches_whispers(whisper_audio, spoken, n_mels):
    import torch

    for samples in (spoken, white_noise(1.3, -20.0), spoken[:300]):
        expected = whisper_audio.log_mel_spectrogram(torch.from_numpy(samples.copy()), n_mels=n_mels).numpy()
        ours = log_mel(samples, n_mels=n_mels)
        assert ours.shape == expected.shape and ours.dtype == np.float32
        assert np.abs(ours - expected).max() < 1e-3


def test_log_mel_of_very_short_clips_has_no_frames():
    assert log_mel(np.zeros(100, np.float32)).shape == (80, 0)
    assert log_mel(np.zeros(0, np.float32)).shape == (80, 0)


# --- the spectrogram picture ---------------------------------------------------------------------


def _picture(samples: np.ndarray) -> Image.Image:
    data = spectrogram_png(samples)
    assert data.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(data))


def test_spectrogram_png_size_and_mode(spoken):
    picture = _picture(spoken)
    assert picture.size == (600, 160) and picture.mode == "RGB"
    assert len(set(picture.getdata())) > 50  # a picture, not a flat colour


@pytest.mark.parametrize("freq, rows", [(200.0, (130, 160)), (6000.0, (0, 30))])
def test_spectrogram_has_low_pitches_at_the_bottom(freq, rows):
    grey = np.asarray(_picture(tone(2.0, SAMPLE_RATE, freq)).convert("L"), dtype=float)
    brightest_row = int(np.argmax(grey.mean(axis=1)))  # row 0 is the top of the picture
    assert rows[0] <= brightest_row < rows[1]


def test_spectrogram_of_nothing_is_still_a_picture():
    assert _picture(np.zeros(0, np.float32)).size == (600, 160)


# --- arbitrary bytes -----------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = dict(max_seconds=5.0, min_seconds=0.1)


def _outcome(data: bytes) -> None:
    try:
        recording = decode_audio(data, **SMALL)
    except AudioError as error:
        assert error.message
        return
    samples = recording.samples
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert np.all(np.isfinite(samples)) and np.abs(samples).max() <= 1.0
    assert SMALL["min_seconds"] <= recording.duration <= SMALL["max_seconds"] + audio.LENGTH_TOLERANCE


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_a_recording_or_an_audio_error(data):
    _outcome(data)


MAGIC = [b"RIFF\x24\x00\x00\x00WAVEfmt ", b"OggS\x00\x02", b"\x1aE\xdf\xa3", b"fLaC", b"ID3\x03\x00",
         b"\x00\x00\x00\x18ftypM4A ", b"\xff\xfb\x90\x00", b"\xff\xf1\x50\x80", b"FORM\x00\x00\x00\x00AIFF"]


@FUZZ
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_known_magic_with_garbage_gives_a_recording_or_an_audio_error(magic, rest):
    _outcome(magic + rest)


def _seeds() -> list[bytes]:
    short = tone(0.5, 16000)
    return [
        wav(short, 16000),
        wav(short, 16000, "FLOAT"),
        encode(short, 16000, "webm", "libopus", codec_rate=48000),
        encode(short, 16000, "ogg", "vorbis", codec_rate=44100),
        encode(short, 16000, "mp3", "libmp3lame", codec_rate=44100),
        encode(short, 16000, "mp4", "aac", codec_rate=44100),
        encode(short, 16000, "flac", "flac"),
    ]


@functools.lru_cache(maxsize=1)
def seeds() -> list[bytes]:
    return _seeds()


@FUZZ
@given(st.integers(0, 6), st.data())
def test_damaged_recordings_give_a_recording_or_an_audio_error(which, data):
    seed = seeds()[which]
    cut = data.draw(st.integers(0, len(seed)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)), max_size=8))
    damaged = bytearray(seed)
    for index, value in flips:
        damaged[index] = value
    _outcome(bytes(damaged[:cut]))
