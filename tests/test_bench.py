"""bench.report on made-up runs: the side-by-side tables and the targets' verdicts (no models, no timing)."""

from __future__ import annotations

from bench.e2e import FOLLOW_UP_MODES, MODES, Run
from bench.report import load_json, markdown, plot, save_json, targets

GB = 10**9  # bench.report counts in decimal gigabytes


def run(mode: str, first_audio: float, total: float, peak_gb: float = 2.0) -> Run:
    return Run(mode=mode, transcript=0.5, first_token=first_audio - 0.5, last_token=total - 1.0,
               first_audio=first_audio, total=total, stt_seconds=0.4, question_seconds=3.0, tokens=60,
               decode_tps=10.0, model_seconds=total * 0.99, prepare_after_t0=0.0, peak_rss=int(peak_gb * GB))


def info(vm_hwm_gb: float = 3.0) -> dict:
    return {"torch_threads": 2, "load_average_before": 0.5, "load_average_after": 0.6, "llava": "made up",
            "parameters": 1_000_000_000, "dtype": "float32", "native_bf16": False, "stt": "s", "tts": "t",
            "photo_size": (1024, 768), "question_seconds": 3.0, "rss_loaded": 2 * GB, "vm_hwm": vm_hwm_gb * GB,
            "command": "python -m bench", "lead": 3.0, "quick": False}


def results(first_audio: float, follow_ups: bool = True) -> dict[str, list[Run]]:
    out = {"baseline": [run("baseline", 20.0, 20.0)] * 3, "streaming": [run("streaming", first_audio, 15.0)] * 3}
    if follow_ups:
        out["baseline-follow-up"] = [run("baseline-follow-up", 21.0, 21.0)] * 3
        out["streaming-follow-up"] = [run("streaming-follow-up", 2.1, 12.0)] * 3
    return out


def test_targets_pass_and_miss_on_the_figures():
    from bench.e2e import medians

    med = {mode: medians(runs) for mode, runs in results(5.0).items()}
    assert [line[:4] for line in targets(med, info(3.0))] == ["PASS", "PASS", "PASS"]
    med = {mode: medians(runs) for mode, runs in results(5.2).items()}
    verdicts = targets(med, info(4.5))
    assert verdicts[0].startswith("MISS") and "26%" in verdicts[0]
    assert verdicts[2].startswith("MISS") and "4.50 GB" in verdicts[2]


def test_markdown_has_both_tables_and_the_follow_up_ratio():
    text = markdown(results(5.0), info(), command="python -m bench", lead=3.0)
    assert "| Time to first audio (s) | 20.00 | 5.00 | 25% |" in text
    assert "| follow-up question |" in text
    assert "| Time to first audio (s) | 21.00 | 2.10 | 10% |" in text


def test_runs_saved_before_follow_ups_were_measured_still_render(tmp_path):
    old = results(5.0, follow_ups=False)
    save_json(old, info(), tmp_path / "old.json")
    runs, saved = load_json(tmp_path / "old.json")
    assert set(runs) == set(MODES) and not set(runs) & set(FOLLOW_UP_MODES)
    text = markdown(runs, saved, command=saved["command"], lead=saved["lead"])
    assert "follow-up question" not in text and "| Time to first audio (s) | 20.00 | 5.00 | 25% |" in text
    plot(runs, saved, tmp_path / "old.png", lead=3.0, title="old")
    assert (tmp_path / "old.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
