"""The ``transformers`` engine: LLaVA, LLaVA-NeXT and LLaVA-Interleave in this process.

It runs the LLaVA families with their own processors and chat templates:
``LlavaForConditionalGeneration`` (LLaVA 1.5, LLaVA-Interleave) and ``LlavaNextForConditionalGeneration``
(LLaVA-NeXT), chosen from the model's config (:mod:`core.vlm.loading`). On CUDA it loads in 4-bit NF4
through bitsandbytes; on CPU in bfloat16 or float32 (NF4 works on CPU too).

Speed comes from the prefix cache. Everything in the prompt before the first question (instructions and
the photo's image tokens) is the same for every question about a photo, so :meth:`prepare` runs the
vision tower and the language model over it once and keeps the keys and values; each question about that
photo, the first and every follow-up, then only feeds its own new tokens. The prefix is checked to be a
true token-level prefix of the full prompt; where it is not, the engine falls back to the plain path.

One model object is shared by every session: a lock inside the engine lets one generation run at a time,
and every generation runs on one thread of the engine's own.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import GenerationError
from ..i18n import N_
from ..memory import give_back
from . import Token
from .budget import MemoryBudget
from .loading import is_out_of_memory, load_llava, release_memory
from .prefix import (MIN_HEAD_TOKENS, Prefix, cache_bytes, cut, encode, expected_bytes, fork_cache, grow_in_place,
                     lendable)
from .worker import Worker, record_choices, stop_when
from .prompt import (SYSTEM_PROMPT, AnswerStream, Turn, build_messages, common_prefix_length, detect_system_role,
                     strip_control_tokens)

if TYPE_CHECKING:
    from ..images import Photo

__all__ = ["Prefix", "TransformersLlava", "VlmOptions"]

log = logging.getLogger(__name__)

OUT_OF_MEMORY = (N_("The model ran out of memory while answering."),
                 N_("Please ask again, perhaps for a shorter answer."))


@dataclass(frozen=True)
class VlmOptions:
    """How the transformers engine answers."""

    system_prompt: str = SYSTEM_PROMPT  # instructions for every conversation
    # photos whose prefix cache is kept (least recently used dropped); 0 = no cache. Each costs 100 MB on
    # the CPU default (1017 tokens of bfloat16 keys and values): two, the photo asked about and the one
    # before it, keep the CPU default's process near 3 GB (four: 3.2 GB, bench/memory.py).
    prefix_photos: int = 2
    repetition_penalty: float = 1.1  # > 1 discourages the loops small models fall into
    poll_seconds: float = 0.5  # how often a waiting reader checks that generation is still alive
    # torch's threads, for the whole process (torch.set_num_threads); 0 = torch's default, one per core.
    # On 2 cores the CPU default decoded 18.2 tokens/s on both, 14.7 on one; with the voice speaking at
    # the same time 14.9 against 14.4 (bench/threads.py): decoding keeps both.
    threads: int = 0
    stall_seconds: float = 600.0  # no new text for this long: generation is given up as stuck
    # Compiled decoding (CUDA): a static KV cache of this many tokens (it grows, with one recompilation,
    # for a longer conversation) and torch.compile of the decoding step; the photo's prefix cache is not
    # used then (on a GPU the whole prompt prefills in under 0.1 s).
    compile: bool = False
    static_cache_tokens: int = 2048
    halves: bool = True  # on CPU, one of the model's halves resident at a time while a photo is read (core.vlm.halves)


class TransformersLlava:
    """LLaVA, LLaVA-NeXT and LLaVA-Interleave through transformers. Build it with :meth:`load`."""

    name = "transformers"
    can_sample = True

    def __init__(self, model: Any, processor: Any, *, model_id: str = "", options: VlmOptions = VlmOptions(),
                 budget: MemoryBudget | None = None):
        import torch

        self.model_id = model_id
        if options.compile:
            options = dataclasses.replace(options, prefix_photos=0)
        self.options = options
        self.family = model.config.model_type
        self._model = model
        self._processor = processor
        self._tokenizer = processor.tokenizer
        self.image_token = processor.image_token  # the placeholder the processor expands into image tokens
        self.image_token_id = model.config.image_token_id
        self._lock = threading.Lock()  # one generation at a time on the shared model
        # Every generation runs on this one thread: compiled CUDA graphs belong to the thread that
        # recorded them, so a new thread per answer would record them again.
        self._worker = Worker()
        self._prefixes: OrderedDict[str, Prefix] = OrderedDict()
        self._opening: Prefix | None = None  # the instructions' prefix, shared by every photo's
        self._lent: tuple | None = None  # (photo key, Prefix, worker): the prefix the answer being written uses
        self._device = model.device
        # every photo's kept state, in this process (SEESAY_MEMORY_BUDGET_MB; without one: accounted only)
        self.budget = budget or MemoryBudget()
        self._prefix_size = 0  # bytes of the last photo's prefix: what the next one will need
        from .halves import Halves  # on CPU, the model's halves take turns while a photo is read

        self.halves = Halves.attach(model) if options.halves and self._device.type == "cpu" else None
        # the vision tower's dtype (quantized weights are integers: skip them)
        self._pixel_dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()),
                                 torch.float32)
        # transformers renamed ``past_key_values`` to ``cache``; use whichever this version knows
        import inspect

        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._control_tokens = sorted(set(self._tokenizer.all_special_tokens) | {self.image_token})
        self.has_system_role = detect_system_role(self._render)
        self._generation_config = self._greedy_config(model.generation_config)
        if options.compile:
            self._compile_decoding()

    @classmethod
    def load(cls, model: str, *, device: str = "auto", quantization: str = "auto", dtype: str = "auto",
             options: VlmOptions = VlmOptions(), budget: MemoryBudget | None = None) -> TransformersLlava:
        """Load ``model`` (see :func:`core.vlm.loading.load_llava`); compiled engines warm up here."""
        if options.threads > 0:
            import torch

            torch.set_num_threads(options.threads)
        vlm, processor, model_id = load_llava(model, device=device, quantization=quantization, dtype=dtype,
                                              compile=options.compile)
        engine = cls(vlm, processor, model_id=model_id, options=options, budget=budget)
        if options.compile:
            engine.warm_up()
        return engine

    def warm_up(self) -> float:
        """Answer a blank photo twice (compiles the decoding step when compiling); returns seconds."""
        from PIL import Image

        from ..images import Photo

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

    @property
    def generation_config(self) -> Any:
        """The greedy generation settings every answer starts from."""
        return self._generation_config

    @property
    def busy(self) -> bool:
        """True while an answer is being generated or a photo prepared."""
        return self._lock.locked()

    def kept_photos(self) -> list[str]:
        """Keys of the photos whose prefix is kept, least recently used first."""
        return list(self._prefixes)

    @property
    def head_tokens(self) -> int:
        """Tokens of the instructions' prefix, encoded once and shared by every photo (0: none yet)."""
        return len(self._opening.ids) if self._opening else 0

    def kept_prefix(self, key: str) -> Prefix | None:
        """The kept prefix of the photo ``key``, if any (read-only use: checks and benchmarks)."""
        return self._prefixes.get(key)

    def image_tokens(self, photo: Photo) -> int:
        """How many image tokens the processor expands ``photo`` to (LLaVA-NeXT: depends on its size)."""
        encoded = self._processor(text=self.image_token, images=photo.image, return_tensors="pt")
        return encoded["input_ids"][0].tolist().count(self.image_token_id)

    # -- the protocol ---------------------------------------------------------------------------

    def prepare(self, photo: Photo) -> None:
        """Encode the photo and its prompt prefix now, so the answer starts sooner."""
        with self._lock:
            self._guarded(lambda: self._prefix(photo))

    def stream(self, photo: Photo, history: Sequence[Turn], question: str, *, max_new_tokens: int,
               min_new_tokens: int = 0, notes: Sequence[str] = (),
               tokens: list[Token] | None = None) -> Iterator[str]:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
        prompt = self.prompt(history, question, notes)
        with self._lock:
            inputs = self._guarded(lambda: self._inputs(photo, prompt, max_new_tokens))
            try:
                yield from self._generate(inputs, max_new_tokens, min(min_new_tokens, max_new_tokens), tokens)
            finally:
                self._return_prefix()

    def sample(self, photo: Photo, history: Sequence[Turn], question: str, *, max_new_tokens: int,
               notes: Sequence[str] = (), temperature: float = 0.7, seed: int = 0) -> str:
        """One answer written with sampling instead of greedy choice (the same ``seed``, the same answer):
        for the agreement between a few answers (core.confidence.agreement)."""
        prompt = self.prompt(history, question, notes)
        with self._lock:
            inputs = self._guarded(lambda: self._inputs(photo, prompt, max_new_tokens))
            sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95, "seed": seed}
            try:
                return "".join(self._generate(inputs, max_new_tokens, 0, sampling=sampling))
            finally:
                self._return_prefix()

    # -- prompts --------------------------------------------------------------------------------

    def prompt(self, history: Sequence[Turn], question: str, notes: Sequence[str] = ()) -> str:
        """The prompt text for ``question`` (image placeholder not yet expanded)."""
        def clean(text: str) -> str:
            return " ".join(strip_control_tokens(text, self._control_tokens).split())

        turns = [Turn(clean(turn.question), clean(turn.answer)) for turn in history]
        messages = build_messages(turns, clean(question), system_prompt=self.options.system_prompt,
                                  has_system_role=self.has_system_role, notes=[clean(n) for n in notes])
        return self._render(messages)

    def _render(self, messages: list[dict]) -> str:
        return self._processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def token_ids(self, prompt: str, image_tokens: int) -> list[int]:
        """Token ids of ``prompt`` with its image placeholder expanded, as the processor expands it."""
        expanded = prompt.replace(self.image_token, self.image_token * image_tokens)
        return list(self._tokenizer(expanded)["input_ids"])

    # -- prefix cache -------------------------------------------------------------------------

    def _prefix(self, photo: Photo) -> Prefix | None:
        """The photo's prefix cache, computed now if it is not kept already. None: not usable."""
        if self.options.prefix_photos <= 0:
            return None
        prefix = self._prefixes.get(photo.key)
        if prefix is not None:
            self._prefixes.move_to_end(photo.key)
            self.budget.used(photo.key, "prefix")
            return prefix
        while len(self._prefixes) >= self.options.prefix_photos:  # room first: never one photo too many
            self.budget.forget(self._prefixes.popitem(last=False)[0], "prefix")
        # room in the process's memory budget too, freeing other photos' (core.vlm.budget): raises
        # GenerationError when there is none. The count above stays: with up to 8 photos kept as the budget
        # allowed, 3 visitors peaked at 2.66 GB against 2.44 (budget 2300, bench/cloud.py), since the
        # budget sees the memory between answers and the text reader's and answer's working memory come on top
        self.budget.make_room(self._prefix_size or expected_bytes(self._model.config, self._pixel_dtype), photo.key)
        prefix = self._compute_prefix(photo)
        if prefix is not None:
            self._prefixes[photo.key] = prefix
            self._prefix_size = cache_bytes(prefix.cache)
            self.budget.keep(photo.key, "prefix", self._prefix_size, lambda: self._free_prefix(photo.key))
        return prefix

    def _free_prefix(self, key: str) -> None:
        """Forget the photo ``key``'s prefix (for the memory budget, on the engine's lock): computed again
        if the photo is asked about again. Never the one lent to the answer being written."""
        if self._lent is None or self._lent[0] != key:
            self._prefixes.pop(key, None)

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self._model.config)

    def _head(self, ids: list[int]) -> Prefix | None:
        """The instructions' prefix ``ids`` (what comes before the photo), encoded once and kept; None
        when it is too short to be worth keeping apart (see :mod:`core.vlm.prefix`)."""
        if len(ids) < MIN_HEAD_TOKENS:
            return None
        if self._opening is None or self._opening.ids != ids:
            cache = self._new_cache()
            encode(self._model, ids, cache, cache_arg=self._cache_arg, device=self._device)
            self._opening = Prefix(list(ids), cache, 0)
        return self._opening

    def _compute_prefix(self, photo: Photo) -> Prefix | None:
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
        image_tokens = head_ids.count(self.image_token_id)
        if image_tokens == 0 or self.token_ids(head, image_tokens) != head_ids:
            log.warning("prefix cache off for this photo: "
                        "the processor does not expand the image as expected")
            return None
        length = common_prefix_length([head_ids] + [self.token_ids(p, image_tokens) for p in prompts])
        if length <= max(i for i, t in enumerate(head_ids) if t == self.image_token_id):
            log.warning("prefix cache off for this photo: the image tokens are not a clean prefix")
            return None
        ids = head_ids[:length]
        opening = self._head(ids[:ids.index(self.image_token_id)])
        images = {k: encoded[k].to(self._device) for k in ("pixel_values", "image_sizes") if k in encoded}
        images["pixel_values"] = images["pixel_values"].to(self._pixel_dtype)
        t0 = time.perf_counter()
        cache = fork_cache(opening.cache) if opening else self._new_cache()
        encode(self._model, ids[len(opening.ids) if opening else 0:], cache, cache_arg=self._cache_arg,
               device=self._device, images=images)
        log.info("photo prefix of %d tokens (%d image tokens, %d of the instructions kept) encoded in %.2fs",
                 length, image_tokens, len(opening.ids) if opening else 0, time.perf_counter() - t0)
        give_back()  # the vision tower's and the prefill's working memory (core.memory)
        return Prefix(ids, cache, image_tokens)

    def _inputs(self, photo: Photo, prompt: str, max_new_tokens: int) -> dict:
        """generate() arguments for ``prompt``: from the photo's prefix cache when it fits, else plain."""
        import torch

        prefix = self._prefix(photo)
        if prefix is not None:
            ids = self.token_ids(prompt, prefix.image_tokens)
            if ids[:len(prefix.ids)] == prefix.ids and len(ids) > len(prefix.ids):
                if lendable(prefix.cache):  # the kept cache itself, cut back afterwards (core.vlm.prefix)
                    self._lent = (photo.key, prefix, self._worker)
                    grow_in_place(prefix.cache, len(ids) - len(prefix.ids) + max_new_tokens + 1)
                return {
                    "input_ids": torch.tensor([ids], device=self._device),
                    "attention_mask": torch.ones(1, len(ids), dtype=torch.long, device=self._device),
                    self._cache_arg: prefix.cache if self._lent else fork_cache(prefix.cache),
                }
            log.info("prompt does not start with the photo's cached prefix; encoding it whole")
        inputs = self._processor(text=prompt, images=photo.image, return_tensors="pt")
        inputs = {k: v.to(self._device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self._pixel_dtype)
        return inputs

    def _return_prefix(self) -> None:
        """The prefix lent to the answer just written, cut back to the photo's own tokens; dropped when a
        stuck generation was abandoned with it (it may still be writing into it)."""
        lent, self._lent = self._lent, None
        if lent is not None:
            key, prefix, worker = lent
            if worker is self._worker:
                cut(prefix.cache, len(prefix.ids))
                give_back()
            elif self._prefixes.get(key) is prefix:
                del self._prefixes[key]
                self.budget.forget(key, "prefix")

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
        from .loading import compile_decoding

        compile_decoding(self._model, self._generation_config, self.options.static_cache_tokens)

    def _tokens(self, chosen: list[Any], start: int = 0) -> list[Token]:
        """Tokens ``chosen[start:]`` with the text each adds to the answer, leading space included (a
        SentencePiece token decoded alone loses it), special tokens left out."""
        special = set(self._tokenizer.all_special_ids)
        ids = [int(i) for i, _ in chosen]
        out = []
        for k in range(start, len(chosen)):
            i, logprob = ids[k], float(chosen[k][1])
            if i in special:
                continue
            window = [t for t in ids[max(0, k - 4):k] if t not in special]
            text = self._tokenizer.decode(window + [i])[len(self._tokenizer.decode(window)):]
            out.append(Token(text, logprob))
        return out

    def _guarded(self, work: Callable[[], Any]) -> Any:
        """Runs ``work``; running out of memory becomes a GenerationError and frees what it can."""
        try:
            return work()
        except Exception as exc:
            if is_out_of_memory(exc):
                raise self._out_of_memory(exc) from exc
            raise

    def _out_of_memory(self, exc: BaseException) -> GenerationError:
        log.error("out of memory while answering: %s", exc)
        for key in self._prefixes:  # the cached prefixes are the memory we can give back
            self.budget.forget(key, "prefix")
        self._prefixes.clear()
        release_memory()
        return GenerationError(*OUT_OF_MEMORY)

    def _generate(self, inputs: dict, max_new_tokens: int, min_new_tokens: int,
                  tokens: list[Token] | None = None, sampling: dict | None = None) -> Iterator[str]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList, TextIteratorStreamer

        stop = threading.Event()

        # The timeout makes the reader wake up now and then to check that the worker is still alive.
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.options.poll_seconds)
        failure: list[BaseException] = []
        config = copy.deepcopy(self._generation_config)
        config.max_new_tokens, config.min_new_tokens = max_new_tokens, min_new_tokens
        seed = None
        if sampling:
            sampling = dict(sampling)
            seed = sampling.pop("seed", None)
            for name, value in sampling.items():
                setattr(config, name, value)
        kwargs = dict(inputs, streamer=streamer, generation_config=config,
                      stopping_criteria=StoppingCriteriaList([stop_when(stop)]))
        chosen: list[Any] = []  # (token id, log-probability) per step, as tensors: no sync per token
        if tokens is not None:
            kwargs["logits_processor"] = LogitsProcessorList([record_choices(chosen)])

        def work() -> None:
            try:
                if seed is not None:
                    torch.manual_seed(seed)  # on the generation thread, just before the generation it is for
                with torch.inference_mode():
                    self._model.generate(**kwargs)
            except BaseException as exc:  # handed to the reader, which raises it
                failure.append(exc)
                try:
                    streamer.end()
                except Exception:
                    pass  # the reader notices the thread has ended
            finally:
                kwargs.clear(), inputs.clear()  # the answer's own keys and values, freed now
                give_back()

        answer = AnswerStream()
        stalled, done_tokens = False, 0
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
                        raise GenerationError(N_("The model stopped answering."), N_("Please ask again."))
                    continue
                last = time.perf_counter()
                text = answer.feed(piece)
                if answer.stopped:
                    stop.set()
                if tokens is not None:  # the tokens written so far, before the text they spell is passed on
                    steps = len(chosen) - 1  # the newest step may still be choosing its token
                    if steps > done_tokens:
                        tokens.extend(self._tokens(chosen[:steps], done_tokens))
                        done_tokens = steps
                if text:
                    yield text
            done.wait()
            if failure:
                if is_out_of_memory(failure[0]):
                    raise self._out_of_memory(failure[0]) from failure[0]
                raise failure[0]
            if tokens is not None:
                tokens.extend(self._tokens(chosen, done_tokens))
            rest = answer.finish()
            if rest:
                yield rest
            log.info("answer of %d characters in %.2fs", len(answer.sent), time.perf_counter() - t0)
        finally:
            stop.set()  # also when the reader leaves early: the model stops at the next token
            if not done.wait(timeout=5 if stalled else None):
                self._worker = Worker()  # the stuck one is abandoned; the next answer starts afresh
