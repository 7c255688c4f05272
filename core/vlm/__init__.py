"""The vision-language model: a photo, the conversation so far and a question in, answer text out.

* :mod:`core.vlm.prompt`  prompt building and answer cleaning, pure text (no torch);
* :mod:`core.vlm.llava`   the ``transformers`` engine: LLaVA, LLaVA-NeXT and LLaVA-Interleave in this
  process, in 4-bit NF4 on CUDA, with the photo's prefix cache and streaming;
* :mod:`core.vlm.remote`  the ``openai`` engine: any OpenAI-compatible ``/v1/chat/completions`` server
  (vLLM, SGLang, ``transformers serve``), over HTTP; no model in this process.

Engines are chosen by name with :func:`load_vlm`. Importing this package imports neither torch nor
transformers: the engine modules do, when a model is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError
from ..i18n import N_
from .prompt import SYSTEM_PROMPT, Turn

if TYPE_CHECKING:
    from ..images import Photo
    from .budget import MemoryBudget
    from .llava import VlmOptions
    from .remote import RemoteOptions

__all__ = ["ENGINES", "QUANTIZATIONS", "DTYPES", "COMPILE", "SYSTEM_PROMPT", "Token", "Turn",
           "VisionLanguageModel", "answers_at_once", "load_vlm"]

#: SEESAY_VLM_ENGINE: the model in this process (transformers), or an OpenAI-compatible server (openai)
ENGINES = ("transformers", "openai")
#: SEESAY_LLAVA_QUANTIZATION: auto (the device's default), 4-bit NF4 through bitsandbytes, or plain weights
QUANTIZATIONS = ("auto", "nf4", "none")
#: SEESAY_LLAVA_DTYPE: the compute dtype
DTYPES = ("auto", "float16", "bfloat16", "float32")
#: SEESAY_LLAVA_COMPILE: a static KV cache and torch.compile for the decoding step (CUDA)
COMPILE = ("auto", "on", "off")


@dataclass(frozen=True)
class Token:
    """One generated token and how sure the model was of it."""

    text: str  # the token as text (may start with a space)
    logprob: float  # natural log of the probability the model gave the token it chose


class VisionLanguageModel(Protocol):
    """What every answering engine offers. Optional work has a capability flag or a method that may do
    nothing, never a method that may be missing: callers do not probe engines."""

    name: str
    can_sample: bool  # True when :meth:`sample` can write an answer again with sampling (the agreement)

    def prepare(self, photo: Photo) -> None:
        """May encode the photo ahead of the question (the answer then starts sooner); may do nothing."""

    def stream(self, photo: Photo, history: Sequence[Turn], question: str, *, max_new_tokens: int,
               min_new_tokens: int = 0, notes: Sequence[str] = (),
               tokens: list[Token] | None = None) -> Iterator[str]:
        """Yields the answer's text piece by piece as it is generated.

        ``notes`` are lines for the model after the question (see :mod:`core.vlm.prompt`). When
        ``tokens`` is a list, an engine that can tell its token probabilities appends a :class:`Token`
        for each generated token by the time the stream ends; others leave it empty.
        """

    def sample(self, photo: Photo, history: Sequence[Turn], question: str, *, max_new_tokens: int,
               notes: Sequence[str] = (), temperature: float = 0.7, seed: int = 0) -> str:
        """The answer written again with sampling instead of greedy choice (the same ``seed``, the same
        answer), for the agreement between a few answers; called only when ``can_sample``."""


def answers_at_once(engine: str) -> int:
    """How many answers the engine ``engine`` writes at once: the in-process model one, a server many."""
    if engine == "openai":
        from .remote import RemoteOptions

        return RemoteOptions().parallel
    return 1


def load_vlm(model: str, *, engine: str = "transformers", device: str = "auto", quantization: str = "auto",
             dtype: str = "auto", compile: bool = False, url: str = "", api_key: str = "",
             options: VlmOptions | RemoteOptions | None = None, budget: MemoryBudget | None = None
             ) -> VisionLanguageModel:
    """The vision-language model ``model`` with the engine ``engine`` (one of :data:`ENGINES`).

    ``transformers``: ``model`` is a hub id or local folder, loaded here. ``device``: auto, cuda or cpu;
    ``quantization``: one of :data:`QUANTIZATIONS`; ``dtype``: one of :data:`DTYPES`; ``compile``: compile
    the decoding step (CUDA only; the first answer is generated at load time so that the compilation is done
    before anyone asks); ``options``: a :class:`~core.vlm.llava.VlmOptions`; ``budget``: the process's
    :class:`~core.vlm.budget.MemoryBudget` its photos' prefixes are kept within.

    ``openai``: ``model`` is the name the server at ``url`` (e.g. ``http://gpu-box:8000/v1``) gives its
    model; ``api_key`` is sent as a bearer token when set; ``options``: a
    :class:`~core.vlm.remote.RemoteOptions`. Nothing is loaded and the server is not contacted until the
    first question, so a server that starts later is found then.

    Raises ConfigError for a setting SeeSay does not know, ModelUnavailableError when the model cannot be
    loaded.
    """
    if engine not in ENGINES:
        raise ConfigError(N_("SeeSay does not know the answering engine {engine}."), N_("Use one of: {names}."),
                          engine=repr(engine), names=", ".join(ENGINES))
    if engine == "openai":
        from .remote import OpenAICompatible, RemoteOptions

        if not url:
            raise ConfigError(N_("The answering engine is openai, but no server address is set."),
                              N_("Set SEESAY_VLM_URL to the server's address, for example http://gpu-box:8000/v1."))
        if options is not None and not isinstance(options, RemoteOptions):
            raise TypeError(f"the openai engine takes RemoteOptions, not {type(options).__name__}")
        return OpenAICompatible(url, model, api_key=api_key, options=options or RemoteOptions())

    from .llava import TransformersLlava, VlmOptions

    if options is not None and not isinstance(options, VlmOptions):
        raise TypeError(f"the transformers engine takes VlmOptions, not {type(options).__name__}")
    options = options or VlmOptions()
    if compile:
        import dataclasses

        options = dataclasses.replace(options, compile=True)
    return TransformersLlava.load(model, device=device, quantization=quantization, dtype=dtype,
                                  options=options, budget=budget)
