"""Fetching the models before anyone asks: ``python -m core download`` and the Home page.

A model that is not on this machine yet comes from one of two places: the Hugging Face hub (LLaVA
checkpoints, faster-whisper's CTranslate2 Whisper) or openai-whisper's own server (its ``.pt``
checkpoints). :func:`plan` says what the current settings use and where each comes from;
:func:`fetch` downloads what is missing, reporting progress in bytes. Local folders and files need
nothing; nor does a remote answering engine (the model lives on its server) or the voice (Piper's
voice is a Python package, espeak-ng a system package, gTTS an online service).

Hub downloads go file by file (``hf_hub_download``) after one listing with sizes (``model_info``):
the total is known before the first byte, each call has a timeout (the listing and each file's
metadata: the ``timeout`` given; the transfer: huggingface_hub's own ``HF_HUB_DOWNLOAD_TIMEOUT``),
and the files land in the ordinary hub cache, where transformers and faster-whisper find them,
online or offline. (``snapshot_download`` lists the repository with no timeout, and its byte
counters are internal.)
"""

from __future__ import annotations

import errno
import fnmatch
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ModelUnavailableError, SeeSayError
from .i18n import N_, Phrase, Translator, translator

__all__ = ["Model", "Progress", "Fetched", "LLAVA_FILES", "WHISPER_CT2_FILES", "plan", "is_present", "fetch",
           "format_bytes"]

log = logging.getLogger(__name__)

#: the files of a LLaVA checkpoint transformers reads: config, weights, tokenizer, processor, chat template
LLAVA_FILES = ("*.json", "*.safetensors", "tokenizer.model", "*.tiktoken", "merges.txt", "vocab.txt",
               "*.jinja")
#: the files of a CTranslate2 Whisper that faster-whisper reads (its own download_model's list)
WHISPER_CT2_FILES = ("config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*")
_REPO_ID = re.compile(r"[\w-][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class Model:
    """One model the settings use, and where it comes from."""

    label: str  # what it is, in plain words: "the answering model"
    setting: str  # the SEESAY_ variable that names it
    name: str  # what the setting amounts to: a hub id, a Whisper size, a folder or a file
    source: str  # "hub", "whisper" (openai-whisper's server) or "" (nothing to download)
    repo: str = ""  # the hub repository (source "hub")
    patterns: tuple[str, ...] = ()  # which of the repository's files are needed (source "hub")
    note: str = ""  # why nothing needs downloading (source "")


@dataclass(frozen=True)
class Progress:
    """How far a download has got."""

    label: str  # the model being downloaded, in plain words
    done: int  # bytes of it downloaded so far
    total: int  # bytes of it to download; 0 while not known
    step: int  # which of this run's downloads it is, from 1
    steps: int  # how many models this run downloads

    @property
    def fraction(self) -> float:
        """0.0 to 1.0 (0.0 while the total is not known)."""
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def describe(self, language: str = "en") -> str:
        """``Downloading the answering model: 1.2 GB of 4.1 GB (29%)``, read aloud as written, in ``language``."""
        _ = translator(language)
        said = dict(model=Phrase(self.label), done=format_bytes(self.done), total=format_bytes(self.total),
                    percent=str(int(100 * self.fraction)), step=self.step, steps=self.steps)
        if self.total > 0 and self.steps > 1:
            return _("Downloading {model}: {done} of {total} ({percent}%), model {step} of {steps}", **said)
        if self.total > 0:
            return _("Downloading {model}: {done} of {total} ({percent}%)", **said)
        if self.steps > 1:
            return _("Downloading {model}: {done}, model {step} of {steps}", **said)
        return _("Downloading {model}: {done}", **said)


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch` did."""

    models: tuple[Model, ...]  # every model the settings use
    downloaded: tuple[str, ...]  # labels of the models downloaded by this call
    bytes: int  # bytes downloaded by this call
    seconds: float  # time this call spent downloading

    def describe(self, language: str = "en") -> str:
        _ = translator(language)
        if not self.downloaded:
            return _("Every model SeeSay needs is on this machine: nothing to download.")
        return _("Downloaded {models}: {size} in {duration}.", models=_joined(self.downloaded, _),
                 size=format_bytes(self.bytes), duration=_duration(self.seconds, _))


def format_bytes(n: int) -> str:
    """``1.2 GB``, ``145 MB``, ``12 KB``: decimal units, as download sizes are usually given."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} bytes"


# --- what the settings use -----------------------------------------------------------------------

def plan(settings) -> tuple[Model, ...]:
    """The models ``settings`` (a :class:`core.config.Settings`) use, each with where it comes from."""
    return _answering_model(settings), _speech_model(settings), _voice(settings)


def _answering_model(settings) -> Model:
    label, setting = N_("the answering model"), "SEESAY_LLAVA_MODEL"
    # SEESAY_VLM_ENGINE comes with the remote engine; until then every settings object answers here
    if getattr(settings, "vlm_engine", "transformers") != "transformers":
        return Model(label, "SEESAY_VLM_ENGINE", getattr(settings, "vlm_model", ""), "",
                     note="it runs on its own server (SEESAY_VLM_URL): nothing to download here")
    name = settings.llava()
    if Path(name).expanduser().exists():
        return Model(label, setting, name, "", note="it is a folder on this machine")
    if _REPO_ID.fullmatch(name):
        return Model(label, setting, name, "hub", repo=name, patterns=LLAVA_FILES)
    return Model(label, setting, name, "", note="it names no folder here and no hub model (loading says more)")


def _speech_model(settings) -> Model:
    from . import stt

    label, setting = N_("speech recognition"), "SEESAY_WHISPER_MODEL"
    name = settings.whisper()
    if Path(name).expanduser().exists():
        return Model(label, setting, name, "", note="it is a file or folder on this machine")
    engine = stt.resolve_engine(settings.stt_engine, name, settings.resolved_device())
    if engine == "openai-whisper":
        import whisper

        if name in whisper.available_models():
            return Model(label, setting, name, "whisper")
    elif engine == "faster-whisper":
        from faster_whisper import utils

        repo = utils._MODELS.get(name) or (name if _REPO_ID.fullmatch(name) else "")  # private: size -> repo
        if repo:
            return Model(label, setting, name, "hub", repo=repo, patterns=WHISPER_CT2_FILES)
    return Model(label, setting, name, "", note="it names no file here and no Whisper model (loading says more)")


def _voice(settings) -> Model:
    return Model("the voice", "SEESAY_TTS_ENGINE", settings.tts_engine, "",
                 note="Piper's voice is a Python package, espeak-ng a system package and the Google voice "
                      "an online service: nothing to download")


# --- on this machine? ----------------------------------------------------------------------------

def is_present(model: Model, cache_dir: str | None = None) -> bool:
    """Whether ``model`` can be loaded without the network. Opens no connection."""
    if model.source == "whisper":
        from .stt import openai_whisper_file

        return openai_whisper_file(model.name).is_file()  # written only once its checksum matched
    if model.source != "hub":
        return True
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(model.repo, "config.json", cache_dir=cache_dir)
    if not isinstance(config, str):
        return False
    folder = Path(config).parent
    if model.patterns == WHISPER_CT2_FILES:
        return (folder / "model.bin").is_file()
    return _weights_complete(folder)


def _weights_complete(folder: Path) -> bool:
    """Every weight file of the checkpoint in ``folder`` is there (sharded or not)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError):
            return False
        return all((folder / shard).is_file() for shard in shards)
    return any(folder.glob("*.safetensors"))


# --- downloading ---------------------------------------------------------------------------------

_lock = threading.Lock()  # one download at a time in this process; other callers wait and watch it
_latest: Progress | None = None  # what the running download reported last


def fetch(settings, progress: Callable[[Progress], None] | None = None, *, timeout: float | None = None,
          endpoint: str | None = None, cache_dir: str | None = None) -> Fetched:
    """Download what the settings use and this machine does not have yet.

    ``progress`` is called with a :class:`Progress` as bytes arrive (a few times a second at most),
    and only when something is downloaded. ``timeout``: seconds each request may wait for the
    server (default: the settings' network timeout). ``endpoint`` and ``cache_dir``: another hub and
    another cache (default: huggingface_hub's, which honour ``HF_ENDPOINT`` and ``HF_HOME``).
    A caller that comes while another downloads waits for it, watching its progress.
    Raises ModelUnavailableError with what to do when a model cannot be had.
    """
    global _latest
    while not _lock.acquire(timeout=0.2):
        if progress is not None and _latest is not None:
            progress(_latest)
    try:
        models = plan(settings)
        missing = [m for m in models if not is_present(m, cache_dir)]
        if not missing:
            return Fetched(models, (), 0, 0.0)
        timeout = settings.network_timeout if timeout is None else timeout
        started, total = time.monotonic(), 0
        for step, model in enumerate(missing, 1):
            reporter = _Reporter(model.label, step, len(missing), progress)
            if model.source == "hub":
                _fetch_hub(model, reporter, timeout=timeout, endpoint=endpoint, cache_dir=cache_dir)
            else:
                _fetch_whisper(model, reporter, timeout=timeout)
            total += reporter.done
        return Fetched(models, tuple(m.label for m in missing), total, time.monotonic() - started)
    finally:
        _latest = None
        _lock.release()


class _Reporter:
    """Turns byte counts into :class:`Progress` for the caller, a few times a second at most."""

    INTERVAL = 0.25  # seconds between two reports (the first and the last always go)

    def __init__(self, label: str, step: int, steps: int, sink: Callable[[Progress], None] | None) -> None:
        self.label, self.step, self.steps, self.sink = label, step, steps, sink
        self.done = self.total = 0
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None, *, final: bool = False) -> None:
        global _latest
        self.done = max(0, done)
        if total is not None:
            self.total = total
        now = time.monotonic()
        if not final and self._last and now - self._last < self.INTERVAL:
            return
        self._last = now
        _latest = Progress(self.label, self.done, self.total, self.step, self.steps)
        if self.sink is not None:
            self.sink(_latest)


def _fetch_hub(model: Model, report: _Reporter, *, timeout: float, endpoint: str | None,
               cache_dir: str | None) -> None:
    from huggingface_hub import HfApi, constants, hf_hub_download, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE:
        raise _offline(model)
    try:
        info = HfApi(endpoint=endpoint).model_info(model.repo, files_metadata=True, timeout=timeout)
        files = [(s.rfilename, s.size or 0) for s in info.siblings or ()
                 if any(fnmatch.fnmatch(s.rfilename, p) for p in model.patterns)]
        if not any(name.endswith(".safetensors") for name, _ in files) and model.patterns == LLAVA_FILES:
            # an older checkpoint with PyTorch weights only
            files += [(s.rfilename, s.size or 0) for s in info.siblings or ()
                      if fnmatch.fnmatch(s.rfilename, "pytorch_model*.bin")]
        missing = [(name, size) for name, size in files
                   if not isinstance(try_to_load_from_cache(model.repo, name, cache_dir=cache_dir,
                                                            revision=info.sha), str)]
        total = sum(size for _, size in missing)
        report(0, total, final=True)
        done = 0
        for name, size in missing:
            hf_hub_download(model.repo, name, cache_dir=cache_dir, endpoint=endpoint, etag_timeout=timeout,
                            tqdm_class=_counter(lambda n, before=done: report(before + n)))
            done += size
            report(done, final=True)
    except SeeSayError:
        raise
    except Exception as exc:  # what the hub client raises differs between its versions: sort it here
        if not _network_or_hub(exc):
            raise
        raise _hub_error(model, exc) from exc


def _fetch_whisper(model: Model, report: _Reporter, *, timeout: float) -> None:
    from .stt import download_openai_whisper

    try:
        download_openai_whisper(model.name, timeout, lambda done, total: report(done, total))
    except ModelUnavailableError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            raise _disk_full(model) from exc
        if "checksum" in str(cause):
            raise _unreachable(model, "the file that arrived was damaged (its checksum did not match)") from exc
        raise _unreachable(model, "openai-whisper's download server could not be reached") from exc
    report(report.done, final=True)


def _counter(sink: Callable[[int], None]) -> type:
    """A stand-in for tqdm that hands the bytes of one file to ``sink`` (huggingface_hub's ``tqdm_class``)."""

    class Counter:
        def __init__(self, *args, **kwargs) -> None:
            self.total = kwargs.get("total")
            self.n = kwargs.get("initial") or 0  # bytes kept from an interrupted attempt
            if self.n:
                sink(self.n)

        def update(self, n: float | None = 1) -> None:
            self.n += int(n or 0)
            sink(self.n)

        def update_transfer(self, n: float | None = 1) -> None:  # network bytes: counted by update
            pass

        def set_postfix_str(self, *args, **kwargs) -> None:
            pass

        set_transfer_postfix_str = set_description = set_description_str = refresh = close = set_postfix_str

        @property
        def format_dict(self) -> dict:
            return {}

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

    return Counter


# --- what to tell the operator -------------------------------------------------------------------

_WHAT_TO_DO = N_("Connect this machine to the internet once and download again (./seesay download), or set "
                 "SEESAY_LLAVA_MODEL and SEESAY_WHISPER_MODEL to model folders or files already on this machine. "
                 "To try SeeSay without downloading anything, build small test models with: "
                 "python -m core make-test-models, followed by a folder name.")


def _offline(model: Model) -> ModelUnavailableError:
    return ModelUnavailableError(
        N_("SeeSay cannot download {model} ({name}): this machine is set to work without the "
           "Hugging Face hub (HF_HUB_OFFLINE is on), and the model is not on this machine yet."),
        N_("Switch HF_HUB_OFFLINE off for the download. Connect this machine to the internet once and "
           "download again (./seesay download), or set SEESAY_LLAVA_MODEL and SEESAY_WHISPER_MODEL to model "
           "folders or files already on this machine. To try SeeSay without downloading anything, build small "
           "test models with: python -m core make-test-models, followed by a folder name."),
        model=Phrase(model.label), name=model.name)


def _unreachable(model: Model, why: str = N_("the Hugging Face hub could not be reached from this machine")
                 ) -> ModelUnavailableError:
    return ModelUnavailableError(N_("SeeSay could not download {model} ({name}): {why}."), _WHAT_TO_DO,
                                 model=Phrase(model.label), name=model.name, why=Phrase(why))


def _hub_error(model: Model, exc: Exception) -> ModelUnavailableError:
    log.error("downloading %s from the hub failed: %r", model.repo, exc)
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    if "OfflineModeIsEnabled" in kinds:
        return _offline(model)
    if "GatedRepoError" in kinds:
        return ModelUnavailableError(
            N_("SeeSay could not download {model} ({name}): the hub lets only signed-in users download it."),
            N_("Accept its terms on the hub and set HF_TOKEN to an access token, or change {setting}."),
            model=Phrase(model.label), name=model.name, setting=model.setting)
    if "RepositoryNotFoundError" in kinds:
        return ModelUnavailableError(
            N_("SeeSay could not download {model}: the Hugging Face hub has no model called {name}."),
            N_("Check the spelling of {setting}, or set it to a folder on this machine."),
            model=Phrase(model.label), name=model.name, setting=model.setting)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return _disk_full(model)
    if "HfHubHTTPError" in kinds:
        return _unreachable(model, N_("the Hugging Face hub answered with an error"))
    return _unreachable(model)


def _disk_full(model: Model) -> ModelUnavailableError:
    return ModelUnavailableError(
        N_("SeeSay could not download {model}: the disk is full."),
        N_("Free some space, or point HF_HOME (and XDG_CACHE_HOME for openai-whisper) at a larger disk, "
           "then download again."), model=Phrase(model.label))


def _network_or_hub(exc: Exception) -> bool:
    """An error of the network, the hub or the disk, as opposed to a bug."""
    if isinstance(exc, OSError):
        return True
    for cls in type(exc).__mro__:
        if cls.__name__ in ("HfHubHTTPError", "OfflineModeIsEnabled") or \
                cls.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "requests", "urllib3"):
            return True
    return False


def _joined(labels: tuple[str, ...], _: Translator) -> str:
    said = [_(label) for label in labels]
    if _.language == "en" or len(said) == 1:
        return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
    from babel.lists import format_list

    return format_list(said, locale=_.language)


def _duration(seconds: float, _: Translator) -> str:
    if seconds < 60:
        return _("{count} seconds", count=max(1, round(seconds))) if seconds >= 1.5 else _("a second")
    minutes = round(seconds / 60)
    return _.ngettext("{count} minute", "{count} minutes", minutes, count=minutes)
