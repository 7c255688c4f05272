"""bench.report on made-up runs: the side-by-side tables and the targets' verdicts (no models, no timing)."""

from __future__ import annotations

import dataclasses

from bench.e2e import FOLLOW_UP_MODES, MODES, Run
from bench.report import load_json, markdown, plot, save_json, targets

GB = 10**9  # bench.report counts in decimal gigabytes


def run(mode: str, first_audio: float, total: float, peak_gb: float = 2.0) -> Run:
    return Run(mode=mode, transcript=0.5, first_token=first_audio - 0.5, last_token=total - 1.0,
               first_audio=first_audio, total=total, stt_seconds=0.4, question_seconds=3.0, tokens=60,
               decode_tps=10.0, model_seconds=total * 0.99, prepare_after_t0=0.0, peak_rss=int(peak_gb * GB),
               prepare_seconds=2.4, ocr_seconds=0.3, context_tokens=1000)


def info(vm_hwm_gb: float = 3.0) -> dict:
    return {"torch_threads": 2, "load_average_before": 0.5, "load_average_after": 0.6, "llava": "made up",
            "parameters": 1_000_000_000, "dtype": "float32", "native_bf16": False, "stt": "s", "tts": "t",
            "photo_size": (1024, 768), "question_seconds": 3.0, "rss_loaded": 2 * GB, "vm_hwm": vm_hwm_gb * GB,
            "command": "python -m bench", "lead": 3.0, "quick": False}


#: what the benchmark measures of the machine and the model, for the decoding line
FIGURES = {"bandwidth": {"read": 40.0, "copy": 30.0}, "decode_weight_bytes": 0.9 * GB, "kv_bytes_per_token": 100_000}


def results(first_audio: float, follow_ups: bool = True) -> dict[str, list[Run]]:
    out = {"baseline": [run("baseline", 20.0, 20.0)] * 3, "streaming": [run("streaming", first_audio, 15.0)] * 3}
    if follow_ups:
        out["baseline-follow-up"] = [run("baseline-follow-up", 21.0, 21.0)] * 3
        out["streaming-follow-up"] = [run("streaming-follow-up", 2.1, 12.0)] * 3
    return out


def test_targets_are_reached_or_missed_on_the_figures():
    from bench.e2e import medians

    med = {mode: medians(runs) for mode, runs in results(4.0).items()}  # 4 s against 20 s: 20%
    lines = targets(med, info(3.0) | FIGURES)
    assert [line.split()[0] for line in lines] == ["REACHED", "REACHED", "REPORTED", "REACHED", "NOT"]
    assert "20%" in lines[0] and "native bfloat16" not in lines[0]
    assert lines[-1].startswith("NOT MEASURED GPU")
    med = {mode: medians(runs) for mode, runs in results(4.2).items()}
    lines = targets(med, info(3.1))
    assert lines[0].startswith("MISSED") and "21%" in lines[0]
    assert lines[1].startswith("MISSED") and "3.10 GB" in lines[1]


def test_the_memory_target_is_judged_on_seesay_alone_when_measured():
    from bench.e2e import medians

    med = {mode: medians(runs) for mode, runs in results(4.0).items()}
    alone = {"peak": 2.9 * GB, "loaded": 0.8 * GB, "photos": 4,
             "phases": {"prepare": 2.7 * GB, "read text": 2.8 * GB, "question": 2.9 * GB, "follow-up": 2.85 * GB}}
    line = targets(med, info(3.4) | {"seesay_process": alone})[1]
    assert line.startswith("REACHED") and "2.90 GB" in line and "question 2.90" in line and "3.40 GB" in line


def test_what_limits_the_first_audio_is_said():
    from bench.e2e import medians
    from bench.report import first_audio_parts

    late = [dataclasses.replace(r, prepare_seconds=5.0, ocr_seconds=0.5, lead_after_t0=2.5, transcript=3.0)
            for r in results(6.0)["streaming"]]
    text = first_audio_parts(medians(late))
    assert "did not fit in the recording" in text and "2.50 s past t = 0" in text and "transcribing 0.50 s" in text
    fitted = first_audio_parts(medians(results(4.0)["streaming"]))
    assert "fitted in the recording" in fitted


def test_decoding_is_reported_against_the_bandwidth_bound():
    from bench.e2e import medians
    from bench.report import decode_bound

    med = medians(results(4.0)["streaming"])
    bound = decode_bound(med, info() | FIGURES)
    per_token = 0.9 * GB + 100_000 * (1000 + 60 / 2)  # weights, and keys and values of the context
    assert abs(bound["bound"] - 40 * GB / per_token) < 1e-9 and abs(bound["share"] - 10.0 / bound["bound"]) < 1e-9
    assert decode_bound(med, info()) is None  # runs saved without the figures: nothing to report


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


# --- bench.machine and core.memory ---------------------------------------------------------------


def test_the_avx2_stand_in_sets_every_switch_and_refuses_once_torch_is_loaded(monkeypatch):
    import sys

    from bench import machine

    env: dict = {}
    monkeypatch.setattr(machine.os, "environ", env)
    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch", object()))
    try:
        machine.emulate_avx2()
    except RuntimeError as error:
        assert "torch" in str(error) and not env
    else:
        raise AssertionError("torch was imported already: the switches would come too late")
    monkeypatch.delitem(sys.modules, "torch")
    for name in ("ctranslate2", "faster_whisper"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    machine.emulate_avx2()
    assert env == machine.AVX2_ENV and machine.emulating()
    assert {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "CT2_FORCE_CPU_ISA"} <= set(env)


def test_memory_is_given_back_only_where_glibc_can(monkeypatch):
    from core import memory

    memory._glibc.cache_clear()
    linux = sys_platform().startswith("linux")
    assert memory.give_back() is linux and memory.limit_heaps() is linux
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    memory._glibc.cache_clear()
    assert memory.give_back() is False and memory.limit_heaps() is False
    memory._glibc.cache_clear()


def sys_platform() -> str:
    import sys

    return sys.platform


def test_the_cloud_benchmark_says_each_budget_passes_or_misses_the_target_with_three_visitors():
    from bench.cloud import render

    def app(budget, three):
        return {"budget_mb": budget, "peak_loading_gb": 0.9, "loading_seconds": 5, "freed_in_log": 2,
                "refused_in_log": 0, "rounds": [
                    {"visitors": 1, "peak_gb": 2.3, "answers": ["answered"] * 2, "refused": 0, "seconds": 14},
                    {"visitors": 3, "peak_gb": three, "answers": ["answered"] * 5 + ["refused"], "refused": 1,
                     "seconds": 60}]}

    text = render({"command": "python -m bench cloud", "machine": {"cores": "0,1", "cores_on_machine": 2,
                                                                    "cpu_flags": ["avx2"]},
                   "whisper": "tiny.en", "voice": "espeak-ng", "tokens": 40, "apps": [app(2200, 2.43), app(0, 2.61)]})
    assert "| 3 | 2200 | **2.43 GB** | -0.27 GB | PASS | 5 of 6 | 1 |" in text
    assert "- budget 2200: 3 visitors peaked at 2.43 GB: PASS" in text
    assert "- budget none: 3 visitors peaked at 2.61 GB: MISSED" in text
