"""requirements.txt is the one dependency file, and its rebuilt gTTS wheel is upstream's code.

Streamlit Community Cloud (and any other host) installs from requirements.txt alone, so everything
SeeSay imports must be named there, gTTS and openai-whisper included. gTTS 2.5.4 comes from a
wheel in deploy/wheels/ that deploy/gtts_wheel.py rebuilds from PyPI's: these tests compare it with
the hashes recorded in that script (no download). The fresh install itself is tested in
tests/browser/test_cloud.py.
"""

from __future__ import annotations

import importlib.util
import re
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("gtts_wheel", ROOT / "deploy" / "gtts_wheel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gtts_wheel = _load_script()


def requirement_lines() -> list[str]:
    return [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def test_there_is_one_dependency_file_for_running():
    assert not (ROOT / "requirements-nodeps.txt").exists()
    for name in ("seesay", "Dockerfile", ".ci/run"):
        text = (ROOT / name).read_text()
        assert "nodeps" not in text and "--no-deps" not in text, name


def test_requirements_name_gtts_and_whisper_installed_normally():
    lines = requirement_lines()
    assert "openai-whisper==20250625" in lines
    wheels = [ln for ln in lines if ln.endswith(".whl")]
    # A plain relative path: pip and uv resolve it from the folder they run in, which is the
    # repository root on Streamlit Community Cloud, in ./seesay and in the Dockerfile's build step.
    assert wheels == [f"./deploy/wheels/{gtts_wheel.WHEEL.name}"]
    assert (ROOT / wheels[0]).is_file()
    assert not [ln for ln in lines if re.match(r"(?i)gtts\b", ln)]  # no second gTTS from PyPI
    assert not [ln for ln in lines if ln.startswith("-")]  # no options that only one installer knows


def test_vendored_gtts_wheel_is_upstreams_files_with_click_relaxed():
    assert gtts_wheel.check() == []
    z = zipfile.ZipFile(gtts_wheel.WHEEL)
    meta = z.read(f"gTTS-{gtts_wheel.VERSION}.dist-info/METADATA").decode().splitlines()
    requires = [ln for ln in meta if ln.startswith("Requires-Dist:") and "extra ==" not in ln]
    assert requires == ["Requires-Dist: requests<3,>=2.27", "Requires-Dist: click>=7.1"]
    assert "Version: 2.5.4+seesay1" in meta
    # Apart from those two lines METADATA is upstream's, byte for byte.
    assert gtts_wheel.sha256(upstream_files()["dist-info/METADATA"]) == gtts_wheel.UPSTREAM_FILES["dist-info/METADATA"]


def upstream_files() -> dict[str, bytes]:
    """Upstream's files put back together from the vendored wheel (METADATA's two lines and RECORD
    restored), by their version-free names."""
    z = zipfile.ZipFile(gtts_wheel.WHEEL)
    files = {gtts_wheel.generic(i.filename): z.read(i) for i in z.infolist()}
    files["dist-info/METADATA"] = (files["dist-info/METADATA"]
                                   .replace(b"Requires-Dist: click>=7.1", b"Requires-Dist: click<8.2,>=7.1")
                                   .replace(b"Version: 2.5.4+seesay1", b"Version: 2.5.4"))
    record = [gtts_wheel.record_line(k.replace("dist-info/", gtts_wheel.OLD_INFO), v)
              for k, v in files.items() if k != "dist-info/RECORD"]
    files["dist-info/RECORD"] = ("\n".join([*record, gtts_wheel.OLD_INFO + "RECORD,,"]) + "\n").encode()
    return files


@pytest.mark.parametrize("change", ["code", "metadata", "extra file"])
def test_the_wheel_check_catches_a_changed_wheel(tmp_path, change):
    bad = tmp_path / gtts_wheel.WHEEL.name
    with zipfile.ZipFile(gtts_wheel.WHEEL) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if change == "code" and info.filename == "gtts/tts.py":
                data = data.replace(b"timeout", b"timeoutx", 1)
            if change == "metadata" and info.filename.endswith("METADATA"):
                data = data.replace(b"click>=7.1", b"click<8.2,>=7.1")
            dst.writestr(info, data)
        if change == "extra file":
            dst.writestr("gtts/extra.py", b"print('hello')\n")
    assert gtts_wheel.check(bad)


def test_the_rebuild_is_reproducible_from_upstreams_files(tmp_path):
    """Upstream's wheel, put back together from the vendored one (every file matching the recorded
    hashes), rebuilds into the vendored wheel byte for byte: nothing is downloaded."""
    files = upstream_files()
    assert {k: gtts_wheel.sha256(v) for k, v in files.items()} == gtts_wheel.UPSTREAM_FILES
    upstream = tmp_path / "gTTS-2.5.4-py3-none-any.whl"
    with zipfile.ZipFile(gtts_wheel.WHEEL) as src, zipfile.ZipFile(upstream, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            name = info.filename.replace(gtts_wheel.NEW_INFO, gtts_wheel.OLD_INFO)
            zi = zipfile.ZipInfo(name, date_time=info.date_time)
            zi.external_attr, zi.create_system = info.external_attr, info.create_system
            dst.writestr(zi, files[gtts_wheel.generic(info.filename)])
    # Not PyPI's file byte for byte (compressed here), so the whole-file hash refuses it...
    with pytest.raises(SystemExit, match="not PyPI's gTTS 2.5.4"):
        gtts_wheel.rebuild(upstream.read_bytes())
    # ...but from the same files the rebuild is the vendored wheel, byte for byte.
    assert gtts_wheel.rebuild(upstream.read_bytes(), verify=False) == gtts_wheel.WHEEL.read_bytes()


def test_seesay_reinstalls_when_the_wheel_changes(tmp_path):
    text = (ROOT / "seesay").read_text()
    stamp = re.search(r'want=\$\((.*?)\)', text).group(1)
    assert "deploy/wheels/*.whl" in stamp and '"$@"' in stamp
