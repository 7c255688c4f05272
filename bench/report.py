"""The pipeline benchmark's results as a markdown table, targets and a timeline plot."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path

from .e2e import FOLLOW_UP_MODES, MODES, Run, medians
from .inputs import ANSWER, FOLLOW_UP, QUESTION
from .probes import cores, cpu_name

GB = 1e9  # memory is given in GB (10^9 bytes): stricter than GiB against a "4 GB" target

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
    ("prepare_after_t0", "Photo preparation left at t = 0 (s)", "{:.2f}"),
    ("outside_share", "Time outside model calls (% of total)", "{:.2%}"),
    ("peak_rss", "Peak memory during the question (GB RSS)", "{:.2f}"),
]

DEFINITIONS = """\
How to read this:
* Every time is in seconds from the end of the spoken question (t = 0). The photo arrived 3 s
  earlier, when the person started recording; only the streaming pipeline uses that time (it
  encodes the photo and the prompt's prefix in the background while the person speaks).
* Baseline: transcribe, then generate the whole answer (photo encoded after the question, no
  prefix cache), then synthesize the whole answer: its first audio is its whole audio.
* Streaming: core.pipeline.ask(); first audio is the first AnswerAudio event (the first sentence
  spoken while the model writes the next).
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
* Peak memory: resident set size sampled every 10 ms during each question. Both modes run in the
  same process over the same model, so the process's all-time peak (VmHWM, loading included) is
  given once below the table.
* Random weights: the model's own tokens are meaningless filler words with no sentence ends, so the
  text handed to the pipeline is a fixed realistic answer, released word by word in step with the
  tokens the model really generates (the model does all its work; only the words are swapped)."""


def markdown(results: dict[str, list[Run]], info: dict, *, command: str, lead: float) -> str:
    med = {mode: medians(results[mode]) for mode in MODES}
    runs = len(results["baseline"])
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {cpu_name()}, {cores()} cores, torch threads {info['torch_threads']}, Python "
        f"{platform.python_version()}, {sys.platform}. Load average (1 min) before the runs "
        f"{info['load_average_before']:.1f}, after {info['load_average_after']:.1f}: other processes on "
        "the machine slow every figure down.",
        f"LLaVA: {info['llava']}, {_count(info['parameters'])} parameters, {info['dtype']} "
        f"(native bfloat16 on this CPU: {'yes' if info['native_bf16'] else 'no'}). "
        f"Speech in: {info['stt']}. Voice: {info['tts']}.",
        f"Inputs: a synthetic {info['photo_size'][0]}x{info['photo_size'][1]} photo; the question "
        f"\"{QUESTION}\" spoken by the offline voice, {info['question_seconds']:.1f} s; the answer forced "
        f"to {med['baseline']['tokens']:.0f} tokens. Photo given {lead:g} s before the end of the question.",
        f"Medians of {runs} runs per mode (after warm-up), the modes alternating in one process.",
        "",
        "| measure | baseline: median (range) | streaming: median (range) | streaming / baseline (medians) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label, fmt in MEASURES:
        scale = GB if key == "peak_rss" else 1.0
        b, s = med["baseline"][key] / scale, med["streaming"][key] / scale
        ratio = f"{s / b:.0%}" if b and key not in ("prepare_after_t0", "tokens") else ""
        cells = [_cell(fmt, value, [getattr(run, key) / scale for run in results[mode]])
                 for mode, value in (("baseline", b), ("streaming", s))]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")
    lines += follow_up_table(results)
    lines += ["", f"Process memory: {info['rss_loaded'] / GB:.2f} GB resident after loading the models; "
              f"all-time peak (VmHWM, loading included) {info['vm_hwm'] / GB:.2f} GB.", ""]
    lines += ["Targets:", ""] + [f"* {line}" for line in targets(med, info)] + [""]
    lines += ["```", DEFINITIONS, "```", "", f"The answer the voice speaks: \"{ANSWER}\"", ""]
    return "\n".join(lines)


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
        if key in ("prepare_after_t0", "peak_rss", "whisper_rtf", "tokens"):
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
    """The issue's three targets, each with PASS or MISS and the figures behind it."""
    b, s = med["baseline"], med["streaming"]
    share = s["first_audio"] / b["first_audio"]
    peak = info["vm_hwm"] / GB

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    return [
        f"{verdict(share <= 0.25)} time to first audio <= 25% of the baseline's time to audio: "
        f"{s['first_audio']:.2f} s against {b['first_audio']:.2f} s = {share:.0%}",
        f"{verdict(s['outside_share'] <= 0.05)} time outside model calls <= 5% of total: "
        f"streaming {s['outside_share']:.2%} (baseline {b['outside_share']:.2%})",
        f"{verdict(peak <= 4.0)} peak memory <= 4 GB: {peak:.2f} GB (process peak, loading included; "
        f"{max(b['peak_rss'], s['peak_rss']) / GB:.2f} GB while answering)",
    ]


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
               "prepare": "#b8b8d8"}
    phases = [("listen", "transcribing"), ("think", "until the first text"),
              ("write", "the model writes the answer"), ("speak", "speech of the rest of the answer")]
    names = {"baseline": "sequential baseline", "streaming": "SeeSay streaming",
             "baseline-follow-up": "follow-up: baseline", "streaming-follow-up": "follow-up: SeeSay"}
    order = ["streaming-follow-up", "baseline-follow-up", "streaming", "baseline"]
    rows = {mode: y for y, mode in enumerate(m for m in order if m in modes)}
    fig, ax = plt.subplots(figsize=(10, 2.2 + 1.1 * len(rows)), dpi=110)
    for mode, y in rows.items():
        m = med[mode]
        edges = [0.0, m["transcript"], m["first_token"], m["last_token"], m["total"]]
        if mode == "streaming":
            ax.barh(y, lead, left=-lead, height=0.5, color=colours["prepare"], hatch="//", edgecolor="white")
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
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=colours["prepare"], hatch="//", edgecolor="white")]
    handles += [plt.Rectangle((0, 0), 1, 1, color=colours[key]) for key, _ in phases]
    handles.append(plt.Line2D([], [], marker="v", color="black", linestyle="none", markersize=9))
    labels = ["photo prepared while the question is asked"] + [label for _, label in phases] + ["first audio ready"]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path)
    plt.close(fig)
