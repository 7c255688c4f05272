"""``python -m bench.memory``: SeeSay's whole process, from its first import to its last answer, for memory.

The pipeline benchmark runs the baseline and SeeSay in one process, so its memory mixes the two. This
runs SeeSay alone, through its own :class:`core.pipeline.Pipeline`, as the app does: the pipeline loads
every engine the CPU default uses (the model, Whisper, the voice, the text reader), then for each of
``photos`` new photos takes the photo (prepares it, reads its text), answers a spoken question and a
spoken follow-up with the voice, and prints its figures as JSON: the process's peak resident memory (VmHWM: everything since the process started,
imports and loading included), what it held after loading and after each photo, and the peak of each
phase of a photo's work (the kernel's record of the peak restarted for each). ``bench/e2e.py`` runs
it in a process of its own after the timed runs, with the same kind of CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="the LLaVA model folder (already built)")
    parser.add_argument("--whisper", required=True, help="the Whisper model (CTranslate2 folder)")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--photos", type=int, default=4, help="new photos, each with a question and a follow-up")
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--halves", choices=("on", "off"), default="on",
                        help="the model's halves taking turns while a photo is read (core.vlm.halves); default on")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print(json.dumps(run(args.folder, args.whisper, dtype=args.dtype, photos=args.photos, tokens=args.tokens,
                         halves=args.halves == "on")))
    return 0


def run(folder: Path, whisper: str, *, dtype: str, photos: int, tokens: int, halves: bool = True) -> dict:
    from core.config import Settings
    from core.engines import Choices, Loaders, Models, build_vlm
    from core.pipeline import Done, PhotoTaken, Pipeline, Turn

    from .inputs import ANSWER, FOLLOW_UP, QUESTION, RECORDING_SECONDS, new_photo, spoken
    from .machine import reset_peak
    from .probes import ScriptedVLM, TokenClock, _status_kib, high_water_bytes, rss_bytes

    settings = Settings(device="cpu", llava_model=str(folder), llava_quantization="none", llava_dtype=dtype,
                        whisper_model=whisper, stt_engine="faster-whisper", tts_engine="offline", private=True)
    out = {"after_photo": [], "phases": {"prepare": 0, "read text": 0, "question": 0, "follow-up": 0},
           "halves": halves, "prepare_seconds": []}
    began = [0.0]

    def phase(name: str) -> None:  # the peak of the phase just ended; the kernel's record restarts
        out["phases"][name] = max(out["phases"][name], high_water_bytes())
        reset_peak()
        if name == "prepare":  # the photo read (and checked) and the model's prefix computed
            out["prepare_seconds"].append(round(time.perf_counter() - began[0], 3))

    def scripted(conf: Settings) -> ScriptedVLM:
        # random weights write filler with no sentence ends: the voice gets the benchmark's realistic answer
        # instead, in step with the tokens (as in the timed runs), so it speaks sentences as they end
        vlm = build_vlm(conf)
        if not halves and vlm.halves is not None:
            vlm.halves.detach()  # both halves stay resident, as before core.vlm.halves
        return ScriptedVLM(vlm, TokenClock(vlm.model), ANSWER)

    def read_text(conf: Settings) -> PhasedReader:  # the photo's prepared by the time its text is read
        from core.engines import build_ocr

        return PhasedReader(build_ocr(conf), lambda: phase("prepare"))

    pipeline = Pipeline(settings, Models(settings, Loaders(vlm=scripted, ocr=read_text)))
    choices = Choices(private=True)
    for _ in pipeline.models.load(choices, spoken=True):  # every engine, as the app's first photo loads them
        pass
    out.update(loaded=rss_bytes(), peak_loading=high_water_bytes())
    questions = (spoken(QUESTION, RECORDING_SECONDS), spoken(FOLLOW_UP, RECORDING_SECONDS))
    new_photos = [new_photo(i) for i in range(photos)]
    reset_peak()  # the benchmark's own inputs (the photo drawn, the questions spoken) are not SeeSay's
    for data in new_photos:
        began[0] = time.perf_counter()
        photo = next(e.photo for e in list(pipeline.take_photo(data, choices, anyway=True))
                     if isinstance(e, PhotoTaken))
        phase("read text")
        history: tuple = ()
        for name, recording in zip(("question", "follow-up"), questions):
            answer = next(e.answer for e in pipeline.ask(photo, recording, history, choices, max_tokens=tokens,
                                                         min_tokens=tokens) if isinstance(e, Done))
            history = (Turn(answer.question, answer.text),)
            phase(name)
        out["after_photo"].append(rss_bytes())
        out.setdefault("after_photo_anonymous", []).append(_status_kib("RssAnon") * 1024)
    out["peak"] = max(out["peak_loading"], *out["phases"].values())
    return out


class PhasedReader:
    """The text reader, marking the end of the phase before it (the photo's preparation) as it starts."""

    def __init__(self, inner, before) -> None:
        self.inner, self.before, self.name = inner, before, inner.name

    def read(self, image):
        self.before()
        return self.inner.read(image)


if __name__ == "__main__":
    sys.exit(main())
