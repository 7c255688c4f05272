"""The model's halves taking turns (core.vlm.halves) and the memory budget in the engine, on the tiny model."""

from __future__ import annotations

import pytest

from core.errors import GenerationError
from core.vlm.budget import MB, MemoryBudget


def test_weights_in_the_process_own_memory_are_never_handed_back():
    import torch

    from core.vlm.halves import Halves, file_ranges

    layer = torch.nn.Linear(64, 64)
    assert file_ranges(layer.parameters()) == []

    class Llava(torch.nn.Module):  # the parts' names LLaVA has, none mapped from a file
        def __init__(self):
            super().__init__()
            self.vision_tower, self.multi_modal_projector = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
            self.language_model, self.lm_head = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)

    assert Halves.attach(Llava()) is None




def photo(colour, key):
    from PIL import Image

    from core.images import Photo

    image = Image.new("RGB", (64, 48), colour)
    return Photo(image=image, original_size=image.size, format="PNG", key=key)


@pytest.fixture(scope="module")
def tiny(test_models):
    from core.vlm import load_vlm
    from core.vlm.llava import VlmOptions

    def load(**options):
        budget = options.pop("budget", None)
        return load_vlm(str(test_models.llava), device="cpu", quantization="none", dtype="float32",
                        options=VlmOptions(**options), budget=budget)

    return load


def answer(engine, picture, question="What is in the photo?"):
    from core.vlm import Token

    tokens: list[Token] = []
    text = "".join(engine.stream(picture, [], question, max_new_tokens=12, min_new_tokens=12, tokens=tokens))
    return text, [t.text for t in tokens]


@pytest.mark.models
def test_halves_take_turns_and_the_answers_are_the_same_tokens(tiny):
    with_halves, without = tiny(halves=True), tiny(halves=False)
    assert without.halves is None
    assert with_halves.halves is not None, "the tiny model's float32 weights are mapped from its checkpoint"
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        picture = photo(colour, f"halves-{i}")
        assert answer(with_halves, picture) == answer(without, picture)
        assert answer(with_halves, picture, "And the colour?") == answer(without, picture, "And the colour?")
    assert with_halves.halves.drops >= 6 and with_halves.halves.dropped > 0  # both halves, each photo


@pytest.mark.models
def test_the_engine_frees_the_oldest_prefix_for_a_new_photo_and_answers_it_again_the_same(tiny):
    budget = MemoryBudget(0, settle_seconds=0, give_back=lambda: None)
    budget._resident = budget.kept_bytes  # noqa: SLF001  (the process holds just what is kept)
    engine, plain = tiny(budget=budget), tiny(prefix_photos=0)
    first, second = photo((200, 30, 30), "budget-1"), photo((30, 200, 30), "budget-2")
    engine.prepare(first)
    assert engine.kept_photos() == ["budget-1"] and budget.kept() == [("budget-1", "prefix")]
    budget.limit = budget.kept_bytes() + 1  # room for one photo's prefix, not two
    engine.prepare(second)
    assert engine.kept_photos() == ["budget-2"] and budget.kept() == [("budget-2", "prefix")]  # the oldest went
    assert answer(engine, first) == answer(plain, first)  # computed again: nothing the person gave is lost
    assert engine.kept_photos() == ["budget-1"]


@pytest.mark.models
def test_a_new_photo_is_refused_when_only_photos_in_use_are_kept(tiny):
    budget = MemoryBudget(0, resident=lambda: 200 * MB, settle_seconds=0, give_back=lambda: None)
    engine = tiny(budget=budget)
    kept, new = photo((200, 30, 30), "in-use"), photo((30, 200, 30), "refused")
    engine.prepare(kept)
    budget.limit = 100 * MB  # the process is over it by more than anything idle could free
    with budget.in_use("in-use"):
        with pytest.raises(GenerationError) as error:
            engine.prepare(new)
        with pytest.raises(GenerationError):
            list(engine.stream(new, [], "What is it?", max_new_tokens=4))
    assert "no room for your photo" in error.value.spoken
    assert engine.kept_photos() == ["in-use"]  # the other visitor's photo is still there
