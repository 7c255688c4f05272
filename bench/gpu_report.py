"""The GPU benchmark's verdicts and report (bench/gpu_e2e.py): each target REACHED, MISSED or NOT MEASURED,
with what limits it in one sentence from the figures, and the markdown and json written as it goes."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

GB = 1e9  # memory in GB (10^9 bytes), as bench/report.py counts it

#: (key, what, limit, at most?, unit): the issue's GPU targets
TARGETS = [
    ("first_audio", "time to first audio after the end of the question", 0.7, True, "s"),
    ("bandwidth_share", "decode speed as a share of the memory-bandwidth limit", 0.30, False, "%"),
    ("gpu_memory", "GPU memory of LLaVA and Whisper", 8 * GB, True, "GB"),
]
VERDICTS = ("REACHED", "MISSED", "NOT MEASURED")


def verdict(value: float | None, limit: float, at_most: bool) -> str:
    """REACHED, MISSED, or NOT MEASURED when there is no figure."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NOT MEASURED"
    return "REACHED" if (value <= limit if at_most else value >= limit) else "MISSED"


def _show(value: float, unit: str) -> str:
    return {"s": f"{value:.2f} s", "%": f"{value:.0%}", "GB": f"{value / GB:.2f} GB"}[unit]


def targets(fig: dict) -> list[str]:
    """One line per target: verdict, figure against the target, and what limits it, from the figures."""
    values, why = {}, {}
    med = fig.get("medians") or {}
    if med.get("first_audio") is not None:
        values["first_audio"] = med["first_audio"]
        parts = [("speech recognition", med["transcript"]),
                 ("the model writing the first sentence", med["voice_start"] - med["transcript"]),
                 ("the voice speaking it", med["first_audio"] - med["voice_start"])]
        largest = max(parts, key=lambda part: part[1])[0]
        late = (f"; the photo's work ran {med['lead_after_t0']:.2f} s past the end of the question"
                if med.get("lead_after_t0", 0) > 0.005 else "")
        why["first_audio"] = (f"Of its {med['first_audio']:.2f} s, {parts[0][0]} took {parts[0][1]:.2f} s, "
                              f"{parts[1][0]} {parts[1][1]:.2f} s more (a prompt of {med['context_tokens']:.0f} "
                              f"tokens, then decoding at {med['decode_tps']:.0f} tokens/s) and {parts[2][0]} "
                              f"{parts[2][1]:.2f} s: {largest} is the largest part{late}.")
    else:
        why["first_audio"] = "No question was answered with speech."
    decode = fig.get("decode") or {}
    peak = decode.get("peak_bandwidth") or float("nan")
    if med.get("decode_tps") and decode.get("bytes_per_token") and not math.isnan(peak):
        tps, per_token = med["decode_tps"], decode["bytes_per_token"]
        values["bandwidth_share"] = per_token * tps / peak
        floor = per_token / peak * 1000
        alone = f"; {decode['alone_tps']:.1f} tokens/s alone" if decode.get("alone_tps") else ""
        why["bandwidth_share"] = (f"Decoding ran at {tps:.1f} tokens/s in the pipeline ({1000 / tps:.2f} ms a "
                                  f"token{alone}), where reading the {per_token / GB:.2f} GB a token needs takes "
                                  f"{floor:.2f} ms at {peak / 1e12:.2f} TB/s: the other "
                                  f"{max(0.0, 1000 / tps - floor):.2f} ms of each token go to dequantizing, "
                                  "kernel launches and the work between tokens.")
    else:
        why["bandwidth_share"] = ("No peak memory bandwidth is known for this device (give --bandwidth TB/s)."
                                  if med.get("decode_tps") else "Nothing was decoded.")
    memory = fig.get("memory") or {}
    answered = memory.get("answered")
    if answered:
        values["gpu_memory"] = max(answered["peak_allocated"], answered["reserved"])
        loaded = memory.get("loaded", answered)
        why["gpu_memory"] = (f"LLaVA holds {memory.get('llava', 0) / GB:.2f} GB and Whisper "
                             f"{memory.get('whisper', 0) / GB:.2f} GB once loaded ({loaded['allocated'] / GB:.2f} "
                             f"GB allocated, {loaded['reserved'] / GB:.2f} GB reserved); answering peaked at "
                             f"{answered['peak_allocated'] / GB:.2f} GB allocated with "
                             f"{answered['reserved'] / GB:.2f} GB reserved, the static KV cache taking "
                             f"{memory.get('static_cache', 0) / GB:.2f} GB of it.")
    else:
        why["gpu_memory"] = ("No CUDA device: GPU memory is not measured in the miniature." if fig.get("miniature")
                             else "The run ended before a question was answered.")
    lines = []
    for key, what, limit, at_most, unit in TARGETS:
        value = values.get(key)
        said = verdict(value, limit, at_most)
        figure = "" if said == "NOT MEASURED" else f"{_show(value, unit)} "
        lines.append(f"{said} {what}: {figure}(target {'at most' if at_most else 'at least'} "
                     f"{_show(limit, unit)}). {why[key]}")
    return lines


# --- the report ----------------------------------------------------------------------------------


class Report:
    """The figures so far, written as markdown and json after every stage and run."""

    def __init__(self, out: Path, name: str, fig: dict) -> None:
        self.md, self.json, self.fig = out / f"{name}.md", out / f"{name}.json", fig
        out.mkdir(parents=True, exist_ok=True)

    def stage(self, name: str, seconds: float) -> None:
        self.fig["stages"][name] = seconds
        print(f"  {name}: {seconds:.1f} s", flush=True)
        self.save()

    def save(self) -> None:
        fig = self.fig
        fig["targets"] = targets(fig)
        self.json.write_text(json.dumps(fig, indent=1, default=str) + "\n", encoding="utf-8")
        self.md.write_text(markdown(fig), encoding="utf-8")


def markdown(fig: dict) -> str:
    v = fig["versions"]
    peak, source = (fig.get("decode") or {}).get("peak_bandwidth", float("nan")), fig["decode"].get("peak_source")
    title = ("MINIATURE DRY RUN of SeeSay's GPU path, on the CPU" if fig["miniature"] else
             f"SeeSay's whole GPU path on {fig['device']}")
    lines = [f"# {title}", ""]
    if fig["miniature"]:
        lines += ["**Miniature dry run:** tiny shapes on the CPU, no NF4, no compilation. It checks that the "
                  "script works; its figures mean nothing for the targets.", ""]
    lines += [f"Command: `{fig['command']}`", "",
              f"Device: {fig['device']}" + (f"; peak memory bandwidth {peak / 1e12:.2f} TB/s ({source})"
                                             if peak == peak else "") + ". "
              + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
              f"Status: {fig['status']}.", "",
              "Models: " + "; ".join(fig["models"]) + ".", "",
              "## Targets", ""]
    lines += [f"- **{line.split(':', 1)[0]}**:{line.split(':', 1)[1]}" for line in fig["targets"]]
    lines += [""] + [f"Note: {note}" for note in fig["notes"]] + ([""] if fig["notes"] else [])
    runs, med = fig["runs"], fig.get("medians")
    if med:
        lines += [f"## One question, times from the end of the question (medians of {len(runs)} runs after "
                  f"{fig['warmup']} warm-up)", "", "| measure | median | runs |", "| --- | ---: | --- |"]
        for key, label, form in MEASURES:
            lines.append(f"| {label} | {form.format(med[key])} | "
                         + ", ".join(form.format(run[key]) for run in runs) + " |")
        lines += ["", "Engines, as the last answer names them: "
                  + ", ".join(f"{k} {name}" for k, name in runs[-1].get("engines", {}).items()) + ".", ""]
    decode = fig.get("decode") or {}
    if decode.get("alone_tps"):
        lines += [f"Decoding alone (the engine answering with {decode.get('alone_tokens', '?')} forced tokens, no voice "
                  f"speaking): {decode['alone_tps']:.1f} tokens/s; bytes read per token "
                  f"{decode['bytes_per_token'] / GB:.3f} GB (weights as stored + KV cache at the mean context).", ""]
    lines += ["## Loading", "", "| stage | seconds |", "| --- | ---: |"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in fig["stages"].items()]
    memory = {k: val for k, val in (fig.get("memory") or {}).items() if isinstance(val, dict)}
    if memory:
        lines += ["", "## GPU memory (GB)", "", "| after | allocated | peak allocated | reserved |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {WHEN.get(when, when)} | {m['allocated'] / GB:.2f} | {m['peak_allocated'] / GB:.2f} | {m['reserved'] / GB:.2f} |"
                  for when, m in memory.items()]
    lines += ["", "## How it was measured", "", HOW.format(lead=fig.get("lead", 3.0), tokens=fig["tokens"]), ""]
    return "\n".join(lines)


WHEN = {"loaded": "loading (the compiled warm-up included)", "answered": "answering"}
MEASURES = [
    ("transcript", "Transcript ready (s)", "{:.3f}"),
    ("first_token", "First answer text (s)", "{:.3f}"),
    ("voice_start", "First sentence handed to the voice (s)", "{:.3f}"),
    ("first_audio", "First audio, AnswerAudio event (s)", "{:.3f}"),
    ("last_token", "Answer text complete (s)", "{:.3f}"),
    ("total", "Everything done, whole answer spoken (s)", "{:.3f}"),
    ("stt_seconds", "Inside speech recognition (s)", "{:.3f}"),
    ("tokens", "Answer tokens generated", "{:.0f}"),
    ("context_tokens", "Prompt tokens", "{:.0f}"),
    ("decode_tps", "Decode speed in the pipeline (tokens/s)", "{:.1f}"),
    ("lead_after_t0", "Photo's work left at the end of the question (s)", "{:.3f}"),
]

HOW = ("Each run: the photo arrives {lead:.1f} s before the question ends and its work starts at once (preparation, "
       "then the text reader: Pipeline.take_photo); at the end of the question the recording is handed to "
       "SeeSay's Pipeline.ask, which transcribes it, has LLaVA write the answer and speaks each sentence while the next is written. "
       "Times are taken when the pipeline's events reach the caller. Random weights write noise: the answer's "
       "words are bench/inputs.py's ANSWER released in step with the tokens the model really generates "
       "(bench.probes.ScriptedVLM), and Whisper's logits are set after each real pass to spell the question "
       "(bench.gpu_build.scripted_whisper), so both models do the work of a real 3 s question and a "
       "{tokens}-token answer. Tokens are stamped as generate() hands them to the streamer. The LLaVA model is built in fp16 "
       "and quantized in place, where SeeSay's loader quantizes while it loads: GPU memory's peak is started "
       "afresh after quantizing.")


def medians(runs: list[dict]) -> dict | None:
    if not runs:
        return None
    return {key: statistics.median(run[key] for run in runs) for key in runs[0] if isinstance(runs[0][key], (int, float))}
