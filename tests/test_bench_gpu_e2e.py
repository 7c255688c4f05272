"""bench/gpu_e2e.py: the targets' verdicts on made-up figures, and its miniature run end to end on the CPU.

The miniature runs the script's whole path (the models built offline in LLaVA-1.5's and Whisper's shapes
with tiny widths, SeeSay's pipeline, the offline voice, the text reader) in a process of its own, as the
CUDA machine will run it; its figures mean nothing, so only what it wrote is checked, never the words.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gpu_report import GB, TARGETS, VERDICTS, targets, verdict

ROOT = Path(__file__).resolve().parent.parent


def figures(first_audio: float = 0.69, tps: float = 100.0, peak: float = 4.8e12, bytes_per_token: float = 4.0e9,
            peak_allocated: float = 6.0 * GB, reserved: float = 7.0 * GB) -> dict:
    """What a run records, made up: speech recognition 0.25 s, first sentence to the voice at 0.5 s."""
    return {
        "miniature": False,
        "medians": {"first_audio": first_audio, "transcript": 0.25, "voice_start": 0.5, "decode_tps": tps,
                    "context_tokens": 760, "lead_after_t0": 0.0},
        "decode": {"bytes_per_token": bytes_per_token, "peak_bandwidth": peak, "alone_tps": tps * 1.1},
        "memory": {"llava": 4.2 * GB, "whisper": 1.0 * GB, "static_cache": 1.07 * GB,
                   "loaded": {"allocated": 5.5 * GB, "peak_allocated": 5.9 * GB, "reserved": 6.2 * GB},
                   "answered": {"allocated": 5.5 * GB, "peak_allocated": peak_allocated, "reserved": reserved}},
    }


def said(lines: list[str]) -> list[str]:
    return [next(v for v in VERDICTS if line.startswith(v)) for line in lines]


def test_a_limit_is_reached_at_it_and_missed_past_it():
    assert verdict(0.69, 0.7, at_most=True) == "REACHED" and verdict(0.7, 0.7, at_most=True) == "REACHED"
    assert verdict(0.71, 0.7, at_most=True) == "MISSED"
    assert verdict(0.31, 0.30, at_most=False) == "REACHED" and verdict(0.29, 0.30, at_most=False) == "MISSED"
    assert verdict(None, 0.7, at_most=True) == "NOT MEASURED"
    assert verdict(math.nan, 0.3, at_most=False) == "NOT MEASURED"


def test_each_target_is_judged_on_its_own_figure():
    # 4 GB a token x 400 tokens/s = 1.6 TB/s, a third of 4.8 TB/s; 7 GB reserved
    assert said(targets(figures(0.69, tps=400.0))) == ["REACHED", "REACHED", "REACHED"]
    lines = targets(figures(0.71, tps=300.0, reserved=8.1 * GB))  # 25% of the limit, 8.1 GB
    assert said(lines) == ["MISSED", "MISSED", "MISSED"]
    assert "0.71 s" in lines[0] and "25%" in lines[1] and "8.10 GB" in lines[2]
    # memory is judged on the larger of the peak allocated and what the allocator reserved
    assert said(targets(figures(peak_allocated=8.2 * GB, reserved=7.9 * GB)))[2] == "MISSED"


def test_what_limits_each_target_is_said_from_the_figures():
    first, decode, memory = targets(figures(0.69, tps=100.0))
    # 0.25 s transcribing, 0.25 s to the first sentence, 0.19 s for the voice
    assert "speech recognition took 0.25 s" in first and "the voice speaking it 0.19 s" in first
    assert "760 tokens" in first
    # 10 ms a token against 4 GB / 4.8 TB/s = 0.83 ms of reading: 9.17 ms of other work
    assert "100.0 tokens/s" in decode and "0.83 ms" in decode and "9.17 ms" in decode
    assert "static KV cache taking 1.07 GB" in memory and "Whisper 1.00 GB" in memory


def test_missing_figures_are_not_measured_and_say_why():
    lines = targets({"miniature": True, "medians": None, "decode": {}, "memory": {}})
    assert said(lines) == ["NOT MEASURED"] * 3
    assert "No CUDA device" in lines[2]
    fig = figures()
    fig["decode"]["peak_bandwidth"] = math.nan  # an unknown GPU, no --bandwidth
    line = targets(fig)[1]
    assert line.startswith("NOT MEASURED") and "--bandwidth" in line
    assert [t[0] for t in TARGETS] == ["first_audio", "bandwidth_share", "gpu_memory"]


@pytest.mark.models
def test_the_miniature_runs_the_whole_path_and_writes_its_report(tmp_path):
    command = [sys.executable, "bench/gpu_e2e.py", "--miniature", "--runs", "2", "--warmup", "1", "--lead", "1.5",
               "--decode-tokens", "16", "--decode-repeats", "1", "--bandwidth", "0.02", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    fig = json.loads((tmp_path / "gpu-e2e-miniature.json").read_text(encoding="utf-8"))
    text = (tmp_path / "gpu-e2e-miniature.md").read_text(encoding="utf-8")

    assert fig["miniature"] and fig["status"].startswith("complete")
    assert "MINIATURE DRY RUN" in text and "mean nothing for the targets" in text
    # every target has its line, with a verdict, in the json, the markdown and the printed output
    assert len(fig["targets"]) == len(TARGETS)
    for line, (_, what, *_) in zip(fig["targets"], TARGETS):
        verdict_said = next((v for v in VERDICTS if line.startswith(f"{v} {what}:")), None)
        assert verdict_said, line
        assert f"**{verdict_said} {what}**" in text and line in done.stdout
    assert fig["targets"][0].split(" time")[0] in ("REACHED", "MISSED")  # answered with speech: measured
    assert fig["targets"][1].split(" decode")[0] in ("REACHED", "MISSED")  # --bandwidth given: measured
    assert fig["targets"][2].startswith("NOT MEASURED")  # no GPU

    assert len(fig["runs"]) == 2
    for run in fig["runs"]:
        assert 0 < run["transcript"] < run["first_token"] <= run["voice_start"] < run["first_audio"] <= run["total"]
        assert run["stt_seconds"] > 0 and run["tokens"] == 60 and run["decode_tps"] > 0
        assert run["context_tokens"] > 576  # the photo's 576 image tokens and the prompt's text
        assert run["transcript_text"] == "What does the sign say, and what color is it?"  # the scripted Whisper
    assert fig["decode"]["alone_tps"] > 0 and fig["decode"]["bytes_per_token"] > 0
    assert all(seconds > 0 for seconds in fig["stages"].values()) and len(fig["stages"]) >= 6
