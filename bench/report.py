"""The pipeline benchmark's results as a markdown table, targets and a timeline plot."""

from __future__ import annotations

import json
import platform
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

from .e2e import FOLLOW_UP_MODES, MODES, Run, medians
from .inputs import ANSWER, FOLLOW_UP, QUESTION
from .probes import cores, cpu_name

GB = 1e9  # memory is given in GB (10^9 bytes): stricter than GiB against a "3 GB" target

#: the issue's targets ("Speed, second round"; the time outside model calls is the first round's)
FIRST_AUDIO_SHARE = 0.20  # first audio of the first question about a new photo, against the baseline's
PEAK_GB = 3.0  # the whole process, loading included
OUTSIDE_SHARE = 0.05

# (key, label, format) of each measure in the table
MEASURES = [
    ("transcript", "Time to transcript (s)", "{:.2f}"),
    ("first_token", "Time to first answer text (s)", "{:.2f}"),
    ("last_token", "Time to the end of the answer text (s)", "{:.2f}"),
    ("first_audio", "Time to first audio (s)", "{:.2f}"),
    ("total", "Total time (s)", "{:.2f}"),
    ("whisper_rtf", "Whisper real-time factor", "{:.3f}"),
    ("tokens", "Answer tokens generated", "{:.0f}"),
    ("decode_tps", "Decode speed (tokens/s)", "{:.1f}"),
    ("prepare_seconds", "Photo preparation, from its arrival (s)", "{:.2f}"),
    ("ocr_seconds", "Text reading of the photo, after its preparation (s)", "{:.2f}"),
    ("prepare_after_t0", "Photo preparation left at t = 0 (s)", "{:.2f}"),
    ("lead_after_t0", "Photo's work (preparation, text reading) left at t = 0 (s)", "{:.2f}"),
    ("context_tokens", "Prompt tokens at the first answer token", "{:.0f}"),
    ("outside_share", "Time outside model calls (% of total)", "{:.2%}"),
    ("peak_rss", "Peak memory during the question (GB RSS)", "{:.2f}"),
]

DEFINITIONS = """\
How to read this:
* Every time is in seconds from the end of the spoken question (t = 0). The photo arrived 3 s
  earlier, when the person started recording; only the streaming pipeline uses that time:
  Pipeline.take_photo has the model encode the photo and the prompt's prefix, then the text reader
  read the photo, in the background while the person speaks. The question is
  answered once that work is done (the app finishes a photo's work before the question after it):
  work left at t = 0 delays everything after it.
* Baseline: a plain sequential app: transcribe, then generate the whole answer (photo encoded after
  the question, no prefix cache, no text reader), then synthesize the whole answer: its first audio
  is its whole audio.
* Streaming: SeeSay's own core.pipeline.Pipeline, as the app runs it (its engines wrapped in timing
  probes): Pipeline.ask() answers with what the text reader found (the words as a "Reference OCR
  token" note and the answerability note after the question, then the double-check); first audio is
  the first AnswerAudio event (the first sentence spoken while the model writes the next).
* Time outside model calls = (total - time inside model calls on the critical path) / total.
  Model calls are stt.transcribe, the VLM's generation (from the stream's first request to its
  end; the model works on its own thread in between) and photo preparation when it is still
  running after t = 0, and tts.synthesize. In the streaming pipeline these overlap (speech is
  synthesized while the model writes), so "inside" is the length of the union of those intervals
  within [0, total]: the time when at least one model was working. The rest is the pipeline's own
  work: decoding the recording, the speech check, queues, threads, sentence splitting, joining clips.
* Whisper real-time factor = seconds inside transcribe / seconds of recording (Whisper pads every
  clip to 30 s, so a short question costs nearly as much as a long one).
* Decode speed counts the model's forward passes after the first token (one pass per token).
* Peak memory: the kernel's record of the process's peak resident memory (VmHWM), started afresh
  for each question (Linux; elsewhere sampled every 10 ms). Both modes run in one process over the
  same model, so the memory target is judged on SeeSay alone (bench/memory.py, run after the timed
  runs in a process of its own, with the same kind of CPU): its whole process from the first import,
  loading every engine, then four new photos, each prepared, read, asked a spoken question and a
  spoken follow-up, with the voice. Weights mapped from the checkpoint count once touched.
* Decoding's bound: the machine's memory bandwidth (the best of a 1 GiB bfloat16 sum with torch and a
  512 MiB numpy copy) divided by the bytes each token reads: every language-model weight but the
  embedding table, and the keys and values of the context.
* Random weights: the model's own tokens are meaningless filler words with no sentence ends, so the
  text handed to the pipeline is a fixed realistic answer, released word by word in step with the
  tokens the model really generates (the model does all its work; only the words are swapped)."""


def markdown(results: dict[str, list[Run]], info: dict, *, command: str, lead: float) -> str:
    med = {mode: medians(results[mode]) for mode in MODES}
    runs = len(results["baseline"])
    lines = [f"Command: `{command}`", "", machine_line(info), "",
             f"LLaVA: {info['llava']}, {_count(info['parameters'])} parameters, weights {info['dtype']}"
             f"{_weight_gb(info)}, prefill: {info.get('prefill', info['dtype'])}. Speech in: {info['stt']}. "
             f"Voice: {info['tts']}. Text reader: {info.get('ocr', 'none')}.",
             f"Inputs: a synthetic {info['photo_size'][0]}x{info['photo_size'][1]} photo; the question "
             f"\"{QUESTION}\" spoken by the offline voice, {info['question_seconds']:.1f} s; the answer forced "
             f"to {med['baseline']['tokens']:.0f} tokens. Photo given {lead:g} s before the end of the question.",
             f"Medians of {runs} runs per mode (after warm-up), the modes alternating in one process.",
             "",
             "| measure | baseline: median (range) | streaming: median (range) | streaming / baseline (medians) |",
             "| --- | ---: | ---: | ---: |"]
    for key, label, fmt in MEASURES:
        scale = GB if key == "peak_rss" else 1.0
        b, s = med["baseline"][key] / scale, med["streaming"][key] / scale
        ratio = f"{s / b:.0%}" if b and key not in _NO_RATIO else ""
        cells = [_cell(fmt, value, [getattr(run, key) / scale for run in results[mode]])
                 for mode, value in (("baseline", b), ("streaming", s))]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")
    lines += follow_up_table(results)
    lines += ["", f"Process memory: {info['rss_loaded'] / GB:.2f} GB resident after loading the models (peak "
              f"while loading {info.get('peak_loading', 0) / GB:.2f} GB); SeeSay's peak (loading and its own "
              f"questions, warm-up included) {info.get('peak_seesay', info['vm_hwm']) / GB:.2f} GB; peak of the "
              f"benchmark's whole process (VmHWM, the baseline included) {info['vm_hwm'] / GB:.2f} GB.", ""]
    lines += ["Targets:", ""] + [f"* {line}" for line in targets(med, info)] + [""]
    lines += ["```", DEFINITIONS, "```", "", f"The answer the voice speaks: \"{ANSWER}\"", ""]
    return "\n".join(lines)


_NO_RATIO = ("prepare_after_t0", "tokens", "prepare_seconds", "ocr_seconds", "lead_after_t0", "context_tokens")


def machine_line(info: dict) -> str:
    """The machine, the kind of CPU the run measured, and how busy the machine was."""
    before = info.get("load_averages_before") or [info["load_average_before"]] * 3
    after = info.get("load_averages_after") or [info["load_average_after"]] * 3
    text = (f"Machine: {cpu_name()}, {cores()} cores, torch threads {info['torch_threads']}, Python "
            f"{platform.python_version()}, {sys.platform}. CPU kind measured: **{info.get('cpu_kind', '?')}**")
    if "torch_capability" in info:
        text += (f"; torch kernels {info['torch_capability']}, matrix products {info['gflops_float32']:.0f} "
                 f"GFLOPS in float32 and {info['gflops_bfloat16']:.0f} in bfloat16 (1024 x 1024)")
    if info.get("emulated_avx2"):
        text += ("; torch, oneDNN, MKL, fbgemm and CTranslate2 kept to AVX2 (bench.machine.AVX2_ENV); onnxruntime "
                 "(the voice, the text reader) has no such switch and keeps its AVX-512 kernels")
    if "bandwidth" in info:
        text += (f". Memory bandwidth: {info['bandwidth']['read']:.0f} GB/s reading (torch sum of 1 GiB "
                 f"bfloat16), {info['bandwidth']['copy']:.0f} GB/s copying (numpy, read + write)")
    return text + (f". Load average (1, 5, 15 min) before the runs {_loads(before)}, after {_loads(after)}: "
                   "other processes on the machine slow every figure down.")


def _loads(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def _weight_gb(info: dict) -> str:
    return f" ({info['weight_bytes'] / GB:.2f} GB)" if "weight_bytes" in info else ""


def follow_up_table(results: dict[str, list[Run]]) -> list[str]:
    """The follow-up question about the same photo (runs written before it was measured have none)."""
    if not all(results.get(mode) for mode in FOLLOW_UP_MODES):
        return []
    med = {mode: medians(results[mode]) for mode in FOLLOW_UP_MODES}
    lines = ["", f"Then a follow-up question about the same photo (\"{FOLLOW_UP}\"), with the first question "
             "and answer as the conversation so far. The baseline encodes the photo again with the whole "
             "conversation; SeeSay prefills only what follows the photo's kept prefix.", "",
             "| follow-up question | baseline: median (range) | streaming: median (range) | streaming / baseline (medians) |",
             "| --- | ---: | ---: | ---: |"]
    for key, label, fmt in MEASURES:
        if key in ("prepare_after_t0", "peak_rss", "whisper_rtf", "tokens", "prepare_seconds", "ocr_seconds",
                   "lead_after_t0"):
            continue
        b, s = (med[mode][key] for mode in FOLLOW_UP_MODES)
        cells = [_cell(fmt, value, [getattr(run, key) for run in results[mode]])
                 for mode, value in zip(FOLLOW_UP_MODES, (b, s))]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {f'{s / b:.0%}' if b else ''} |")
    return lines


def _count(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e8 else f"{n / 1e6:.2f} M"


def _cell(fmt: str, median: float, values: list[float]) -> str:
    """The median, and the range of the runs when they differ (the machine may be shared)."""
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return fmt.format(median) + (f" ({low}-{high})" if low != high else "")


def targets(med: dict[str, dict[str, float]], info: dict) -> list[str]:
    """The issue's targets, each REACHED or MISSED (with what limits it), REPORTED or NOT MEASURED."""
    b, s = med["baseline"], med["streaming"]
    share = s["first_audio"] / b["first_audio"]
    alone = info.get("seesay_process")
    peak = (alone["peak"] if alone else info.get("peak_seesay", info["vm_hwm"])) / GB
    kind = info.get("cpu_kind", "this CPU")

    def verdict(ok: bool) -> str:
        return "REACHED" if ok else "MISSED"

    lines = [f"{verdict(share <= FIRST_AUDIO_SHARE)} CPU ({kind}), first question about a new photo: first audio "
             f"at most {FIRST_AUDIO_SHARE:.0%} of the baseline's: {s['first_audio']:.2f} s against "
             f"{b['first_audio']:.2f} s = {share:.0%}. {first_audio_parts(s)}",
             f"{verdict(peak <= PEAK_GB)} CPU ({kind}) peak memory at most {PEAK_GB:g} GB for the whole process, "
             f"loading included: {peak:.2f} GB{alone_parts(alone)} In the timed runs: loading "
             f"{info.get('peak_loading', 0) / GB:.2f} GB, SeeSay's questions {s['peak_rss'] / GB:.2f} GB, the "
             f"benchmark's process with the baseline's plain app in it {info['vm_hwm'] / GB:.2f} GB. "
             f"{memory_parts(info, peak)}"]
    decoding = decode_bound(s, info)
    if decoding:
        lines.append(f"REPORTED CPU decoding: {s['decode_tps']:.1f} tokens/s = {decoding['share']:.0%} of the "
                     f"memory-bandwidth bound of {decoding['bound']:.1f} tokens/s ({decoding['bandwidth']:.0f} GB/s / "
                     f"{decoding['bytes'] / GB:.2f} GB read per token: {info['decode_weight_bytes'] / GB:.2f} GB of "
                     f"weights, keys and values of {decoding['context']:.0f} tokens)")
    lines += [f"{verdict(s['outside_share'] <= OUTSIDE_SHARE)} time outside model calls at most "
              f"{OUTSIDE_SHARE:.0%} of total (first round): streaming {s['outside_share']:.2%} "
              f"(baseline {b['outside_share']:.2%})",
              "NOT MEASURED GPU targets: no CUDA device on this machine"]
    return lines


def first_audio_parts(s: dict[str, float]) -> str:
    """Where the streaming first audio's time goes, from t = 0."""
    late = s.get("lead_after_t0", 0.0)
    parts = []
    if late > 0.005:
        parts.append(f"the photo's work did not fit in the recording: preparing it took {s['prepare_seconds']:.2f} s "
                     f"and reading its text {s['ocr_seconds']:.2f} s, {late:.2f} s past t = 0")
    else:
        parts.append(f"the photo's work ({s.get('prepare_seconds', 0.0):.2f} s preparing, "
                     f"{s.get('ocr_seconds', 0.0):.2f} s reading its text) fitted in the recording")
    parts.append(f"transcribing {s['transcript'] - late:.2f} s")
    parts.append(f"the question's prefill to the first text {s['first_token'] - s['transcript']:.2f} s")
    parts.append(f"the first sentence's tokens and speech {s['first_audio'] - s['first_token']:.2f} s")
    return "Time: " + "; ".join(parts) + "."


def alone_parts(alone: dict | None) -> str:
    if not alone:
        return "."
    phases = ", ".join(f"{name} {value / GB:.2f}" for name, value in alone["phases"].items())
    return (f" (SeeSay alone, its whole process from the first import: after loading {alone['loaded'] / GB:.2f} GB; "
            f"{alone['photos']} new photos, each prepared, read, asked a question and a follow-up; peak of each "
            f"phase in GB: {phases}).")


def memory_parts(info: dict, peak: float) -> str:
    if "weight_bytes" not in info:
        return ""
    weights = info["weight_bytes"] / GB
    return (f"Of the peak, at most {weights:.2f} GB is the model's weights ({info['dtype']}; mapped from the "
            f"checkpoint, counted once touched), {peak - weights:.2f} GB or more everything else (torch and the "
            "other libraries, Whisper, the voice, the text reader, the photos' kept prefixes, working memory).")


def decode_bound(s: dict[str, float], info: dict) -> dict[str, float] | None:
    """Decoding's memory-bandwidth bound (tokens/s) and the share of it reached; None without the figures."""
    if not {"bandwidth", "decode_weight_bytes", "kv_bytes_per_token"} <= info.keys() or not s.get("context_tokens"):
        return None
    context = s["context_tokens"] + s["tokens"] / 2  # the keys and values read grow by one token a step
    per_token = info["decode_weight_bytes"] + info["kv_bytes_per_token"] * context
    bandwidth = max(info["bandwidth"]["read"], info["bandwidth"]["copy"])
    bound = bandwidth * GB / per_token
    return {"bound": bound, "share": s["decode_tps"] / bound, "bandwidth": bandwidth, "bytes": per_token,
            "context": context}


def save_json(results: dict[str, list[Run]], info: dict, path: Path) -> None:
    data = {"info": {k: v for k, v in info.items()},
            "runs": {mode: [asdict(run) | {"whisper_rtf": run.whisper_rtf, "outside_share": run.outside_share}
                            for run in runs] for mode, runs in results.items()}}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def load_json(path: Path) -> tuple[dict[str, list[Run]], dict]:
    """Runs and info from a file written by :func:`save_json` (to redraw without measuring again)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = Run.__dataclass_fields__
    runs = {mode: [Run(**{k: v for k, v in run.items() if k in fields}) for run in items]
            for mode, items in data["runs"].items()}
    return runs, data["info"]


def plot(results: dict[str, list[Run]], info: dict, path: Path, *, lead: float, title: str) -> None:
    """Timelines, baseline above streaming, from the photo's arrival to the last audio; below them
    the follow-up question, when it was measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = MODES + (FOLLOW_UP_MODES if all(results.get(m) for m in FOLLOW_UP_MODES) else ())
    med = {mode: medians(results[mode]) for mode in modes}
    colours = {"listen": "#4c72b0", "think": "#dd8452", "write": "#c9a227", "speak": "#55a868",
               "prepare": "#b8b8d8", "ocr": "#8fbcbb"}
    phases = [("listen", "transcribing"), ("think", "until the first text"),
              ("write", "the model writes the answer"), ("speak", "speech of the rest of the answer")]
    names = {"baseline": "sequential baseline", "streaming": "SeeSay streaming",
             "baseline-follow-up": "follow-up: baseline", "streaming-follow-up": "follow-up: SeeSay"}
    order = ["streaming-follow-up", "baseline-follow-up", "streaming", "baseline"]
    rows = {mode: y for y, mode in enumerate(m for m in order if m in modes)}
    fig, ax = plt.subplots(figsize=(10, 2.2 + 1.1 * len(rows)), dpi=110)
    for mode, y in rows.items():
        m = med[mode]
        late = m.get("lead_after_t0", 0.0)
        edges = [late, m["transcript"], m["first_token"], m["last_token"], m["total"]]
        if mode == "streaming":
            prepared = m.get("prepare_seconds") or lead  # runs saved before these were measured: the lead
            ax.barh(y, prepared, left=-lead, height=0.5, color=colours["prepare"], hatch="//", edgecolor="white")
            if m.get("ocr_seconds"):
                ax.barh(y, m["ocr_seconds"], left=-lead + prepared, height=0.5, color=colours["ocr"], hatch="..",
                        edgecolor="white")
        for (key, _), start, end in zip(phases, edges, edges[1:]):
            if end > start:
                ax.barh(y, end - start, left=start, height=0.5, color=colours[key], edgecolor="white")
        ax.plot([m["first_audio"]], [y + 0.3], marker="v", color="black", markersize=10, zorder=5)
        ax.annotate(f"first audio {m['first_audio']:.1f} s", (m["first_audio"], y + 0.38),
                    ha="center", va="bottom", fontsize=9, fontweight="bold")
        ax.annotate(f"done {m['total']:.1f} s", (m["total"], y), xytext=(4, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=8)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(list(rows.values()), [names[mode] for mode in rows])
    ax.set_ylim(-0.5, len(rows) - 0.15)
    longest = max(med[mode]["total"] for mode in modes)
    ax.set_xlim(-lead - 0.3, longest * 1.12 + 0.5)
    ax.set_xlabel("seconds from the end of the spoken question (t = 0); the photo arrived at the left edge")
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=colours["prepare"], hatch="//", edgecolor="white"),
               plt.Rectangle((0, 0), 1, 1, facecolor=colours["ocr"], hatch="..", edgecolor="white")]
    handles += [plt.Rectangle((0, 0), 1, 1, color=colours[key]) for key, _ in phases]
    handles.append(plt.Line2D([], [], marker="v", color="black", linestyle="none", markersize=9))
    labels = (["photo prepared (vision tower, prefix) from its arrival", "then its text read"]
              + [label for _, label in phases] + ["first audio ready"])
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    ax.set_title(textwrap.fill(title, 110), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path)
    plt.close(fig)
