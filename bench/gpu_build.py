"""SeeSay's GPU engines built offline for bench/gpu_e2e.py, and the probes that watch them.

No model hub: every model is built here with random weights, in the shape the CUDA profile uses.

* :func:`build_llava`: LLaVA-1.5-7B's shape (``bench.gpu``'s configuration), created on the GPU in fp16
  and quantized in place to 4-bit NF4 (``bench.gpu.quantize_nf4``); or, for the miniature, the same
  architecture with tiny widths on the CPU.
* :func:`llava15_processor`: a LLaVA-1.5 processor (CLIP 336 px, 576 image tokens, the Vicuna template)
  over a byte-level BPE tokenizer laid out like LLaVA-1.5's vocabulary of 32064: ``<unk> <s> </s>`` are
  0-2, ``<image>`` 32000 and ``<pad>`` 32001, so the model's config needs no change. It is trained on
  SeeSay's own prompt, so the prompt takes about as many tokens as Llama's tokenizer would give it.
* :func:`build_whisper`: an openai-whisper ``.pt`` checkpoint ``{"dims", "model_state_dict"}`` of
  :data:`WHISPER_SMALL`'s shape (or a tiny one), which SeeSay's openai-whisper engine loads by path.
* :func:`scripted_whisper`: random Whisper weights write no question and never end; while it is on,
  Whisper's text decoder runs every pass for real and its logits are then set to spell a fixed
  transcript, so decoding takes the steps a real 3 s question takes (beam search and all), no more.
* :class:`StreamClock`: stamps each token ``generate()`` hands its streamer. A forward hook on the model,
  as ``bench.probes.TokenClock`` uses on CPU, would be traced into the compiled decoding step.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any, Iterator

from bench import gpu
from bench.probes import Stamps

now = time.perf_counter

#: openai-whisper's "small" (244 M parameters), from its public ModelDimensions; multilingual, like
#: the size SeeSay's CUDA profile names
WHISPER_SMALL = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=768, n_audio_head=12, n_audio_layer=12,
                     n_vocab=51865, n_text_ctx=448, n_text_state=768, n_text_head=12, n_text_layer=12)
WHISPER_MINI = dict(WHISPER_SMALL, n_audio_state=64, n_audio_head=2, n_audio_layer=2, n_text_state=64,
                    n_text_head=2, n_text_layer=2)

#: the miniature: LLaVA-1.5's architecture, image size, image tokens and vocabulary, with tiny widths
MINI_VISION = dict(gpu.VISION, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                   projection_dim=32)
MINI_TEXT = dict(gpu.TEXT, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4)

IMAGE_TOKEN, PAD_TOKEN = "<image>", "<pad>"


# --- LLaVA ---------------------------------------------------------------------------------------


def build_llava(*, miniature: bool, quantize: bool) -> Any:
    """LLaVA-1.5-7B's shape on the GPU in fp16, quantized to NF4 in place when ``quantize``; or the miniature
    on the CPU in float32."""
    import torch

    if not miniature:
        model = gpu.build_fp16()
        return gpu.quantize_nf4(model) if quantize else model
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    config = LlavaConfig(vision_config=CLIPVisionConfig(**MINI_VISION), text_config=LlamaConfig(**MINI_TEXT),
                         **gpu.LLAVA)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlavaForConditionalGeneration(config)
    model.eval().requires_grad_(False)
    model.generation_config.pad_token_id = gpu.TEXT["pad_token_id"]
    model.generation_config.eos_token_id = gpu.TEXT["eos_token_id"]
    return model


def _corpus() -> list[str]:
    """What the tokenizer learns its merges from: SeeSay's prompt, notes and the benchmark's words."""
    from core.honesty import ANSWERABLE_NOTE
    from core.vlm.prompt import SYSTEM_PROMPT, reference_note

    from bench.inputs import ANSWER, FOLLOW_UP, LONG_QUESTION, QUESTION

    return [SYSTEM_PROMPT, ANSWERABLE_NOTE, reference_note("EXIT Platform 2 · Lifts"), QUESTION, FOLLOW_UP,
            LONG_QUESTION, ANSWER, "USER: What is in the photo? Describe this photo for me. ASSISTANT:"]


def _filler(i: int) -> str:
    """The i-th filler word, bijective base 26: a, b, ..., z, aa, ab, ..."""
    letters, word = "abcdefghijklmnopqrstuvwxyz", ""
    while True:
        word = letters[i % 26] + word
        i = i // 26 - 1
        if i < 0:
            return word


def llama_like_tokenizer(vocab_size: int = gpu.TEXT["vocab_size"]) -> Any:
    """A byte-level BPE tokenizer with LLaVA-1.5's special ids (see the module's doc); BOS is prepended as
    Llama's tokenizer does. Every id up to ``vocab_size`` decodes to text (unused ids to filler words)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_corpus(), trainer)
    spec = json.loads(bpe.to_str())
    vocab = spec["model"]["vocab"]
    i = 0
    while len(vocab) < vocab_size:
        if len(vocab) == gpu.LLAVA["image_token_index"]:
            vocab[IMAGE_TOKEN] = len(vocab)
        elif len(vocab) == gpu.LLAVA["pad_token_id"]:
            vocab[PAD_TOKEN] = len(vocab)
        else:
            word = "Ġ" + _filler(i)  # "Ġ" is the byte-level form of a leading space
            i += 1
            if word not in vocab:
                vocab[word] = len(vocab)
    bpe = Tokenizer.from_str(json.dumps(spec))
    bpe.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                  pad_token=PAD_TOKEN, padding_side="left")
    tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    wanted = {IMAGE_TOKEN: gpu.LLAVA["image_token_index"], PAD_TOKEN: gpu.LLAVA["pad_token_id"],
              "<s>": gpu.TEXT["bos_token_id"], "</s>": gpu.TEXT["eos_token_id"]}
    got = {token: tok.convert_tokens_to_ids(token) for token in wanted}
    if got != wanted or len(tok) != vocab_size:
        raise RuntimeError(f"the tokenizer's layout is not LLaVA-1.5's: {got}, {len(tok)} tokens")
    return tok


def llava15_processor() -> Any:
    """LLaVA-1.5's processor, built offline: CLIP preprocessing at 336 px (shortest side, then centre crop),
    576 image tokens (the CLS token dropped), the Vicuna template (no system role)."""
    import transformers

    from core.testmodels.llava import VICUNA_TEMPLATE

    size = gpu.VISION["image_size"]
    try:  # what AutoProcessor gives: torchvision's where it is there (the GPU machine), else PIL's
        import torchvision  # noqa: F401

        image_class = transformers.CLIPImageProcessor
    except ImportError:
        image_class = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    images = image_class(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return transformers.LlavaProcessor(
        image_processor=images, tokenizer=llama_like_tokenizer(), patch_size=gpu.VISION["patch_size"],
        vision_feature_select_strategy="default", num_additional_image_tokens=1, chat_template=VICUNA_TEMPLATE,
        image_token=IMAGE_TOKEN)


# --- Whisper -------------------------------------------------------------------------------------


def build_whisper(path: Path, dims: dict, device: str) -> Path:
    """A random-weight openai-whisper checkpoint of ``dims`` at ``path``, stored in fp16 as the published
    ones are; built on ``device`` (the GPU builds the small one in a moment)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    with torch.device(device):
        torch.manual_seed(0)
        model = Whisper(ModelDimensions(**dims))
        # created with torch.empty: uninitialised memory would make every build different
        torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    state = {name: tensor.half().cpu() for name, tensor in model.state_dict().items()}
    del model
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dict(dims), "model_state_dict": state}, path)
    return path


@contextlib.contextmanager
def scripted_whisper(text: str, *, language: str = "en", num_languages: int = 99) -> Iterator[list[int]]:
    """While inside: every openai-whisper text decoder in this process runs each pass for real, then its
    logits are replaced so that the most likely next token at position p is ``script[p + 1]``, where
    ``script`` is the start-of-transcript sequence (``language``, transcribe, no timestamps), ``text``
    and the end of text. Language detection finds ``language``; transcription writes ``text`` with
    log-probabilities near 0, so no temperature fallback and no "no speech". Yields the script."""
    import torch
    import whisper.model
    from whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(True, num_languages=num_languages, language=language, task="transcribe")
    script = [*tokenizer.sot_sequence_including_notimestamps, *tokenizer.encode(" " + text), tokenizer.eot]
    decoder = whisper.model.TextDecoder
    original = decoder.forward
    tables: dict[Any, Any] = {}  # device -> next token by position, so no copy to the GPU per pass

    def forward(self, x, xa, kv_cache=None):
        offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0  # as TextDecoder.forward finds it
        logits = original(self, x, xa, kv_cache=kv_cache)
        table = tables.get(logits.device)
        if table is None:
            following = script[1:] + [tokenizer.eot] * (self.positional_embedding.shape[0] + 1)
            table = tables[logits.device] = torch.tensor(following, device=logits.device)
        n = x.shape[-1]
        chosen = table[offset:offset + n].view(1, n, 1).expand(logits.shape[0], n, 1)
        return logits.fill_(-30.0).scatter_(-1, chosen, 30.0)

    decoder.forward = forward
    try:
        yield script
    finally:
        decoder.forward = original


# --- probes --------------------------------------------------------------------------------------


class StreamClock(Stamps):
    """Stamps every token that ``generate()`` hands the engine's streamer (one per forward pass, on the
    generating thread, after the token reached the CPU): exact counts and decode speed, compiled or not.

    It shares ``bench.probes.TokenClock``'s base (``start``, ``tokens``, ``decode_rate``, ``context``) and
    has its ``ignored``, so ``bench.probes.ScriptedVLM`` and ``TimedVLM`` use it as they use that one.
    """

    @contextlib.contextmanager
    def installed(self) -> Iterator[StreamClock]:
        """Stamps while inside: the ``put`` of transformers' TextIteratorStreamer, the streamer the engine
        answers through, stamps each token before it passes it on. (The method is replaced on the class:
        transformers' lazy module may hand out the class again, so a subclass put in its place is lost.)"""
        import transformers

        streamer = transformers.TextIteratorStreamer
        own = streamer.__dict__.get("put")
        passed_on = streamer.put
        clock = self

        def put(self, value):
            if self.skip_prompt and self.next_tokens_are_prompt:
                clock.context = int(value.shape[-1])
            else:
                clock.stamps.append(now())
            passed_on(self, value)

        streamer.put = put
        try:
            yield self
        finally:
            if own is None:
                del streamer.put
            else:
                streamer.put = own

    @contextlib.contextmanager
    def ignored(self) -> Iterator[None]:
        yield  # preparing a photo runs no generate(): nothing to leave out



class NoTextReader:
    """Stands in for the text reader where rapidocr is not installed: a photo without text."""

    name = "none"

    def read(self, image: Any) -> Any:
        from core.ocr import Reading

        return Reading(lines=(), text="", size=image.size, seconds=0.0, engine=self.name)


class GpuMemory:
    """torch.cuda's allocator figures, in bytes, at named moments (nothing off CUDA)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda

    def fresh_peak(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def allocated(self) -> int:
        if not self.cuda:
            return 0
        import torch

        torch.cuda.synchronize()
        return torch.cuda.memory_allocated()

    def now(self) -> dict[str, int]:
        """Allocated and reserved now, and their peaks since :meth:`fresh_peak`."""
        if not self.cuda:
            return {}
        import torch

        torch.cuda.synchronize()
        return {"allocated": torch.cuda.memory_allocated(), "peak_allocated": torch.cuda.max_memory_allocated(),
                "reserved": torch.cuda.memory_reserved(), "peak_reserved": torch.cuda.max_memory_reserved()}
