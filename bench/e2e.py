"""The sequential baseline against SeeSay's streaming pipeline, in one process, on the same inputs.

Timeline of one question, as the person lives it (t = 0 is the end of the spoken question):

* t = -3 s  the photo is there and the person starts recording the question;
* t = 0     the recording ends and is handed over.

**Baseline** (what a plain app does): at t = 0 decode the recording, transcribe it, generate the
whole answer with the photo encoded together with the question (no prefix cache), then synthesize
the whole answer. Its first audio is its whole audio.

**Streaming** (SeeSay), through SeeSay's own :class:`core.pipeline.Pipeline`, as the app runs it, on the
same engines wrapped in timing probes (handed to it through ``core.engines.Loaders``): at t = -3 s the
photo arrives and ``Pipeline.take_photo`` starts on a background thread (the model prepares the photo: the
vision tower and the prompt's prefix run while the person speaks; then the text reader reads it). At t = 0
the recording is handed over; the question is answered once the photo's work is done (the app runs a
photo's work to its end before the question that follows it), by ``Pipeline.ask`` with what the text
reader found (the words as a note for the model, the double-check); each sentence is spoken while the next
one is being written. First audio is the first ``AnswerAudio`` event.

Then a **follow-up** question about the same photo, in each mode, with the first question and its
answer as the conversation so far: the baseline encodes the photo again with the whole conversation;
SeeSay prefills only what follows the photo's kept prefix, and reuses the photo's reading. There is
no lead: the photo is already there. Each run's photo is new to SeeSay (the same pixels, bytes of its own:
``bench.inputs.new_photo``), so its prefix is computed and its text read afresh.

Both use the very same engine objects (one model in memory; the baseline's LLaVA engine is a second
``TransformersLlava`` over the same weights with its prefix cache turned off).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .inputs import ANSWER, FOLLOW_UP, QUESTION, RECORDING_SECONDS, load_benchmark_photo, new_photo, spoken
from . import machine
from .probes import (ModelTime, PeakMemory, ScriptedVLM, TimedOCR, TimedSTT, TimedTTS, TimedVLM, TokenClock,
                     high_water_bytes, now, rss_bytes)


MODES = ("baseline", "streaming")  # the first question about a new photo: the targets
FOLLOW_UP_MODES = ("baseline-follow-up", "streaming-follow-up")  # then a follow-up about the same photo


@dataclass
class Run:
    """One question answered in one mode; times in seconds from the end of the question."""

    mode: str
    transcript: float
    first_token: float  # first piece of answer text
    last_token: float  # the model has finished writing
    first_audio: float  # first sentence's speech ready (baseline: the whole answer's)
    total: float  # everything done: whole answer text and whole audio
    stt_seconds: float  # inside stt.transcribe
    question_seconds: float  # length of the recording
    tokens: int  # forward passes of the generation: one per token
    decode_tps: float  # tokens per second after the first
    model_seconds: float  # inside model calls on the critical path (union of the intervals)
    prepare_after_t0: float  # streaming: photo preparation still running after t = 0
    peak_rss: int  # resident memory peak during this run, bytes
    prepare_seconds: float = 0.0  # streaming: the photo's preparation (vision tower and prefix), whole
    ocr_seconds: float = 0.0  # streaming: the text reader on the photo (after the preparation)
    lead_after_t0: float = 0.0  # streaming: the photo's work (preparation, then reading) left at t = 0
    context_tokens: int = 0  # tokens the first answer token attended to (the whole prompt)

    @property
    def whisper_rtf(self) -> float:
        return self.stt_seconds / self.question_seconds

    @property
    def outside_share(self) -> float:
        return (self.total - self.model_seconds) / self.total


@dataclass
class Setup:
    pipeline: Any  # core.pipeline.Pipeline on the probed engines: SeeSay, as the app runs it
    baseline: Any  # core.engines.Engines of the plain app: the same objects, LLaVA without prefix cache
    times: ModelTime
    clock: TokenClock
    settings: Any  # core.config.Settings the engines were built from
    info: dict = field(default_factory=dict)
    photo: Any = None  # core.images.Photo of the last photo SeeSay took (the follow-up asks about it)
    last_answer: Any = None  # core.pipeline.Answer of the last streaming question (for the follow-up)


def load_setup(*, quick: bool, cache: Path, stt_engine: str, dtype: str | None) -> Setup:
    """Build (once, under ``cache``) and load the models; wrap the engines in timing probes.

    The machine is measured first (bandwidth, matrix products); then the process's peak memory is
    started afresh, so that it counts what SeeSay holds (loading included), not the benchmark's own
    model building and measuring.
    """
    import torch

    from core.config import Settings
    from core.engines import Engines, Loaders, Models, build_ocr, build_stt, build_vlm, build_voice
    from core.pipeline import Pipeline
    from core.testmodels.llava import build_cpu_default_shaped, build_tiny_llava
    from core.testmodels.whisper import build_tiny_en, tiny_en_ct2_dir

    if quick:
        folder = build_tiny_llava(cache / "tiny-llava")
        llava = "tiny test LLaVA-Interleave look-alike (random weights)"
    else:
        folder = build_cpu_default_shaped(cache / "llava-interleave-qwen-0.5b-shaped")
        llava = "llava-interleave-qwen-0.5b shape: SigLIP-384 (729 image tokens) + Qwen 0.5B (random weights)"
    if stt_engine == "faster-whisper":
        whisper_model = str(tiny_en_ct2_dir())
    else:
        whisper_model = str(build_tiny_en(cache / "whisper-tiny.en.pt"))
    info: dict[str, Any] = {"llava": llava, **machine.describe(), "bandwidth": machine.bandwidth()}
    gc.collect()
    info["peak_reset"] = machine.reset_peak()
    info["rss_start"] = rss_bytes()
    t = now()
    # The engines are built as SeeSay builds them (core.engines), from settings; loaded here, to be measured.
    settings = Settings(device="cpu", llava_model=str(folder), llava_quantization="none",
                        llava_dtype=dtype or "auto", whisper_model=whisper_model, stt_engine=stt_engine,
                        tts_engine="offline", private=True)
    vlm = build_vlm(settings)
    info["rss_after_vlm"] = rss_bytes()
    model = vlm.model  # for the token clock
    stt = build_stt(settings)
    tts = build_voice(settings, "offline", True)
    ocr = build_ocr(settings)
    info["load_seconds"] = now() - t
    info["rss_loaded"] = rss_bytes()
    info["peak_loading"] = machine.peak_bytes()
    info.update(_weights(model))
    info["stt"] = f"{stt_engine} tiny.en (real weights)"
    info["tts"] = "offline (Piper joe-us medium, espeak-ng fallback)"
    info["ocr"] = "rapidocr (PP-OCRv4, real weights)"
    info["torch_threads"] = torch.get_num_threads()

    times = ModelTime()
    clock = TokenClock(model)

    def timed(llava: Any) -> Any:
        return TimedVLM(ScriptedVLM(llava, clock, ANSWER), times, clock)

    probed = Loaders.given(vlm=timed(vlm), stt=TimedSTT(stt, times), voice=TimedTTS(tts, times),
                           ocr=TimedOCR(ocr, times))
    baseline = Engines(vlm=timed(_without_prefix_cache(vlm)), stt=TimedSTT(stt, times), voice=TimedTTS(tts, times))
    return Setup(pipeline=Pipeline(settings, Models(settings, probed)), baseline=baseline, times=times, clock=clock,
                 settings=settings, info=info)


def _weights(model: Any) -> dict[str, Any]:
    """The model's weights: dtype, how prefills are computed, parameters, bytes; the bytes decoding reads
    per token (every language-model weight but the embedding table, of which it reads one row) and the
    keys and values each token of the context adds."""
    params = dict(model.named_parameters())
    dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in params.values()})
    decode = sum(p.numel() * p.element_size() for name, p in params.items()
                 if not any(part in name for part in ("vision_tower", "multi_modal_projector", "embed_tokens")))
    text = model.config.text_config
    heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    element = next(p.element_size() for p in params.values() if p.is_floating_point())
    mixed = any(type(m).__name__ == "Float32Linear" for m in model.modules())
    return {"dtype": "/".join(dtypes), "prefill": "float32 products from bfloat16 weights" if mixed else dtypes[0],
            "parameters": sum(p.numel() for p in params.values()),
            "weight_bytes": sum(p.numel() * p.element_size() for p in params.values()),
            "decode_weight_bytes": decode,
            "kv_bytes_per_token": 2 * text.num_hidden_layers * heads * head_dim * element}


def _without_prefix_cache(vlm: Any) -> Any:
    """A second engine over the same weights that encodes the photo with every question."""
    from core.vlm.llava import TransformersLlava

    return TransformersLlava(vlm.model, vlm.processor, model_id=vlm.model_id,
                             options=dataclasses.replace(vlm.options, prefix_photos=0))


# --- one question ------------------------------------------------------------------------------


def run_baseline(s: Setup, photo: Any, recording: bytes, tokens: int, memory: PeakMemory,
                 history: tuple = (), mode: str = "baseline") -> Run:
    from core import audio

    engines, conf = s.baseline, s.settings
    s.times.clear()
    with memory.window() as seen:
        t0 = now()
        clip = audio.decode_audio(recording, max_seconds=conf.max_audio_seconds, min_seconds=conf.min_audio_seconds)
        audio.require_speech(clip)
        transcript = engines.stt.transcribe(clip.samples)
        t_transcript = now() - t0
        text, first_token = "", None
        for piece in engines.vlm.stream(photo, list(history), transcript.text, max_new_tokens=tokens,
                                        min_new_tokens=tokens):
            if piece and first_token is None:
                first_token = now() - t0
            text += piece
        engines.voice.synthesize(text.strip(), transcript.language)
        total = now() - t0
    return _run(mode, s, t0, t_transcript, first_token, total, total, clip.duration, seen["peak"])


def run_streaming(s: Setup, recording: bytes, tokens: int, memory: PeakMemory, lead: float,
                  history: tuple = (), mode: str = "streaming", photo: bytes | None = None) -> Run:
    """``photo``: a new photo's bytes, taken (``Pipeline.take_photo``) during the ``lead`` seconds before the
    question ends; None: a follow-up about the photo taken last (``s.photo``)."""
    from core.engines import Choices
    from core.pipeline import AnswerAudio, AnswerText, Done, PhotoTaken, Transcribed

    choices = Choices(private=True)
    s.times.clear()
    failure: list[BaseException] = []

    def take_photo() -> None:  # the photo's work, to its end (a flawed photo answered anyway, as asked)
        try:
            for event in s.pipeline.take_photo(photo, choices, anyway=True):
                if isinstance(event, PhotoTaken):
                    s.photo = event.photo
        except BaseException as exc:  # raised below, on the benchmark's thread
            failure.append(exc)

    marks: dict[str, float] = {}
    with memory.window() as seen:
        t_photo = now()
        worker = threading.Thread(target=take_photo, name="bench-take-photo", daemon=True)
        if photo is not None:
            worker.start()
            time.sleep(max(0.0, t_photo + lead - now()))  # the person is still recording the question
        t0 = now()
        if photo is not None:
            worker.join()  # the app answers the question once the photo's work is done
        if failure:
            raise failure[0]
        for event in s.pipeline.ask(s.photo, recording, history, choices, max_tokens=tokens, min_tokens=tokens):
            t = now() - t0
            if isinstance(event, Transcribed):
                marks["transcript"], duration = t, event.transcript.duration
            elif isinstance(event, AnswerText):
                marks.setdefault("first_token", t)
            elif isinstance(event, AnswerAudio):
                marks.setdefault("first_audio", t)
            elif isinstance(event, Done):
                marks["total"] = t
                s.last_answer = event.answer
    return _run(mode, s, t0, marks["transcript"], marks["first_token"], marks["first_audio"],
                marks["total"], duration, seen["peak"])


def _run(mode: str, s: Setup, t0: float, transcript: float, first_token: float | None, first_audio: float,
         total: float, question_seconds: float, peak: int) -> Run:
    end = t0 + total
    spans = {kind: [(b, e) for k, b, e in s.times.intervals if k == kind] for kind in ("prepare", "ocr")}
    lead_work = [e for kind in spans for _, e in spans[kind]]
    written = max(e for kind, _, e in s.times.intervals if kind == "vlm")
    return Run(
        mode=mode, transcript=transcript, first_token=first_token if first_token is not None else total,
        last_token=written - t0, first_audio=first_audio, total=total,
        stt_seconds=s.times.inside("stt", t0, end), question_seconds=question_seconds,
        tokens=s.clock.tokens, decode_tps=s.clock.decode_rate(),
        model_seconds=s.times.union(t0, end),
        prepare_after_t0=max([0.0] + [e - t0 for _, e in spans["prepare"]]), peak_rss=peak,
        prepare_seconds=sum(e - b for b, e in spans["prepare"]), ocr_seconds=sum(e - b for b, e in spans["ocr"]),
        lead_after_t0=max([0.0] + [e - t0 for e in lead_work]), context_tokens=s.clock.context,
    )


# --- the whole benchmark -----------------------------------------------------------------------


def benchmark(s: Setup, *, runs: int, warmup: int, lead: float, max_new_tokens: int,
              progress=print) -> dict[str, list[Run]]:
    """``warmup`` + ``runs`` questions in each mode, alternating; returns the measured runs."""
    from core.pipeline import Turn

    photo = load_benchmark_photo()
    recording = spoken(QUESTION, RECORDING_SECONDS)
    follow_up = spoken(FOLLOW_UP, RECORDING_SECONDS)
    tokens = max_new_tokens
    memory = PeakMemory()
    seesay_peaks: list[int] = []  # the streaming questions' peaks, warm-up included
    results: dict[str, list[Run]] = {mode: [] for mode in MODES + FOLLOW_UP_MODES}
    s.info["load_average_before"] = os.getloadavg()[0]
    s.info["load_averages_before"] = os.getloadavg()
    try:
        for i in range(warmup + runs):
            # A new key per run: the prefix cache must start empty, as it does for a new photo.
            fresh = dataclasses.replace(photo, key=f"{photo.key}:{i}")
            label = f"warm-up {i + 1}" if i < warmup else f"run {i - warmup + 1}/{runs}"
            for mode in MODES + FOLLOW_UP_MODES:
                gc.collect()
                if mode == "baseline":
                    run = run_baseline(s, fresh, recording, tokens, memory)
                elif mode == "streaming":
                    run = run_streaming(s, recording, tokens, memory, lead, photo=new_photo(i))
                else:  # the first question and its answer are the conversation so far
                    history = (Turn(s.last_answer.question, s.last_answer.text),)
                    if mode == "baseline-follow-up":
                        run = run_baseline(s, fresh, follow_up, tokens, memory, history, mode)
                    else:
                        run = run_streaming(s, follow_up, tokens, memory, 0.0, history, mode)
                if mode.startswith("streaming"):
                    seesay_peaks.append(run.peak_rss)
                progress(f"  {label} {mode:19s}: transcript {run.transcript:5.2f} s, first token "
                         f"{run.first_token:5.2f} s, first audio {run.first_audio:5.2f} s, total "
                         f"{run.total:5.2f} s, {run.tokens} tokens at {run.decode_tps:4.1f}/s")
                if i >= warmup:
                    results[mode].append(run)
    finally:
        memory.stop()
    s.info["load_average_after"] = os.getloadavg()[0]
    s.info["load_averages_after"] = os.getloadavg()
    s.info["vm_hwm"] = max(memory.all_time, high_water_bytes())  # the whole process, loading included
    # SeeSay's own: loading and the streaming questions (the baseline's plain app has peaks of its own)
    s.info["peak_seesay"] = max([s.info["peak_loading"], *seesay_peaks])
    s.info["photo_size"] = photo.image.size
    s.info["question_seconds"] = results["streaming"][0].question_seconds if runs else RECORDING_SECONDS
    return results


def seesay_alone(s: Setup, *, photos: int = 4, tokens: int = 60) -> dict:
    """SeeSay's whole process, alone (bench/memory.py), in a process of its own with the same kind of
    CPU: its peak memory from the first import, loading included, and each phase's peak."""
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "bench.memory", "--folder", s.settings.llava_model, "--whisper",
               s.settings.whisper_model, "--dtype", s.settings.llava_dtype, "--photos", str(photos),
               "--tokens", str(tokens)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"bench.memory failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"photos": photos}


def medians(runs: list[Run]) -> dict[str, float]:
    """Median of every measure over ``runs``."""
    keys = ["transcript", "first_token", "last_token", "first_audio", "total", "whisper_rtf", "decode_tps", "tokens",
            "model_seconds", "outside_share", "prepare_after_t0", "peak_rss", "prepare_seconds", "ocr_seconds",
            "lead_after_t0", "context_tokens"]
    return {key: statistics.median(getattr(run, key) for run in runs) for key in keys}
