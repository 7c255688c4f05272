import pytest

from core.config import PROFILES, VARIABLES, load_settings
from core.errors import ConfigError


def test_defaults_without_environment():
    s = load_settings({})
    assert s.device == "auto" and s.tts_engine == "auto" and s.private is False
    assert s.network_timeout > 0


def test_cpu_profile_defaults():
    s = load_settings({"SEESAY_DEVICE": "cpu"})
    assert s.llava() == "llava-hf/llava-interleave-qwen-0.5b-hf"
    assert s.quantization() == "none"
    assert s.dtype() == "bfloat16"  # with or without native bf16 (core.vlm.mixed): one 2 GB copy of the weights


def test_torch_kept_to_avx2_means_no_native_bf16(monkeypatch):
    from core import config

    monkeypatch.setattr("builtins.open", _cpuinfo("flags : fpu avx2 avx512f avx512_bf16\n"), raising=True)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    assert config.cpu_has_native_bf16() is (config.platform.machine() not in ("aarch64", "arm64"))
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")  # how the benchmark stands in for an AVX2-only CPU
    assert config.cpu_has_native_bf16() is False
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    assert config.cpu_has_native_bf16() is (config.platform.machine() not in ("aarch64", "arm64"))


def _cpuinfo(text):
    import io

    real = open

    def fake(path, *args, **kwargs):
        return io.StringIO(text) if str(path) == "/proc/cpuinfo" else real(path, *args, **kwargs)

    return fake


def test_cuda_profile_is_4bit_llava_7b():
    s = load_settings({"SEESAY_DEVICE": "cuda"})
    assert s.llava() == "llava-hf/llava-1.5-7b-hf"
    assert (s.quantization(), s.dtype()) == ("nf4", "float16")
    assert PROFILES["cuda"].whisper_model


def test_explicit_values_win():
    s = load_settings({"SEESAY_DEVICE": "cpu", "SEESAY_LLAVA_MODEL": "/models/x",
                       "SEESAY_LLAVA_DTYPE": "float32", "SEESAY_WHISPER_MODEL": "tiny.en",
                       "SEESAY_PRIVATE": "yes", "SEESAY_NETWORK_TIMEOUT": "2.5",
                       "SEESAY_MAX_IMAGE_MB": "5"})
    assert (s.llava(), s.dtype(), s.whisper(), s.private) == ("/models/x", "float32", "tiny.en", True)
    assert s.network_timeout == 2.5 and s.max_image_bytes == 5 * 1024 * 1024


@pytest.mark.parametrize("name,value,expect", [
    ("SEESAY_DEVICE", "gpu", "auto, cuda, cpu"),
    ("SEESAY_TTS_ENGINE", "alexa", "gtts"),
    ("SEESAY_STT_ENGINE", "vosk", "faster-whisper"),
    ("SEESAY_LLAVA_QUANTIZATION", "int3", "nf4"),
    ("SEESAY_LLAVA_DTYPE", "fp8", "bfloat16"),
    ("SEESAY_LLAVA_COMPILE", "always", "auto, on, off"),
    ("SEESAY_PRIVATE", "maybe", "true"),
    ("SEESAY_DEBUG", "2", "false"),
    ("SEESAY_NETWORK_TIMEOUT", "-1", "from 0.5"),
    ("SEESAY_NETWORK_TIMEOUT", "soon", "number"),
    ("SEESAY_MAX_AUDIO_SECONDS", "nan", "number"),
    ("SEESAY_MAX_ANSWER_TOKENS", "1.5", "whole number"),
    ("SEESAY_MAX_IMAGE_PIXELS", "10", "number"),
    ("SEESAY_IMAGE_MAX_SIDE", "100000", "4096"),
    ("SEESAY_MAX_IMAGE_MB", "0", "number"),
    ("SEESAY_MAX_QUESTION_CHARS", "x", "number"),
    ("SEESAY_DETAIL_ANSWER_TOKENS", "0", "number"),
])
def test_wrong_value_names_the_variable_and_valid_values(name, value, expect):
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    assert name in str(info.value)
    assert expect in str(info.value)


def test_unknown_variable_is_refused_with_known_names():
    with pytest.raises(ConfigError) as info:
        load_settings({"SEESAY_DEVISE": "cpu"})
    assert "SEESAY_DEVISE" in str(info.value) and "SEESAY_DEVICE" in str(info.value)


def test_test_suite_variables_are_ignored():
    load_settings({"SEESAY_TEST_MODELS_DIR": "/tmp/x"})


def test_private_mode_refuses_gtts():
    with pytest.raises(ConfigError) as info:
        load_settings({"SEESAY_PRIVATE": "1", "SEESAY_TTS_ENGINE": "gtts"})
    assert "SEESAY_PRIVATE" in str(info.value) and "SEESAY_TTS_ENGINE" in str(info.value)


def test_every_variable_is_documented_in_readme():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [v.name for v in VARIABLES if v.name not in readme]
    assert not missing, f"README does not document {missing}"


def test_import_core_does_not_import_heavy_libraries():
    import subprocess
    import sys

    code = ("import sys, core, core.pipeline, core.config, core.errors, core.turns; "
            "heavy = [m for m in ('torch', 'transformers', 'whisper', 'streamlit', 'gtts') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("value,device,expect", [
    ("auto", "cuda", True), ("auto", "cpu", False), ("on", "cpu", True), ("off", "cuda", False),
])
def test_compiled_decoding_is_on_with_cuda_by_default(value, device, expect):
    settings = load_settings({"SEESAY_LLAVA_COMPILE": value, "SEESAY_DEVICE": device})
    assert settings.compile() is expect
