"""The container files: Dockerfile, .dockerignore, compose.yaml and deploy/Caddyfile.

No Docker engine runs where these tests run (only the client is installed), so the image is not
built here. Instead the files are read as Docker reads them: the Dockerfile with BuildKit's own
parser (the PyPI package ``dockerfile`` wraps it), compose.yaml as YAML; every shell step is
syntax-checked with ``sh -n``, and the steps whose logic can run without Docker (the variant check,
the package list, the torch pin, the model download switch) are run, with stand-ins for pip and
python where needed.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import dockerfile
import pytest
import yaml

from core.config import VARIABLES, load_settings

ROOT = Path(__file__).resolve().parent.parent
PORT = 8501
#: settings that come with the remote engine branch (core.config gains them there); the lead
#: tightens this to core.config.VARIABLES alone after merging it.
REMOTE_ENGINE_SETTINGS = {"SEESAY_VLM_ENGINE", "SEESAY_VLM_URL", "SEESAY_VLM_MODEL", "SEESAY_VLM_API_KEY"}
KNOWN_SETTINGS = {var.name for var in VARIABLES} | REMOTE_ENGINE_SETTINGS


# --- reading the files -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def steps() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def of(steps, cmd: str) -> list[dockerfile.Command]:
    return [s for s in steps if s.cmd == cmd.upper()]


def args_defaults(steps) -> dict[str, str]:
    """ARG name -> default value ("" when it has none)."""
    found = {}
    for step in of(steps, "arg"):
        for value in step.value:
            name, _, default = value.partition("=")
            found[name] = default
    return found


def run_sh(script: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a RUN step's shell as Docker does (/bin/sh -c), here."""
    return subprocess.run(["/bin/sh", "-c", script], env={**os.environ, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=30)


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` (relative to the repository) out of the build context.

    As Docker reads it: a pattern is anchored at the context's root, ``**/`` matches in any folder,
    leaving a folder out leaves out everything in it, and ``!pattern`` takes back in what it matches
    (the last matching line decides).
    """
    parts = Path(path).parts
    out = False
    for pattern in dockerignore():
        keep = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        anywhere = pattern.startswith("**/")
        pattern = pattern.removeprefix("**/")
        for end in range(1, len(parts) + 1):
            starts = range(end) if anywhere else (0,)
            if any(fnmatch.fnmatchcase("/".join(parts[start:end]), pattern) for start in starts):
                out = not keep
                break
    return out


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


_INTERPOLATION = re.compile(r"\$\{(\w+)(:-([^}]*))?\}")


def interpolated(value):
    """A compose value as `docker compose` sees it with nothing set in the environment or .env."""
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: m.group(3) or "", value)
    return value


def flag(command: list[str], name: str) -> str:
    """The value of ``--name=value`` or ``--name value`` in a command list."""
    for i, word in enumerate(command):
        if word == name:
            return command[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{name} not in {command}")


# --- Dockerfile ---------------------------------------------------------------------------------

def test_the_dockerfile_parses_with_docker_own_parser_and_every_shell_step_is_valid(steps):
    assert [s.cmd for s in steps[:1]] == ["ARG"] and of(steps, "from")
    for step in of(steps, "run"):
        assert not step.json, step.original  # shell form: sh -c with the variables expanded
        checked = run_sh(f"set -n\n{step.value[0]}")
        assert checked.returncode == 0, (step.original, checked.stderr)


def test_base_image_is_python_3_11(steps):
    (base,) = of(steps, "from")  # one stage
    image = base.value[0]
    for name, default in args_defaults(steps).items():
        image = image.replace(f"${{{name}}}", default)
    assert re.fullmatch(r"python:3\.11-slim-\w+", image), image


@pytest.mark.parametrize("variant, ok", [("cpu", True), ("cuda", True), ("gpu", False), ("", False)])
def test_the_variant_is_cpu_or_cuda(steps, variant, ok):
    assert args_defaults(steps)["VARIANT"] == "cpu"
    check = next(s.value[0] for s in of(steps, "run") if "VARIANT must be" in s.value[0])
    done = run_sh(check, {"VARIANT": variant})
    assert (done.returncode == 0) == ok
    if not ok:
        assert "VARIANT must be cpu or cuda" in done.stderr


def test_debian_packages_are_the_repositorys_list(steps):
    copied = [s.value for s in of(steps, "copy") if "packages.txt" in s.value]
    assert copied == [("packages.txt", "/tmp/seesay/")]
    install = next(s.value[0] for s in of(steps, "run") if "apt-get install" in s.value[0])
    listing = re.search(r"grep .*?/tmp/seesay/packages\.txt", install).group(0)
    done = run_sh(listing.replace("/tmp/seesay/", ""), cwd=ROOT)
    wanted = [line for line in (ROOT / "packages.txt").read_text().split() if line and not line.startswith("#")]
    assert done.stdout.split() == wanted and {"ffmpeg", "espeak-ng"} <= set(wanted)
    assert "rm -rf /var/lib/apt/lists/*" in install


def test_python_packages_come_from_the_repositorys_requirements(steps):
    copied = [s.value for s in of(steps, "copy") if any("requirements" in v for v in s.value)]
    assert copied == [("requirements.txt", "/tmp/seesay/")]
    wheels = [s.value for s in of(steps, "copy") if any("wheels" in v for v in s.value)]
    assert wheels == [("deploy/wheels/", "/tmp/seesay/deploy/wheels/")]  # requirements.txt's relative path
    install = next(s.value[0] for s in of(steps, "run") if "pip install -r" in s.value[0])
    assert "cd /tmp/seesay/ " in install and "pip install -r requirements.txt" in install
    assert "--no-deps" not in install  # one file, installed the ordinary way
    assert "requirements-test" not in install  # the image holds what SeeSay needs to run, no test tools


def test_torch_cpu_build_for_the_cpu_variant_from_the_pin(steps, tmp_path):
    """cpu: torch at requirements.txt's exact pin from the PyTorch CPU index; cuda: PyPI's (CUDA) build."""
    install = next(s.value[0] for s in of(steps, "run") if "pip install -r" in s.value[0])
    assert "--index-url https://download.pytorch.org/whl/cpu" in install
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch")]
    assert len(pins) == 1 and re.fullmatch(r"torch==\d+\.\d+\.\d+", pins[0]), pins
    # Run the step with a pip that only writes down what it was asked, for both variants.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pip").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip.log\n')
    (fake / "python").write_text("#!/bin/sh\nexit 0\n")  # `python -m venv`
    for tool in ("pip", "python"):
        (fake / tool).chmod(0o755)
    work = tmp_path / "tmp-seesay"
    script = install.replace("/tmp/seesay/", f"{work}/")
    work.mkdir()
    (work / "requirements.txt").write_text((ROOT / "requirements.txt").read_text())
    calls = {}
    for variant in ("cpu", "cuda"):
        (tmp_path / "pip.log").write_text("")
        done = run_sh(script, {"VARIANT": variant, "PATH": f"{fake}:{os.environ['PATH']}"})
        assert done.returncode == 0, done.stderr
        calls[variant] = (tmp_path / "pip.log").read_text().splitlines()
    assert f"install {pins[0]} --index-url https://download.pytorch.org/whl/cpu" in calls["cpu"]
    assert not any("download.pytorch.org" in call for call in calls["cuda"])
    assert calls["cuda"] == [c for c in calls["cpu"] if "download.pytorch.org" not in c]


def test_everything_copied_exists_and_is_in_the_build_context(steps):
    copies = of(steps, "copy")
    assert copies and not [s for s in copies if any(f.startswith("--from") for f in s.flags)]  # from the context
    for src in [src for s in copies for src in s.value[:-1]]:
        path = ROOT / src.removeprefix("./")
        assert path.exists(), f"COPY {src}: not in the repository"
        assert not ignored(src), f"COPY {src}: .dockerignore keeps it out of the build context"


def test_the_app_and_every_local_module_it_imports_are_copied(steps):
    copied = {src.rstrip("/") for s in of(steps, "copy") for src in s.value[:-1]}
    assert {"Home.py", "pages", "ui", "core", ".streamlit"} <= copied
    local = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    imported = set()
    for path in [ROOT / "Home.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py"),
                 *(ROOT / "core").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported & local <= copied, sorted((imported & local) - copied)
    assert "tests" not in imported & local  # the app never reaches into the tests


def test_dockerignore_keeps_environments_caches_and_test_output_out():
    for path in (".venv", ".venv/bin/python", ".cache/test-models/tiny-llava", "artifacts/browser-failures/x.png",
                 ".git", "core/__pycache__/config.cpython-311.pyc", ".pytest_cache", ".hypothesis", "tests"):
        assert ignored(path), path
    for path in ("Home.py", "core/config.py", "ui/assets/seesay.js", ".streamlit/config.toml", "packages.txt",
                 "core/tests/x.py"):  # "tests" is the top-level folder only
        assert not ignored(path), path


def test_the_app_runs_as_a_user_that_owns_only_the_model_cache(steps):
    users = of(steps, "user")
    assert users and users[-1].value[0] not in ("root", "0")
    user = users[-1].value[0]
    setup = next(s.value[0] for s in of(steps, "run") if "useradd" in s.value[0])
    assert re.search(rf"useradd .*\b{user}\b", setup) and f"chown {user}:{user} /models" in setup
    env = _env(steps)
    assert env["HF_HOME"].startswith("/models/") and env["XDG_CACHE_HOME"].startswith("/models/")
    last_user = steps.index(users[-1])
    assert last_user < steps.index(of(steps, "cmd")[-1])
    assert all(steps.index(s) < last_user for s in of(steps, "run") if "apt-get" in s.value[0] or "pip" in s.value[0])


def _env(steps) -> dict[str, str]:
    """ENV key -> value (the parser gives key, value, key, value ...)."""
    found = {}
    for step in of(steps, "env"):
        values = list(step.value)
        found.update(zip(values[::2], values[1::2]))
    return found


def test_streamlit_serves_home_on_all_interfaces_with_a_health_check(steps):
    assert [s.value for s in of(steps, "expose")] == [(str(PORT),)]
    (cmd,) = of(steps, "cmd")
    assert cmd.json and list(cmd.value[:3]) == ["streamlit", "run", "Home.py"]
    assert "--server.address=0.0.0.0" in cmd.value and f"--server.port={PORT}" in cmd.value
    (health,) = of(steps, "healthcheck")
    probe = " ".join(health.value[1:])
    assert health.value[0] == "CMD" and f"http://127.0.0.1:{PORT}/_stcore/health" in probe
    assert "timeout=" in probe  # the probe itself gives up
    flags = dict(f.lstrip("-").split("=", 1) for f in health.flags)
    assert {"interval", "timeout", "start-period", "retries"} <= set(flags)


def test_the_image_command_starts_streamlit_and_the_health_probe_sees_it(steps, tmp_path):
    """The CMD and the HEALTHCHECK probe, run here as written (on a free loopback port)."""
    (cmd,) = of(steps, "cmd")
    (health,) = of(steps, "healthcheck")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    here = [w.replace(str(PORT), str(port)).replace("0.0.0.0", "127.0.0.1") for w in cmd.value]
    probe = [w.replace(str(PORT), str(port)) for w in health.value[1:]]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    assert subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode != 0  # nothing there yet
    server = subprocess.Popen(here, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode != 0:
            assert server.poll() is None, "streamlit exited"
            assert time.monotonic() < deadline, "the health probe never passed"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("download, engine, expected", [
    ("1", "", "SEESAY_DEVICE=cpu -m core download"),
    ("1", "openai", "SEESAY_DEVICE=cpu SEESAY_VLM_ENGINE=openai -m core download"),
    ("0", "", ""),
])
def test_models_are_downloaded_at_build_time_unless_skipped(steps, tmp_path, download, engine, expected):
    assert args_defaults(steps)["DOWNLOAD_MODELS"] == "1"
    step = next(s for s in of(steps, "run") if "core download" in s.value[0])
    assert steps.index(step) > steps.index(of(steps, "user")[-1])  # written by the app's user, into /models
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$(env | grep ^SEESAY_ | sort | tr "\\n" " ")$*"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEESAY_")}
    done = subprocess.run(["/bin/sh", "-c", step.value[0]], capture_output=True, text=True, timeout=30,
                          env={**env, "PATH": f"{tmp_path}:{env['PATH']}", "VARIANT": "cpu",
                               "DOWNLOAD_MODELS": download, "VLM_ENGINE": engine})
    assert done.returncode == 0 and done.stdout.strip() == expected


def test_no_secret_is_baked_into_the_image(steps):
    names = set(args_defaults(steps)) | set(_env(steps))
    assert not [n for n in names if re.search(r"TOKEN|KEY|SECRET|PASSWORD", n, re.I)]
    assert not any(s.cmd == "COPY" and any(".env" in v or "token" in v.lower() for v in s.value) for s in steps)
    for secret in (".streamlit/secrets.toml", ".env", "deploy/prod.env"):  # COPY .streamlit/ must not take it
        assert ignored(secret), secret


# --- compose.yaml -------------------------------------------------------------------------------

def test_compose_runs_vllm_seesay_replicas_and_a_proxy(compose):
    assert set(compose["services"]) == {"vllm", "seesay", "proxy"}
    used = {v.split(":")[0] for s in compose["services"].values() for v in s.get("volumes", [])
            if not v.startswith(".")}
    assert used == set(compose["volumes"])  # every named volume is declared, none is left unused


def test_vllm_serves_llava_1_5_7b_on_the_gpu(compose):
    vllm = compose["services"]["vllm"]
    assert interpolated(vllm["image"]).startswith("vllm/vllm-openai:v")  # a pinned release
    command = vllm["command"]
    assert flag(command, "--model") == "llava-hf/llava-1.5-7b-hf"
    assert int(flag(command, "--max-model-len")) <= 4096  # LLaVA-1.5's context
    assert 0.5 <= float(flag(command, "--gpu-memory-utilization")) <= 0.95
    (gpu,) = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert gpu["driver"] == "nvidia" and gpu["count"] == 1 and gpu["capabilities"] == ["gpu"]
    assert "vllm-cache:/root/.cache/huggingface" in vllm["volumes"]
    assert "ports" not in vllm  # reached only by SeeSay, on the compose network
    check = vllm["healthcheck"]
    assert check["test"][0] == "CMD" and "http://127.0.0.1:8000/health" in " ".join(check["test"])
    assert "timeout=" in " ".join(check["test"])
    assert _minutes(check["start_period"]) >= 10  # the first start downloads 14 GB


def _minutes(duration: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()
    return int(number) * {"s": 1 / 60, "m": 1, "h": 60}[unit]


def test_seesay_replicas_ask_vllm(compose):
    seesay, vllm = compose["services"]["seesay"], compose["services"]["vllm"]
    assert seesay["build"]["context"] == "." and (ROOT / seesay["build"].get("dockerfile", "Dockerfile")).is_file()
    assert seesay["build"]["args"]["VARIANT"] in ("cpu", "cuda")
    assert seesay["build"]["args"]["VLM_ENGINE"] == "openai"
    assert int(interpolated(seesay["deploy"]["replicas"])) >= 2
    assert "ports" not in seesay  # replicas cannot share a host port: the proxy is the way in
    assert seesay["depends_on"] == {"vllm": {"condition": "service_healthy"}}
    assert "healthcheck" not in seesay  # the image's own HEALTHCHECK (/_stcore/health) applies
    env = {k: interpolated(v) for k, v in seesay["environment"].items()}
    assert env["SEESAY_VLM_ENGINE"] == "openai"
    assert env["SEESAY_VLM_URL"] == "http://vllm:8000/v1"  # the service's name and vLLM's port
    assert env["SEESAY_VLM_MODEL"] == flag(vllm["command"], "--served-model-name") == flag(vllm["command"],
                                                                                            "--model")
    assert "seesay-models:/models" in seesay["volumes"]


def test_every_seesay_setting_in_compose_is_a_known_setting(compose):
    env = {k: interpolated(v) for k, v in compose["services"]["seesay"]["environment"].items()}
    unknown = {k for k in env if k.startswith("SEESAY_")} - KNOWN_SETTINGS
    assert not unknown, unknown
    load_settings({k: v for k, v in env.items() if k not in REMOTE_ENGINE_SETTINGS})  # valid values too


def test_only_the_proxy_is_published_with_https_and_sticky_websockets(compose):
    published = {name for name, s in compose["services"].items() if s.get("ports")}
    assert published == {"proxy"}
    proxy = compose["services"]["proxy"]
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    assert proxy["depends_on"] == {"seesay": {"condition": "service_healthy"}}
    mount = next(v for v in proxy["volumes"] if v.startswith("./"))
    source, target = mount.split(":")[:2]
    assert (ROOT / source).is_file() and target == "/etc/caddy/Caddyfile"
    caddy = (ROOT / source).read_text(encoding="utf-8")
    code = "\n".join(line.split("#")[0] for line in caddy.splitlines())
    assert re.search(rf"dynamic a seesay {PORT}\b", code)  # every replica of the service, on Streamlit's port
    assert re.findall(r"lb_policy (\S+)", code) == ["cookie"]  # sticky: one visitor, one replica
    assert caddy.count("{") == caddy.count("}")


def test_compose_starts_with_nothing_set(compose):
    """Every ${VARIABLE} has a default, so `docker compose up` needs no .env file."""
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    uses = re.findall(r"\$\{[^}]*\}", text)
    assert uses and all(":-" in use for use in uses), uses
    assert not re.search(r"\$\{?(HF_TOKEN|SEESAY_VLM_API_KEY)\}?\s*$", text, re.M)
    for service in compose["services"].values():
        for command in (service.get("command") or []):
            assert shlex.split(command) == [command]  # one word each: no shell in the way
