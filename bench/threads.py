"""``python -m bench threads``: the thread pools of torch, the voice, Whisper and the text reader, measured.

Each engine starts a thread pool of its own (torch for the model, onnxruntime for the Piper voice and
the text reader, CTranslate2 for faster-whisper); on a 2-core machine they compete. The voice is the
one that runs at the same time as the model (each sentence is spoken while the model writes the
next), so it is measured against the model's decoding; Whisper and the text reader run alone (the
photo's work is done before the question's), so they are measured by their own time, and by the
model's speed right after them (a pool that keeps spinning would slow it down). SeeSay's choices
(``PiperOptions``, ``DecodeOptions.threads``, ``core.ocr.Options.threads``, ``VlmOptions.threads``)
are the fastest of these.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench threads", description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", choices=("native", "avx2"), default="native")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench-models")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--name", default="")
    args = parser.parse_args(argv)
    if args.cpu == "avx2":
        from .machine import emulate_avx2

        emulate_avx2()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    command = "python -m bench threads " + " ".join(argv or [])
    text = run(args.cache, command.strip())
    name = args.name or ("threads" + ("-avx2" if args.cpu == "avx2" else ""))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"Wrote {args.out / name}.md")
    return 0


def run(cache: Path, command: str) -> str:
    import torch

    from core.config import Settings
    from core.engines import build_vlm
    from core.ocr import Options as OcrOptions
    from core.ocr import load_ocr
    from core.stt import DecodeOptions, load_stt
    from core.testmodels.llava import build_cpu_default_shaped
    from core.testmodels.whisper import tiny_en_ct2_dir
    from core.tts.offline import PiperOptions, PiperVoiceEngine, find_piper_voice

    from .inputs import ANSWER, QUESTION, load_benchmark_photo, samples_of, spoken
    from .machine import describe

    folder = build_cpu_default_shaped(cache / "llava-interleave-qwen-0.5b-shaped")
    kind = describe()["cpu_kind"]
    loads = [os.getloadavg()]
    vlm = build_vlm(Settings(device="cpu", llava_model=str(folder), llava_quantization="none"))
    photo = dataclasses.replace(load_benchmark_photo(), key="threads")
    vlm.prepare(photo)
    stamps: list[float] = []
    vlm.model.register_forward_hook(lambda *a: stamps.append(time.perf_counter()))

    def decode(tokens: int = 40) -> float:
        stamps.clear()
        for _ in vlm.stream(photo, [], QUESTION, max_new_tokens=tokens, min_new_tokens=tokens):
            pass
        return (len(stamps) - 1) / (stamps[-1] - stamps[0])

    lines = [f"# Thread pools on CPU ({kind})", "", f"Command: `{command}`.", "",
             "| engine | setting | alone (s) | the model's decoding at the same time or right after (tokens/s) |",
             "| --- | --- | ---: | ---: |"]
    default_threads = torch.get_num_threads()
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        rates = [decode() for _ in range(2)]
        lines.append(f"| torch (the model) | {threads} thread{'s' if threads > 1 else ''}"
                     f"{' (default)' if threads == default_threads else ''} | | {max(rates):.1f} |")
    torch.set_num_threads(default_threads)
    sentences = [s.strip() + "." for s in ANSWER.split(".") if s.strip()]
    voice = find_piper_voice("")
    for label, options in (("1 thread, no spinning, no arena (SeeSay)", PiperOptions()),
                           ("one per core, no spinning, no arena", PiperOptions(threads=0)),
                           ("one per core, spinning, arena (onnxruntime's defaults)",
                            PiperOptions(threads=0, memory_arena=True, spinning=True))):
        engine = PiperVoiceEngine(voice, options)
        t = time.perf_counter()
        for sentence in sentences:
            engine.synthesize(sentence)
        alone = (time.perf_counter() - t) / len(sentences)
        stop, spoken_in = threading.Event(), []

        def speak() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                engine.synthesize(sentences[len(spoken_in) % len(sentences)])
                spoken_in.append(time.perf_counter() - t0)
                time.sleep(0.3)  # sentences come as the model writes them

        speaker = threading.Thread(target=speak, daemon=True)
        speaker.start()
        rate = decode()
        stop.set()
        speaker.join()
        lines.append(f"| Piper voice, a sentence | {label} | {alone:.3f} (while decoding "
                     f"{statistics.mean(spoken_in):.3f}) | {rate:.1f} |")
    question = samples_of(spoken(QUESTION, 3.0))
    for threads in (0, 1, 2):
        stt = load_stt("faster-whisper", str(tiny_en_ct2_dir()), "cpu", options=DecodeOptions(threads=threads))
        stt.transcribe(question)
        t = time.perf_counter()
        stt.transcribe(question)
        alone = time.perf_counter() - t
        lines.append(f"| faster-whisper tiny.en, a 3 s question | cpu_threads {threads}"
                     f"{' (default)' if threads == DecodeOptions().threads else ''} | {alone:.2f} | {decode(20):.1f} |")
    for threads in (0, 1, 2):
        reader = load_ocr("rapidocr", OcrOptions(threads=threads))
        reader.read(photo.image)
        t = time.perf_counter()
        reader.read(photo.image)
        alone = time.perf_counter() - t
        lines.append(f"| text reader, the benchmark's photo | {threads or 'one per core'} threads"
                     f"{' (default)' if threads == OcrOptions().threads else ''} | {alone:.2f} | {decode(20):.1f} |")
    loads.append(os.getloadavg())
    lines += ["", f"Load average (1, 5, 15 min) before {' '.join(f'{v:.2f}' for v in loads[0])}, after "
              f"{' '.join(f'{v:.2f}' for v in loads[1])}. Timings from one run each: other processes on the "
              "machine move them by 5-10%.", ""]
    return "\n".join(lines)
