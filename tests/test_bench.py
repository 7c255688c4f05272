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


# --- bench.load: the check that everyone got their own answers, on a scripted pipeline ---------------


class ScriptedPipeline:
    """Answers each question with a text made from the photo and the question; ``leaky`` lets answers
    written at the same time mix, as a server that mixed up requests would."""

    def __init__(self, leaky: bool):
        import threading

        self.leaky, self.active, self.lock = leaky, 0, threading.Lock()

    def take_photo(self, data, choices, *, spoken):
        import hashlib

        from core.pipeline import PhotoTaken

        yield PhotoTaken(type("P", (), {"key": hashlib.sha256(data).hexdigest()[:8]})())

    def ask(self, photo, question, history, choices, *, max_tokens, min_tokens):
        import time

        from core.pipeline import Answer, Done

        with self.lock:
            self.active += 1
            others = self.active - 1
        time.sleep(0.02)
        with self.lock:
            self.active -= 1
        text = f"{photo.key} {question} {len(history)}" + (" and someone else's" if self.leaky and others else "")
        yield Done(Answer(question, "en", text, timings={"first_token": 0.01, "total": 0.02 + others / 100}))


def test_the_load_check_finds_answers_that_are_not_the_askers_own():
    from bench.load import markdown, run

    fine = run("server", "scripted", ScriptedPipeline(leaky=False), people=6, tokens=4, progress=lambda line: None)
    leaky = run("server", "scripted", ScriptedPipeline(leaky=True), people=6, tokens=4, progress=lambda line: None)
    assert not fine.wrong and len(fine.together) == 12 and len({a.answer for a in fine.alone}) == 12
    assert leaky.wrong  # asked together, their answers mixed: the check says so
    info = {"command": "python -m bench.load", "cpu": "test", "cores": 2, "people": 6, "tokens": 4,
            "load_before": 0.0, "load_after": 0.0, "model": "scripted"}
    text = markdown([fine, leaky], info)
    assert "| yes (12 answers compared; 12 different answers among 12) |" in text
    assert f"NO: {len(leaky.wrong)} differ" in text
