"""Rebuild deploy/wheels/gTTS-2.5.4+seesay1-py3-none-any.whl from PyPI's gTTS 2.5.4 wheel.

Why: every gTTS release from 2.3 to 2.5.4 requires `click<8.2`, only for its command-line tool
`gtts-cli` (the maintainer agreed click should be optional: pndurette/gTTS#388). transformers 5.x
needs huggingface-hub, which needs `click>=8.4.2`, so no released versions agree, and installers
quietly fall back to gTTS 2.2.4, which has no `timeout=` and can hang forever. SeeSay never uses the
CLI, so the rebuilt wheel is upstream's code, file for file; only its METADATA differs (the click
requirement relaxed to `click>=7.1`, the version marked `2.5.4+seesay1`), and RECORD follows.

    python deploy/gtts_wheel.py              # download from PyPI (checks the hash), rebuild
    python deploy/gtts_wheel.py --from X.whl # rebuild from a wheel already on disk
    python deploy/gtts_wheel.py --check      # compare the vendored wheel with upstream's hashes

The rebuild is byte-for-byte reproducible (upstream's entry order and timestamps are kept).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import urllib.request
import zipfile
from pathlib import Path

UPSTREAM_URL = (
    "https://files.pythonhosted.org/packages/e3/6c/"
    "8b8b1fdcaee7e268536f1bb00183a5894627726b54a9ddc6fc9909888447/gTTS-2.5.4-py3-none-any.whl"
)
UPSTREAM_SHA256 = "5dd579377f9f5546893bc26315ab1f846933dc27a054764b168f141065ca8436"
UPSTREAM_VERSION = "2.5.4"
VERSION = "2.5.4+seesay1"
OLD_CLICK = "Requires-Dist: click<8.2,>=7.1"
NEW_CLICK = "Requires-Dist: click>=7.1"
HERE = Path(__file__).resolve().parent
WHEEL = HERE / "wheels" / f"gTTS-{VERSION}-py3-none-any.whl"
OLD_INFO = f"gTTS-{UPSTREAM_VERSION}.dist-info/"
NEW_INFO = f"gTTS-{VERSION}.dist-info/"

# sha256 of every file in upstream's wheel (path inside the wheel, dist-info without version).
UPSTREAM_FILES = {
    "gtts/__init__.py": "e1d1c1ef146de4825c579477a8f00e4fdc3cb1a517294c0d84dce08598edceca",
    "gtts/accents.py": "5772e93f1688c8fd5bc8a8c94c7e399586a7aca454f536f903fcf95ec6b11581",
    "gtts/cli.py": "dcb01fccec8d226d3e6af7f99dfef15ddc9f2e6cfd0d33a8052d58fa57eb6783",
    "gtts/lang.py": "93f0875094ecf499edcc8d50e31ba164d267a11d0dfccd137bcf2d2b0b96f533",
    "gtts/langs.py": "921524cd7bee71d2bebc73152e5cd03ee27a622429354c3e4d7ffeb5024110c6",
    "gtts/tts.py": "6c2728f4c8a42bf326abb7b0d1c68e09001b5e24aa7f1c9239674c855a13ae3e",
    "gtts/utils.py": "a0d0f26f1f9de8c84af1dd68239b03d9f6b06c59b332e9f1c06dd5f217f4e3c5",
    "gtts/version.py": "bbba89b6f6dc19b813dee7b6b5031b48e78626aaa40d30e6fbfec751ee3d3d90",
    "gtts/tests/__init__.py": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "gtts/tests/test_cli.py": "c25db48e92459104203d87d8906b6635baec7a2169c8b5a8c2f1afb61c14390a",
    "gtts/tests/test_lang.py": "561246548f226e6b3a1affdc0aecf60f8a1971089e4c88a65032a3ee16a2c4cd",
    "gtts/tests/test_tts.py": "190bd7bec0bc4aa9116fafbbc0a5e18380a4d824b01d80074f3d904453caec17",
    "gtts/tests/test_utils.py": "c0d0dbf395c3ed2e124e204af03a3dbcd97cbce629bea36602a50733b3fedb50",
    "gtts/tests/input_files/test_cli_test_ascii.txt": "84a23b3ffc7806eeedde2502c530feabe2d6bbca6614c5d41c30cb6cd4980c61",
    "gtts/tests/input_files/test_cli_test_utf8.txt": "e48dc5c28cb49b543f8c944b8639fe3e2bf273d83cf1856eb76066353fda2e6b",
    "gtts/tokenizer/__init__.py": "f7d90320762dcceafd050815bd83fd7e1b33b8ce583a5b2e9ae2e14e678bbe62",
    "gtts/tokenizer/core.py": "9a382aed3841243494983b998ccb702a5ef819204372fad255c503ffa8cdb225",
    "gtts/tokenizer/pre_processors.py": "0a1fcc2fa4f25c243f42ed8d3f483927f7f0ee345989362b9e811abf9600753a",
    "gtts/tokenizer/symbols.py": "124bad9542f6ee81e09349ed76bf67399d0f4baf8ba5002385f1a67bd220f664",
    "gtts/tokenizer/tokenizer_cases.py": "6a41635ffe0696f1806ac9e9331c2d74ff58044ab72d0ece0ad74c5035167299",
    "gtts/tokenizer/tests/test_core.py": "c8f43acd246f07bd381574093bb3080295d3d8930edcf4bae954d47101f181e3",
    "gtts/tokenizer/tests/test_pre_processors.py": "f2d9763922ec392d9119770f58e15b8bd2761310f7f106fc79953b3e71fa17b6",
    "gtts/tokenizer/tests/test_tokenizer_cases.py": "13a3b683bc122b3e80a073b6ec2278392ed8ed7c161bdf5cee9db1c1a406658a",
    "dist-info/LICENSE": "4dfee45a597e4e01a0682744273613a93ce607765d87df5c3732a872bfb5d1a5",
    "dist-info/METADATA": "097ce59ad3b925bef0b70ab6d35fb80ac549ccf5ea6e0449eaa764f404871ffc",
    "dist-info/WHEEL": "3fd8f0fa01237bc07207bfe15e82029c7b550ab13031087eeb7d2d2af4167a17",
    "dist-info/entry_points.txt": "6c8f4122ba44f5b07515586b9b714726b7d04ec21c9df9e0aaf1aa50c34bb613",
    "dist-info/top_level.txt": "38582fb9587b89cf304b110f94262f1ca13c16c22402bd9f773182a693857192",
    "dist-info/RECORD": "a3b9c2e7e9e56bb85bce42d3fc3cba7d6b1db39eb256f93c2fcf4b9d1b6abf5d",
}
CHANGED = {"dist-info/METADATA", "dist-info/RECORD"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def generic(name: str) -> str:
    """A wheel entry's name with the dist-info folder's version taken out."""
    for info in (OLD_INFO, NEW_INFO):
        if name.startswith(info):
            return "dist-info/" + name[len(info):]
    return name


def new_metadata(old: str) -> str:
    lines = old.split("\n")
    if lines.count(OLD_CLICK) != 1 or lines.count(f"Version: {UPSTREAM_VERSION}") != 1:
        raise SystemExit("upstream METADATA is not the expected one")
    lines = [NEW_CLICK if ln == OLD_CLICK else ln for ln in lines]
    return "\n".join(f"Version: {VERSION}" if ln == f"Version: {UPSTREAM_VERSION}" else ln for ln in lines)


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def rebuild(upstream: bytes, verify: bool = True) -> bytes:
    """The rebuilt wheel from upstream's (``verify=False`` skips the whole-file hash, for the tests:
    each file is still checked against the recorded hashes)."""
    if verify and sha256(upstream) != UPSTREAM_SHA256:
        raise SystemExit("the downloaded wheel is not PyPI's gTTS 2.5.4 (sha256 differs)")
    src = zipfile.ZipFile(io.BytesIO(upstream))
    out = io.BytesIO()
    record = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            key = generic(info.filename)
            if sha256(src.read(info)) != UPSTREAM_FILES[key]:
                raise SystemExit(f"{info.filename} differs from the recorded hash")
            name = NEW_INFO + key[len("dist-info/"):] if key.startswith("dist-info/") else key
            data = src.read(info)
            if key == "dist-info/METADATA":
                data = new_metadata(data.decode()).encode()
            if key == "dist-info/RECORD":
                record.append(f"{name},,")
                data = ("\n".join(record) + "\n").encode()
            else:
                record.append(record_line(name, data))
            zi = zipfile.ZipInfo(name, date_time=info.date_time)
            zi.external_attr = info.external_attr
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = info.create_system
            dst.writestr(zi, data, compresslevel=9)
    return out.getvalue()


def check(wheel: Path = WHEEL) -> list[str]:
    """Differences between the vendored wheel and upstream (empty when it is as it should be)."""
    problems = []
    z = zipfile.ZipFile(wheel)
    files = {generic(i.filename): z.read(i) for i in z.infolist()}
    if not all(n.startswith(("gtts/", NEW_INFO)) for n in z.namelist()):
        problems.append("entries outside gtts/ and " + NEW_INFO)
    if set(files) != set(UPSTREAM_FILES):
        problems.append(f"file set differs: {sorted(set(files) ^ set(UPSTREAM_FILES))}")
    for key, digest in UPSTREAM_FILES.items():
        if key not in CHANGED and key in files and sha256(files[key]) != digest:
            problems.append(f"{key} differs from upstream")
    meta = files.get("dist-info/METADATA", b"").decode()
    if NEW_CLICK not in meta.split("\n") or "click<8.2" in meta or f"Version: {VERSION}" not in meta:
        problems.append("METADATA does not relax click / mark the version")
    record = files.get("dist-info/RECORD", b"").decode().splitlines()
    for name in z.namelist():
        if not name.endswith("/RECORD") and record_line(name, z.read(name)) not in record:
            problems.append(f"RECORD is wrong for {name}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="source", type=Path, help="upstream wheel on disk (else download)")
    ap.add_argument("--check", action="store_true", help="only compare the vendored wheel")
    args = ap.parse_args(argv)
    if args.check:
        problems = check()
        print("\n".join(problems) or f"{WHEEL.name}: upstream's files, click relaxed")
        return 1 if problems else 0
    if args.source:
        upstream = args.source.read_bytes()
    else:
        with urllib.request.urlopen(UPSTREAM_URL, timeout=60) as r:
            upstream = r.read()
    WHEEL.parent.mkdir(parents=True, exist_ok=True)
    WHEEL.write_bytes(rebuild(upstream))
    print(f"wrote {WHEEL} (sha256 {sha256(WHEEL.read_bytes())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
