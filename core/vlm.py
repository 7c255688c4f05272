"""The vision-language model: a photo, the conversation so far and a question in, answer text out.

One engine, ``transformers``, runs the LLaVA families with their own processors and chat templates:
``LlavaForConditionalGeneration`` (LLaVA 1.5, LLaVA-Interleave) and ``LlavaNextForConditionalGeneration``
(LLaVA-NeXT), chosen from the model's config. On CUDA it loads in 4-bit NF4 through bitsandbytes; on CPU
in bfloat16 or float32 (NF4 works on CPU too).

Speed comes from the prefix cache. Everything in the prompt before the first question (instructions and
the photo's image tokens) is the same for every question about a photo, so :meth:`prepare` runs the
vision tower and the language model over it once and keeps the keys and values; each question about that
photo, the first and every follow-up, then only feeds its own new tokens. The prefix is checked to be a
true token-level prefix of the full prompt; where it is not, the engine falls back to the plain path.

One model object is shared by every session: a lock inside the engine lets one generation run at a time.
Pure helpers (:func:`build_messages`, :func:`clean_answer`, ...) are kept apart and tested without a model.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigError, GenerationError, ModelUnavailableError

if TYPE_CHECKING:
    from .images import Photo

__all__ = [
    "ENGINES",
    "SYSTEM_PROMPT",
    "AnswerStream",
    "TransformersLlava",
    "Turn",
    "VisionLanguageModel",
    "VlmOptions",
    "build_messages",
    "clean_answer",
    "common_prefix_length",
    "detect_system_role",
    "load_vlm",
    "strip_control_tokens",
]

log = logging.getLogger(__name__)

ENGINES = ("transformers",)
DEVICES = ("auto", "cuda", "cpu")
QUANTIZATIONS = ("auto", "nf4", "none")
DTYPES = ("auto", "float16", "bfloat16", "float32")
# model_type in the model's config -> transformers class that runs it
FAMILIES = {"llava": "LlavaForConditionalGeneration", "llava_next": "LlavaNextForConditionalGeneration"}

SYSTEM_PROMPT = (
    "You describe photos for a person who is blind or has low vision and will hear your answer read aloud. "
    "Say the most important thing first. "
    "Read any visible text word for word. "
    "If you are not sure about something, say that you are not sure; never guess. "
    "Keep the answer short, two or three sentences, unless the person asks for more detail. "
    "Answer in the language of the question. "
    "Do not use markdown, headings or lists with symbols: "
    "write plain sentences that sound natural when spoken."
)

OUT_OF_MEMORY = ("The model ran out of memory while answering.",
                 "Please ask again, perhaps for a shorter answer.")
MODEL_HINT = ("Point SEESAY_LLAVA_MODEL at a downloaded model folder, "
              "or connect to the internet for the first start.")


@dataclass(frozen=True)
class Turn:
    """One earlier question about the photo and the answer it got."""

    question: str
    answer: str


class VisionLanguageModel(Protocol):
    name: str

    def prepare(self, photo: Photo) -> None:
        """May encode the photo ahead of the question (the answer then starts sooner)."""

    def stream(self, photo: Photo, history: Sequence[Turn], question: str, *,
               max_new_tokens: int, min_new_tokens: int = 0) -> Iterator[str]:
        """Yields the answer's text piece by piece as it is generated."""


@dataclass(frozen=True)
class VlmOptions:
    """How the transformers engine answers."""

    system_prompt: str = SYSTEM_PROMPT  # instructions for every conversation
    prefix_photos: int = 4  # photos whose prefix cache is kept (least recently used dropped); 0 = no cache
    repetition_penalty: float = 1.1  # > 1 discourages the loops small models fall into
    poll_seconds: float = 0.5  # how often a waiting reader checks that generation is still alive
    stall_seconds: float = 600.0  # no new text for this long: generation is given up as stuck
    # Compiled decoding (CUDA): a static KV cache of this many tokens (it grows, with one recompilation,
    # for a longer conversation) and torch.compile of the decoding step; the photo's prefix cache is not
    # used then (on a GPU the whole prompt prefills in under 0.1 s).
    compile: bool = False
    static_cache_tokens: int = 2048


# --- pure helpers ----------------------------------------------------------------------------


def build_messages(history: Sequence[Turn], question: str, *, system_prompt: str,
                   has_system_role: bool) -> list[dict]:
    """Chat messages in the processors' format; the image goes in the first user turn only.

    Without a system role in the chat template, the instructions open the first user turn's text.
    """

    def text(value: str) -> dict:
        return {"type": "text", "text": value}

    messages: list[dict] = []
    if system_prompt and has_system_role:
        messages.append({"role": "system", "content": [text(system_prompt)]})
    questions = [turn.question for turn in history] + [question]
    answers = [turn.answer for turn in history]
    for i, asked in enumerate(questions):
        if i == 0:
            if system_prompt and not has_system_role:
                asked = f"{system_prompt}\n\n{asked}"
            messages.append({"role": "user", "content": [{"type": "image"}, text(asked)]})
        else:
            messages.append({"role": "user", "content": [text(asked)]})
        if i < len(answers):
            messages.append({"role": "assistant", "content": [text(answers[i])]})
    return messages


def detect_system_role(render: Callable[[list[dict]], str]) -> bool:
    """Whether a chat template (``render(messages) -> prompt``) gives system messages a place of their own.

    Some templates raise on a system message, some drop it, some render it as if it were an
    assistant or user turn (Vicuna-style ``USER:``/``ASSISTANT:`` ones): none of those has one.
    """
    probe = "Seesay probe instructions."
    question = {"type": "text", "text": "Seesay probe question?"}
    user = {"role": "user", "content": [{"type": "image"}, question]}

    def as_role(role: str) -> str | None:
        try:
            return render([{"role": role, "content": [{"type": "text", "text": probe}]}, user])
        except Exception:  # templates refuse what they do not support, in their own ways
            return None

    system = as_role("system")
    if system is None or probe not in system:
        return False
    return system != as_role("assistant") and system != as_role("user")


_CONTROL_MARKUP = re.compile(r"<\|[^|<>\s]{1,40}\|>")  # ChatML-style control tokens, e.g. <|im_start|>


def strip_control_tokens(text: str, tokens: Sequence[str] = ()) -> str:
    """``text`` with the model's control tokens removed, so a question cannot forge turns or images."""
    for token in sorted((t for t in tokens if t), key=len, reverse=True):
        text = text.replace(token, " ")
    return _CONTROL_MARKUP.sub(" ", text)


_SPECIAL = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|<image>|<unk>|<pad>")
_UNSPEAKABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")  # control bytes, undecodable bytes
_LEADING_ROLE = re.compile(r"^\s*(?:(?:assistant|gpt)\s*(?::|\n)\s*)+", re.IGNORECASE)
_NEXT_TURN = re.compile(r"\b(?:USER|ASSISTANT)\s*:")  # upper case only: read-out text may say "User:"
_BOLD = re.compile(r"\*\*|__|`+")
_LINE_MARK = re.compile(r"(?m)^[ \t]*(?:#{1,6}[ \t]+|[-*•][ \t]+)")


def clean_answer(text: str) -> str:
    """The model's answer made ready to show and speak.

    Drops leftover control tokens and role tags (and anything after the model starts a new turn by
    itself), markdown emphasis, headings and list bullets, and collapses all whitespace.
    """
    text = _SPECIAL.sub(" ", _UNSPEAKABLE.sub("", text))
    text = _LEADING_ROLE.sub("", text)
    cut = _NEXT_TURN.search(text)
    if cut:
        text = text[:cut.start()]
    text = _LINE_MARK.sub("", _BOLD.sub("", text))
    return " ".join(text.split())


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading items all ``sequences`` share."""
    if not sequences:
        return 0
    n = 0
    for items in zip(*sequences):
        if any(item != items[0] for item in items[1:]):
            break
        n += 1
    return n


class AnswerStream:
    """Turns raw decoded pieces into clean pieces, as :func:`clean_answer` would clean the whole.

    Text is passed on as soon as cleaning can no longer change it: only a tail that might still become
    a role tag or markdown is held back. ``stopped`` turns true when the model starts a new turn by
    itself, so generation can end there.
    """

    _HOLD_CHARS = "*_#`-•"
    _TAGS = ("USER:", "ASSISTANT:", "ASSISTANT\n", "GPT:")

    def __init__(self) -> None:
        self.raw = ""
        self.sent = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        self.raw += piece
        if _NEXT_TURN.search(_LEADING_ROLE.sub("", _SPECIAL.sub(" ", _UNSPEAKABLE.sub("", self.raw)))):
            self.stopped = True
        return self._emit(self._stable(clean_answer(self.raw)))

    def finish(self) -> str:
        return self._emit(clean_answer(self.raw))

    def _stable(self, clean: str) -> str:
        # hold back a tail that is the start of a role tag ("U", "ASSIST", ...) or markdown
        hold = 0
        upper = clean.upper()
        for tag in self._TAGS:
            for n in range(min(len(tag), len(clean)), 0, -1):
                if upper.endswith(tag[:n]) and n > hold:
                    hold = n
                    break
        end = len(clean) - hold
        while end > 0 and clean[end - 1] in self._HOLD_CHARS:
            end -= 1
        opening = clean.rfind("<", 0, end)  # a control token may be half written: "<|im_e"
        if opening != -1 and ">" not in clean[opening:end] and end - opening <= 44:
            end = opening
        return clean[:end].rstrip()

    def _emit(self, clean: str) -> str:
        if not clean.startswith(self.sent) or len(clean) <= len(self.sent):
            return ""
        new = clean[len(self.sent):]
        self.sent = clean
        return new


# --- loading ---------------------------------------------------------------------------------


def load_vlm(model: str, *, device: str, quantization: str, dtype: str, engine: str = "transformers",
             compile: bool = False, options: VlmOptions | None = None) -> VisionLanguageModel:
    """Load the vision-language model ``model`` (hub id or local folder).

    ``device``: auto, cuda or cpu; ``quantization``: auto (nf4 on CUDA, none on CPU), nf4 or none;
    ``dtype``: auto, float16, bfloat16 or float32; ``compile``: compile the decoding step (CUDA only;
    the first answer is generated at load time so that the compilation is done before anyone asks).
    Raises ConfigError for a setting SeeSay does not know, ModelUnavailableError when the model
    cannot be loaded.
    """
    if engine not in ENGINES:
        raise ConfigError(f"SeeSay does not know the answering engine {engine!r}.",
                          f"Use one of: {', '.join(ENGINES)}.")
    options = options or VlmOptions()
    if compile:
        options = dataclasses.replace(options, compile=True)
    return TransformersLlava.load(model, device=device, quantization=quantization, dtype=dtype,
                                  options=options)


def _check_choice(value: str, choices: tuple[str, ...], variable: str) -> str:
    if value not in choices:
        raise ConfigError(f"The setting {variable} is {value!r}, which SeeSay does not know.",
                          f"Use one of: {', '.join(choices)}.")
    return value


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", "\\")) or model.count("/") > 1 or ":" in model[:3]


def _unavailable(model: str, exc: BaseException | None, message: str, hint: str = MODEL_HINT):
    log.error("could not load the LLaVA model %s: %s", model, exc if exc else message,
              exc_info=exc if exc is not None else None)
    return ModelUnavailableError(message, hint)


# What transformers, huggingface_hub and safetensors raise for missing, unreachable or damaged models.
def _loading_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, ValueError, RuntimeError, KeyError, EOFError, MemoryError]
    try:
        from safetensors import SafetensorError
        errors.append(SafetensorError)
    except ImportError:
        pass
    try:
        from huggingface_hub.errors import HfHubHTTPError
        errors.append(HfHubHTTPError)
    except ImportError:
        pass
    return tuple(errors)


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _release_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _fork_cache(cache: Any) -> Any:
    """A cache that starts with ``cache``'s tokens and grows on its own, leaving ``cache`` as it is.

    generate() extends the cache it is given. A plain DynamicLayer grows by concatenating into new
    tensors and never writes into the ones it holds, so layer objects of its own sharing the prefix's
    tensors are enough (a deep copy costs ~0.1-0.4 s per question for the CPU default's 1000-token
    prefix). Any other kind of layer gets a deep copy.
    """
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return copy.deepcopy(cache)
    if not all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None])):
        return copy.deepcopy(cache)
    fork = copy.copy(cache)
    fork.layers = [copy.copy(layer) for layer in cache.layers]
    return fork


class _Worker:
    """One daemon thread, started by the first job, that runs the jobs given to it in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, job: Callable[[], None]) -> threading.Event:
        """Queues ``job``; the event is set when it has run."""
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="seesay-generate", daemon=True)
                self._thread.start()
        done = threading.Event()
        self._jobs.put((job, done))
        return done

    def _run(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                job()
            finally:
                done.set()


@dataclass
class _Prefix:
    ids: list[int]  # the prompt's first tokens, image tokens expanded: the part held in ``cache``
    cache: Any  # DynamicCache with the keys and values of ``ids``
    image_tokens: int  # how many image placeholder tokens this photo expands to


class TransformersLlava:
    """LLaVA, LLaVA-NeXT and LLaVA-Interleave through transformers. Build it with :meth:`load`."""

    name = "transformers"

    def __init__(self, model: Any, processor: Any, *, model_id: str = "", options: VlmOptions = VlmOptions()):
        import torch

        self.model_id = model_id
        if options.compile:
            options = dataclasses.replace(options, prefix_photos=0)
        self.options = options
        self.family = model.config.model_type
        self._model = model
        self._processor = processor
        self._tokenizer = processor.tokenizer
        self._image_token = processor.image_token
        self._image_token_id = model.config.image_token_id
        self._lock = threading.Lock()  # one generation at a time on the shared model
        # Every generation runs on this one thread: compiled CUDA graphs belong to the thread that
        # recorded them, so a new thread per answer would record them again.
        self._worker = _Worker()
        self._prefixes: OrderedDict[str, _Prefix] = OrderedDict()
        self._device = model.device
        # the vision tower's dtype (quantized weights are integers: skip them)
        self._pixel_dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()),
                                 torch.float32)
        # transformers renamed ``past_key_values`` to ``cache``; use whichever this version knows
        import inspect

        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._control_tokens = sorted(set(self._tokenizer.all_special_tokens) | {self._image_token})
        self.has_system_role = detect_system_role(self._render)
        self._generation_config = self._greedy_config(model.generation_config)
        if options.compile:
            self._compile_decoding()

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, model: str, *, device: str = "auto", quantization: str = "auto", dtype: str = "auto",
             options: VlmOptions = VlmOptions()) -> TransformersLlava:
        import torch

        device = _check_choice(device, DEVICES, "SEESAY_DEVICE")
        quantization = _check_choice(quantization, QUANTIZATIONS, "SEESAY_LLAVA_QUANTIZATION")
        dtype = _check_choice(dtype, DTYPES, "SEESAY_LLAVA_DTYPE")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("SEESAY_DEVICE is cuda, but SeeSay finds no GPU it can use on this computer.",
                              "Set SEESAY_DEVICE to cpu or auto.")
        if options.compile and device != "cuda":
            raise ConfigError("SEESAY_LLAVA_COMPILE is on, but compiled decoding needs a CUDA GPU.",
                              "Set SEESAY_LLAVA_COMPILE to auto or off.")
        if quantization == "auto":
            quantization = "nf4" if device == "cuda" else "none"
        if dtype == "auto":
            from .config import cpu_has_native_bf16

            dtype = "float16" if device == "cuda" else ("bfloat16" if cpu_has_native_bf16() else "float32")
        torch_dtype = getattr(torch, dtype)

        path = Path(model).expanduser()
        if path.exists():
            if not (path / "config.json").is_file():
                raise _unavailable(model, None,
                                   "The answering model's folder is incomplete: it has no settings file.",
                                   "Download the model again, or point SEESAY_LLAVA_MODEL at a complete "
                                   "model folder.")
            model = str(path)
        elif _looks_like_path(model):
            raise _unavailable(model, None, "The answering model's folder is not on this computer.")

        import transformers

        errors = _loading_errors()
        try:
            config = transformers.AutoConfig.from_pretrained(model)
        except errors as exc:
            raise _unavailable(model, exc, "The answering model could not be found on this computer "
                                           "or downloaded.") from exc
        family = config.model_type
        if family not in FAMILIES:
            raise _unavailable(model, None,
                               f"The answering model is a {family} model, which SeeSay cannot use.",
                               "Set SEESAY_LLAVA_MODEL to a LLaVA, LLaVA-NeXT or LLaVA-Interleave model, "
                               "for example llava-hf/llava-interleave-qwen-0.5b-hf.")
        model_class = getattr(transformers, FAMILIES[family])

        kwargs: dict[str, Any] = {"dtype": torch_dtype}
        if device == "cuda":
            kwargs["device_map"] = "auto"  # accelerate places the layers, spilling to CPU only if it must
        if quantization == "nf4":
            try:
                import bitsandbytes  # noqa: F401
            except ImportError as exc:
                raise _unavailable(model, exc, "4-bit loading needs the bitsandbytes package, which is not "
                                               "installed.", "Install bitsandbytes, or set "
                                               "SEESAY_LLAVA_QUANTIZATION to none.") from exc
            kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                # fp16 on CUDA as the cards compute it fastest; the chosen dtype on CPU
                bnb_4bit_compute_dtype=(torch.float16 if device == "cuda" and dtype == "float32"
                                        else torch_dtype))
        t0 = time.perf_counter()
        try:
            vlm = model_class.from_pretrained(model, **kwargs)
            processor = transformers.AutoProcessor.from_pretrained(model)
        except errors as exc:
            if _is_out_of_memory(exc):
                _release_memory()
                raise _unavailable(model, exc, "There is not enough memory to load the answering model.",
                                   "Close other programs, use 4-bit loading (SEESAY_LLAVA_QUANTIZATION nf4), "
                                   "or point SEESAY_LLAVA_MODEL at a smaller model.") from exc
            raise _unavailable(model, exc, "The answering model's files are missing, damaged or incomplete.",
                               "Download the model again, or point SEESAY_LLAVA_MODEL at a complete model "
                               "folder, or connect to the internet for the first start.") from exc
        vlm.eval()
        log.info("loaded %s (%s, %s, %s, %s) in %.1fs", model, family, device, quantization, dtype,
                 time.perf_counter() - t0)
        engine = cls(vlm, processor, model_id=model, options=options)
        if options.compile:
            engine.warm_up()
        return engine

    def warm_up(self) -> float:
        """Answer a blank photo twice (compiles the decoding step when compiling); returns seconds."""
        from PIL import Image

        from .images import Photo

        image = Image.new("RGB", (336, 336), (128, 128, 128))
        t0 = time.perf_counter()
        for _ in range(2):  # the second run settles the CUDA graphs recorded in the first
            for _ in self.stream(Photo(image=image, original_size=image.size, format="PNG", key="seesay-warm-up"),
                                 [], "What is in the photo?", max_new_tokens=8, min_new_tokens=8):
                pass
        seconds = time.perf_counter() - t0
        log.info("warmed up in %.1fs", seconds)
        return seconds

    @property
    def model(self) -> Any:
        """The transformers model (shared, read-only use: benchmarks, checks)."""
        return self._model

    @property
    def processor(self) -> Any:
        """The transformers processor (tokenizer and image processor)."""
        return self._processor

    @property
    def compiled(self) -> bool:
        """True once generate() has compiled the decoding step."""
        return hasattr(self._model, "_compiled_call")

    # -- the protocol ---------------------------------------------------------------------------

    def prepare(self, photo: Photo) -> None:
        """Encode the photo and its prompt prefix now, so the answer starts sooner."""
        with self._lock:
            self._guarded(lambda: self._prefix(photo))

    def stream(self, photo: Photo, history: Sequence[Turn], question: str, *,
               max_new_tokens: int, min_new_tokens: int = 0) -> Iterator[str]:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
        prompt = self.prompt(history, question)
        with self._lock:
            inputs = self._guarded(lambda: self._inputs(photo, prompt))
            yield from self._generate(inputs, max_new_tokens, min(min_new_tokens, max_new_tokens))

    # -- prompts --------------------------------------------------------------------------------

    def prompt(self, history: Sequence[Turn], question: str) -> str:
        """The prompt text for ``question`` (image placeholder not yet expanded)."""
        def clean(text: str) -> str:
            return " ".join(strip_control_tokens(text, self._control_tokens).split())

        turns = [Turn(clean(turn.question), clean(turn.answer)) for turn in history]
        messages = build_messages(turns, clean(question), system_prompt=self.options.system_prompt,
                                  has_system_role=self.has_system_role)
        return self._render(messages)

    def _render(self, messages: list[dict]) -> str:
        return self._processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _encode(self, prompt: str, image_tokens: int) -> list[int]:
        """Token ids of ``prompt`` with its image placeholder expanded, as the processor expands it."""
        expanded = prompt.replace(self._image_token, self._image_token * image_tokens)
        return list(self._tokenizer(expanded)["input_ids"])

    # -- prefix cache -------------------------------------------------------------------------

    def _prefix(self, photo: Photo) -> _Prefix | None:
        """The photo's prefix cache, computed now if it is not kept already. None: not usable."""
        if self.options.prefix_photos <= 0:
            return None
        prefix = self._prefixes.get(photo.key)
        if prefix is not None:
            self._prefixes.move_to_end(photo.key)
            return prefix
        prefix = self._compute_prefix(photo)
        if prefix is not None:
            self._prefixes[photo.key] = prefix
            while len(self._prefixes) > self.options.prefix_photos:
                self._prefixes.popitem(last=False)
        return prefix

    def _compute_prefix(self, photo: Photo) -> _Prefix | None:
        import torch

        # The prompt up to where the first question starts, found with sentinel questions that begin
        # differently (letter, digit, punctuation), so that a question cannot merge with the last
        # prefix token whatever its first character is.
        sentinels = ("Seesay", "7 seesay", "¿Seesay")
        prompts = [self.prompt([], s) for s in sentinels]
        if prompts[0].count(sentinels[0]) != 1:
            return None
        head = prompts[0][:prompts[0].index(sentinels[0])]
        encoded = self._processor(text=head, images=photo.image, return_tensors="pt")
        head_ids = encoded["input_ids"][0].tolist()
        image_tokens = head_ids.count(self._image_token_id)
        if image_tokens == 0 or self._encode(head, image_tokens) != head_ids:
            log.warning("prefix cache off for this photo: "
                        "the processor does not expand the image as expected")
            return None
        length = common_prefix_length([head_ids] + [self._encode(p, image_tokens) for p in prompts])
        if length <= max(i for i, t in enumerate(head_ids) if t == self._image_token_id):
            log.warning("prefix cache off for this photo: the image tokens are not a clean prefix")
            return None
        ids = head_ids[:length]

        from transformers import DynamicCache

        cache = DynamicCache(config=self._model.config)
        images = {k: encoded[k].to(self._device) for k in ("pixel_values", "image_sizes") if k in encoded}
        images["pixel_values"] = images["pixel_values"].to(self._pixel_dtype)
        t0 = time.perf_counter()
        with torch.inference_mode():
            self._model(input_ids=torch.tensor([ids], device=self._device),
                        attention_mask=torch.ones(1, length, dtype=torch.long, device=self._device),
                        use_cache=True, logits_to_keep=1, **{self._cache_arg: cache}, **images)
        log.info("photo prefix of %d tokens (%d image tokens) encoded in %.2fs", length, image_tokens,
                 time.perf_counter() - t0)
        return _Prefix(ids, cache, image_tokens)

    def _inputs(self, photo: Photo, prompt: str) -> dict:
        """generate() arguments for ``prompt``: from the photo's prefix cache when it fits, else plain."""
        import torch

        prefix = self._prefix(photo)
        if prefix is not None:
            ids = self._encode(prompt, prefix.image_tokens)
            if ids[:len(prefix.ids)] == prefix.ids and len(ids) > len(prefix.ids):
                return {
                    "input_ids": torch.tensor([ids], device=self._device),
                    "attention_mask": torch.ones(1, len(ids), dtype=torch.long, device=self._device),
                    self._cache_arg: _fork_cache(prefix.cache),
                }
            log.info("prompt does not start with the photo's cached prefix; encoding it whole")
        inputs = self._processor(text=prompt, images=photo.image, return_tensors="pt")
        inputs = {k: v.to(self._device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self._pixel_dtype)
        return inputs

    # -- generation -----------------------------------------------------------------------------

    def _greedy_config(self, base: Any) -> Any:
        config = copy.deepcopy(base)
        config.do_sample = False
        config.num_beams = 1
        config.repetition_penalty = self.options.repetition_penalty
        # sampling settings a checkpoint ships would only trigger warnings under greedy decoding
        config.temperature = config.top_p = config.top_k = None
        return config

    def _compile_decoding(self) -> None:
        """Static KV cache + torch.compile for the decoding step (transformers compiles it in generate()).

        transformers refuses to compile models that bitsandbytes quantized on load (its quantizer says
        "not compileable"), yet bitsandbytes' 4-bit layers compile: on an H100, LLaVA-1.5-7B in NF4 decodes
        123 tokens/s compiled against 31 plain (docs/bench/gpu.md). The check is asked without the quantizer.
        """
        from transformers import CompileConfig

        config = self._generation_config
        config.cache_implementation = "static"
        config.max_cache_len = self.options.static_cache_tokens
        config.compile_config = CompileConfig(fullgraph=False, mode="reduce-overhead")
        model = self._model
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is None or quantizer.is_compileable:
            return
        criteria = type(model)._valid_auto_compile_criteria

        def without_quantizer_veto(model_kwargs: dict, generation_config: Any) -> bool:
            model.hf_quantizer = None  # generation holds the engine's lock: nothing else reads it now
            try:
                return criteria(model, model_kwargs, generation_config)
            finally:
                model.hf_quantizer = quantizer

        model._valid_auto_compile_criteria = without_quantizer_veto

    def _guarded(self, work: Callable[[], Any]) -> Any:
        """Runs ``work``; running out of memory becomes a GenerationError and frees what it can."""
        try:
            return work()
        except Exception as exc:
            if _is_out_of_memory(exc):
                raise self._out_of_memory(exc) from exc
            raise

    def _out_of_memory(self, exc: BaseException) -> GenerationError:
        log.error("out of memory while answering: %s", exc)
        self._prefixes.clear()  # the cached prefixes are the memory we can give back
        _release_memory()
        return GenerationError(*OUT_OF_MEMORY)

    def _generate(self, inputs: dict, max_new_tokens: int, min_new_tokens: int) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stop = threading.Event()

        class _StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool,
                                  device=input_ids.device)

        # The timeout makes the reader wake up now and then to check that the worker is still alive.
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.options.poll_seconds)
        failure: list[BaseException] = []
        config = copy.deepcopy(self._generation_config)
        config.max_new_tokens, config.min_new_tokens = max_new_tokens, min_new_tokens
        kwargs = dict(inputs, streamer=streamer, generation_config=config,
                      stopping_criteria=StoppingCriteriaList([_StopWhenAsked()]))

        def work() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(**kwargs)
            except BaseException as exc:  # handed to the reader, which raises it
                failure.append(exc)
                try:
                    streamer.end()
                except Exception:
                    pass  # the reader notices the thread has ended

        answer = AnswerStream()
        stalled = False
        t0 = last = time.perf_counter()
        done = self._worker.submit(work)
        try:
            while True:
                try:
                    piece = next(streamer)
                except StopIteration:
                    break
                except queue.Empty:
                    if done.is_set():
                        break
                    if time.perf_counter() - last > self.options.stall_seconds:
                        stalled = True
                        raise GenerationError("The model stopped answering.", "Please ask again.")
                    continue
                last = time.perf_counter()
                text = answer.feed(piece)
                if answer.stopped:
                    stop.set()
                if text:
                    yield text
            done.wait()
            if failure:
                if _is_out_of_memory(failure[0]):
                    raise self._out_of_memory(failure[0]) from failure[0]
                raise failure[0]
            rest = answer.finish()
            if rest:
                yield rest
            log.info("answer of %d characters in %.2fs", len(answer.sent), time.perf_counter() - t0)
        finally:
            stop.set()  # also when the reader leaves early: the model stops at the next token
            if not done.wait(timeout=5 if stalled else None):
                self._worker = _Worker()  # the stuck one is abandoned; the next answer starts afresh
