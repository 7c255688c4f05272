"""What a spoken question costs each Whisper engine and size on this machine (``python -m bench stt``).

Whisper pads every clip to its 30-second window, so the encoder costs the same for a 3 s and an 8 s
question; only the decoder's work grows with the number of words. Two kinds of rows:

* **as SeeSay runs it**: ``core.stt`` engines on real Whisper tiny.en (beam 5, temperature fallback,
  int8 for faster-whisper on CPU), transcribing what was said;
* **forced N tokens**: the same engine settings with the end-of-text token suppressed so that exactly
  N tokens are decoded, N being what tiny.en wrote for that clip. This is the only fair way to time
  random-weight models (only tiny.en's weights are available offline), and it puts every size on
  the same footing: ``base`` and ``small`` are built from their published dimensions with random
  weights, for openai-whisper as a checkpoint and for faster-whisper converted with CTranslate2's
  own converter (int8).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .inputs import LONG_QUESTION, QUESTION, samples_of, spoken
from .probes import cores, cpu_name, now


CLIPS = (("3 s", QUESTION, 3.0), ("8 s", LONG_QUESTION, 8.0))
BEAM = 5  # as core.stt.DecodeOptions

# English-only Whisper sizes (openai-whisper's ModelDimensions; tiny.en for reference)
SHAPES = {
    "tiny.en": dict(n_audio_state=384, n_audio_head=6, n_audio_layer=4),
    "base.en": dict(n_audio_state=512, n_audio_head=8, n_audio_layer=6),
    "small.en": dict(n_audio_state=768, n_audio_head=12, n_audio_layer=12),
}
N_VOCAB_EN = 51864
EOT = 50256  # end of text in the English-only vocabulary


@dataclass
class Row:
    engine: str
    model: str
    how: str
    clip: str
    clip_seconds: float
    tokens: int | str
    seconds: float  # median

    @property
    def rtf(self) -> float:
        return self.seconds / self.clip_seconds


def run(*, cache: Path, runs: int, command: str, progress: Callable[[str], None] = print,
        sizes: tuple[str, ...] = ("tiny.en", "base.en", "small.en")) -> str:
    from core.stt import load_stt
    from core.testmodels.whisper import build_tiny_en, tiny_en_ct2_dir

    load_before = os.getloadavg()[0]
    clips = {label: samples_of(spoken(text, seconds)) for label, text, seconds in CLIPS}
    tiny_pt = str(build_tiny_en(cache / "whisper-tiny.en.pt"))
    tiny_ct2 = str(tiny_en_ct2_dir())
    rows: list[Row] = []
    forced: dict[str, int] = {}

    # 1. as SeeSay runs it, real tiny.en
    for engine, model in (("openai-whisper", tiny_pt), ("faster-whisper", tiny_ct2)):
        stt = load_stt(engine, model, "cpu")
        for label, samples in clips.items():
            text = stt.transcribe(samples).text  # warm-up, and the transcript that sets N
            forced.setdefault(label, _count_tokens(text))
            seconds = _median(lambda: stt.transcribe(samples), runs)
            rows.append(Row(engine, "tiny.en", "as SeeSay runs it", label, len(samples) / 16000,
                            f"({forced[label]})", seconds))
            progress(f"  {engine} tiny.en {label}: {seconds:.2f} s  heard: {text!r}")

    # 2. forced N tokens, every size
    for size in sizes:
        pt = tiny_pt if size == "tiny.en" else str(_random_openai(cache / "whisper-shapes", size))
        ct2 = tiny_ct2 if size == "tiny.en" else str(_random_ct2(cache / "whisper-shapes", size, tiny_ct2))
        weights = "real" if size == "tiny.en" else "random"
        for engine, decode in (("openai-whisper", _openai_forced(pt)), ("faster-whisper", _faster_forced(ct2))):
            for label, samples in clips.items():
                n = forced[label]
                decode(samples, n)  # warm-up
                seconds = _median(lambda: decode(samples, n), runs)
                rows.append(Row(engine, f"{size} ({weights})", "forced N tokens", label,
                                len(samples) / 16000, n, seconds))
                progress(f"  {engine} {size} forced {n} tokens, {label}: {seconds:.2f} s")
    return _markdown(rows, runs, command, (load_before, os.getloadavg()[0]))


def _median(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = now()
        work()
        times.append(now() - start)
    return statistics.median(times)


def _count_tokens(text: str) -> int:
    from whisper.tokenizer import get_tokenizer

    return max(1, len(get_tokenizer(multilingual=False).encode(" " + text.strip())))


# --- forced decoding ---------------------------------------------------------------------------


def _openai_forced(path: str) -> Callable[[np.ndarray, int], None]:
    import whisper

    model = whisper.load_model(path, device="cpu")

    def decode(samples: np.ndarray, n: int) -> None:
        model.transcribe(samples, language="en", fp16=False, temperature=0.0, beam_size=BEAM,
                         suppress_tokens=[-1, EOT], sample_len=n, without_timestamps=True,
                         condition_on_previous_text=False, verbose=None)

    return decode


def _faster_forced(path: str) -> Callable[[np.ndarray, int], None]:
    from faster_whisper import WhisperModel

    model = WhisperModel(path, device="cpu", compute_type="int8")  # as core.stt on CPU

    def decode(samples: np.ndarray, n: int) -> None:
        segments, _ = model.transcribe(samples, language="en", beam_size=BEAM, temperature=[0.0],
                                       suppress_tokens=[-1, EOT], max_new_tokens=n, without_timestamps=True,
                                       condition_on_previous_text=False, vad_filter=False)
        list(segments)

    return decode


# --- random-weight models of the bigger sizes --------------------------------------------------


def _dims(size: str):
    from whisper.model import ModelDimensions

    shape = SHAPES[size]
    return ModelDimensions(n_mels=80, n_audio_ctx=1500, n_vocab=N_VOCAB_EN, n_text_ctx=448,
                           n_text_state=shape["n_audio_state"], n_text_head=shape["n_audio_head"],
                           n_text_layer=shape["n_audio_layer"], **shape)


def _random_openai(folder: Path, size: str) -> Path:
    """An openai-whisper checkpoint of ``size``'s dimensions with random weights (built once)."""
    import dataclasses

    import torch
    from whisper.model import Whisper

    path = folder / f"{size}-random.pt"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    dims = _dims(size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Whisper(dims)
        torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)  # made with torch.empty
    partial = path.with_suffix(".part")
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": model.half().state_dict()}, partial)
    partial.replace(path)
    return path


def _random_ct2(folder: Path, size: str, tiny_ct2: str) -> Path:
    """A CTranslate2 (int8) folder of ``size``'s dimensions with random weights (built once).

    Built as a transformers Whisper and converted with CTranslate2's converter; the vocabulary,
    tokenizer and special token ids are tiny.en's (all English-only sizes share them).
    """
    import tempfile

    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    out = folder / f"{size}-random-ct2"
    if (out / "model.bin").is_file():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    shape = SHAPES[size]
    config = WhisperConfig(
        vocab_size=N_VOCAB_EN, num_mel_bins=80, d_model=shape["n_audio_state"],
        encoder_layers=shape["n_audio_layer"], decoder_layers=shape["n_audio_layer"],
        encoder_attention_heads=shape["n_audio_head"], decoder_attention_heads=shape["n_audio_head"],
        encoder_ffn_dim=4 * shape["n_audio_state"], decoder_ffn_dim=4 * shape["n_audio_state"],
        max_source_positions=1500, max_target_positions=448, decoder_start_token_id=50257,
        eos_token_id=EOT, bos_token_id=EOT, pad_token_id=EOT)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            WhisperForConditionalGeneration(config).save_pretrained(f"{tmp}/hf")
        TransformersConverter(f"{tmp}/hf").convert(f"{tmp}/ct2", quantization="int8")
        ct2 = Path(tmp) / "ct2"
        (ct2 / "vocabulary.json").unlink(missing_ok=True)  # placeholder words: tiny.en's are the real ones
        for name in ("vocabulary.txt", "tokenizer.json"):
            shutil.copy(Path(tiny_ct2) / name, ct2 / name)
        settings = json.loads((Path(tiny_ct2) / "config.json").read_text(encoding="utf-8"))
        settings["alignment_heads"] = json.loads((ct2 / "config.json").read_text(encoding="utf-8"))["alignment_heads"]
        (ct2 / "config.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
        ct2.replace(out)
    return out


# --- report ------------------------------------------------------------------------------------


def _markdown(rows: list[Row], runs: int, command: str, load: tuple[float, float]) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {cpu_name()}, {cores()} cores; load average (1 min) {load[0]:.1f} before, {load[1]:.1f} "
        f"after (other processes slow every figure down). Median of {runs} runs after a warm-up. Beam {BEAM}. "
        "Clips: Piper's voice, padded with room noise to 3 s and 8 s, 16 kHz.",
        "",
        "| engine | model | how | clip | tokens | seconds | real-time factor |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r.engine} | {r.model} | {r.how} | {r.clip} | {r.tokens} | {r.seconds:.2f} | {r.rtf:.2f} |")
    lines += [
        "",
        "Real-time factor = seconds to transcribe / seconds of audio. Whisper pads every clip to 30 s, so",
        "the encoder's cost is the same for both clips; the difference between 3 s and 8 s is the",
        "decoder's extra tokens. \"forced N tokens\": end-of-text suppressed so that exactly N tokens are",
        "decoded (N = what tiny.en wrote for the clip); random weights for base.en and small.en (their",
        "real shapes), which costs what the real models cost for an answer of that length. The",
        "\"as SeeSay runs it\" rows include the temperature fallback whenever a decode looks wrong.",
    ]
    return "\n".join(lines)
