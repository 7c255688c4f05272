"""``python -m bench.memory``: SeeSay's whole process, from its first import to its last answer, for memory.

The pipeline benchmark runs the baseline and SeeSay in one process, so its memory mixes the two. This
runs SeeSay alone, as the app does: it imports and loads every engine the CPU default uses (the model,
Whisper, the voice, the text reader), then for each of ``photos`` new photos takes the photo (prepares
it, reads its text), answers a spoken question and a spoken follow-up with the voice, and prints its
figures as JSON: the process's peak resident memory (VmHWM: everything since the process started,
imports and loading included), what it held after loading and after each photo, and the peak of each
phase of a photo's work (the kernel's record of the peak restarted for each). ``bench/e2e.py`` runs
it in a process of its own after the timed runs, with the same kind of CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="the LLaVA model folder (already built)")
    parser.add_argument("--whisper", required=True, help="the Whisper model (CTranslate2 folder)")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--photos", type=int, default=4, help="new photos, each with a question and a follow-up")
    parser.add_argument("--tokens", type=int, default=60)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print(json.dumps(run(args.folder, args.whisper, dtype=args.dtype, photos=args.photos, tokens=args.tokens)))
    return 0


def run(folder: Path, whisper: str, *, dtype: str, photos: int, tokens: int) -> dict:
    from core.config import Settings
    from core.engines import Engines, ask_options, load_ocr, load_stt, load_vlm, load_voice
    from core.errors import SeeSayError
    from core.pipeline import Done, Turn, ask, prepare, with_reading

    from .inputs import ANSWER, FOLLOW_UP, QUESTION, RECORDING_SECONDS, load_benchmark_photo, spoken
    from .machine import reset_peak
    from .probes import ScriptedVLM, TokenClock, _status_kib, high_water_bytes, rss_bytes

    settings = Settings(device="cpu", llava_model=str(folder), llava_quantization="none", llava_dtype=dtype,
                        whisper_model=whisper, stt_engine="faster-whisper", tts_engine="offline", private=True)
    vlm = load_vlm(settings)
    # random weights write filler with no sentence ends: the voice gets the benchmark's realistic answer
    # instead, in step with the tokens (as in the timed runs), so it speaks sentences as they end
    scripted = ScriptedVLM(vlm, TokenClock(vlm.model), ANSWER)
    engines = Engines(vlm=scripted, stt=load_stt(settings), tts=load_voice(settings, "offline", True))
    ocr = load_ocr(settings)
    out = {"loaded": rss_bytes(), "peak_loading": high_water_bytes(), "after_photo": [],
           "phases": {"prepare": 0, "read text": 0, "question": 0, "follow-up": 0}}

    def phase(name: str) -> None:  # the peak of the phase just ended; the kernel's record restarts
        out["phases"][name] = max(out["phases"][name], high_water_bytes())
        reset_peak()

    photo = load_benchmark_photo()
    options = ask_options(settings, max_tokens=tokens, min_tokens=tokens)
    questions = (spoken(QUESTION, RECORDING_SECONDS), spoken(FOLLOW_UP, RECORDING_SECONDS))
    reset_peak()  # the benchmark's own inputs (the photo drawn, the questions spoken) are not SeeSay's
    for i in range(photos):
        fresh = dataclasses.replace(photo, key=f"{photo.key}:{i}")  # a new photo each time
        for _ in prepare(engines, fresh):
            pass
        phase("prepare")
        try:
            reading = ocr.read(fresh.image)
        except SeeSayError as error:
            reading = error
        phase("read text")
        history: tuple = ()
        for name, recording in zip(("question", "follow-up"), questions):
            answer = next(e.answer for e in ask(engines, fresh, recording, history, options, **with_reading(reading))
                          if isinstance(e, Done))
            history = (Turn(answer.question, answer.text),)
            phase(name)
        out["after_photo"].append(rss_bytes())
        out.setdefault("after_photo_anonymous", []).append(_status_kib("RssAnon") * 1024)
    out["peak"] = max(out["peak_loading"], *out["phases"].values())
    return out


if __name__ == "__main__":
    sys.exit(main())
