"""The memory budget (core.vlm.budget), the setting, and the pipeline keeping to it: on fakes, no model."""

from __future__ import annotations

import pytest

from core.config import load_settings
from core.errors import ConfigError, GenerationError
from core.vlm.budget import MB, NO_ROOM, MemoryBudget


class Memory:
    """A resident memory that goes down by what is freed (as torch's big tensors do)."""

    def __init__(self, resident: int) -> None:
        self.resident = resident

    def __call__(self) -> int:
        return self.resident


def kept(budget: MemoryBudget, memory: Memory, key: str, size: int, freed: list, kind: str = "prefix") -> None:
    memory.resident += size

    def free() -> None:
        freed.append(key)
        memory.resident -= size

    budget.keep(key, kind, size, free)


def budget_of(limit_mb: int, memory: Memory) -> MemoryBudget:
    return MemoryBudget.from_mb(limit_mb, resident=memory, settle_seconds=0, give_back=lambda: None)


def test_the_setting_is_read_and_checked():
    assert load_settings({}).memory_budget_mb == 0
    assert load_settings({"SEESAY_MEMORY_BUDGET_MB": " 2300 "}).memory_budget_mb == 2300
    for bad in ("lots", "-1", "2.5"):
        with pytest.raises(ConfigError) as error:
            load_settings({"SEESAY_MEMORY_BUDGET_MB": bad})
        assert "SEESAY_MEMORY_BUDGET_MB" in error.value.spoken


def test_within_the_budget_nothing_is_freed():
    memory, freed = Memory(1000 * MB), []
    budget = budget_of(2000, memory)
    kept(budget, memory, "a", 100 * MB, freed)
    assert budget.make_room(100 * MB, "b") == 0
    assert freed == [] and budget.kept() == [("a", "prefix")]


def test_the_oldest_is_freed_first_and_only_as_much_as_needed():
    memory, freed = Memory(1000 * MB), []
    budget = budget_of(1350, memory)
    for key in "abc":
        kept(budget, memory, key, 100 * MB, freed)
    budget.used("a", "prefix")  # asked about again: the newest now, b the oldest
    assert budget.make_room(100 * MB, "d") == 100 * MB  # 1300 + 100 > 1350: one photo's worth
    assert freed == ["b"]
    assert budget.kept() == [("c", "prefix"), ("a", "prefix")]
    assert memory.resident == 1200 * MB


def test_readings_count_and_are_freed_oldest_first_beside_prefixes():
    memory, freed = Memory(1000 * MB), []
    budget = budget_of(1150, memory)
    kept(budget, memory, "a", 50 * MB, freed, kind="reading")
    kept(budget, memory, "b", 100 * MB, freed)
    budget.make_room(100 * MB, "c")
    assert freed == ["a", "b"]


def test_state_of_a_photo_in_use_is_never_freed():
    memory, freed = Memory(1000 * MB), []
    budget = budget_of(1250, memory)
    kept(budget, memory, "other", 100 * MB, freed)  # another visitor's photo, its question waiting its turn
    kept(budget, memory, "idle", 100 * MB, freed)
    with budget.in_use("other"):
        budget.make_room(100 * MB, "new")
        assert freed == ["idle"]
        with pytest.raises(GenerationError):  # only "other" is left, and it is in use
            budget.make_room(200 * MB, "new")
    assert freed == ["idle"] and budget.kept() == [("other", "prefix")]
    assert not budget.busy("other")
    budget.make_room(200 * MB, "new")  # its work is done: it can go now
    assert freed == ["idle", "other"]


def test_a_photo_that_cannot_fit_is_refused_with_words_for_someone_who_cannot_see():
    memory = Memory(2000 * MB)
    budget = budget_of(2000, memory)
    with pytest.raises(GenerationError) as error:
        budget.make_room(100 * MB, "new")
    assert error.value.spoken == ("SeeSay is helping other people and has no room for your photo right now. "
                                  "Please try again in a minute.")
    assert (error.value.template, error.value.hint_template) == NO_ROOM
    assert budget.refused == 1


def test_the_photo_itself_is_not_freed_to_make_room_for_it():
    memory, freed = Memory(1000 * MB), []
    budget = budget_of(1150, memory)
    kept(budget, memory, "a", 100 * MB, freed, kind="reading")  # its own reading, read before its prefix
    with pytest.raises(GenerationError):
        budget.make_room(100 * MB, "a")
    assert freed == []


def test_without_a_budget_state_is_accounted_but_never_freed_or_refused():
    memory, freed = Memory(10_000 * MB), []
    budget = budget_of(0, memory)
    kept(budget, memory, "a", 100 * MB, freed)
    assert budget.make_room(10_000 * MB, "b") == 0
    assert budget.kept_bytes() == 100 * MB and freed == []
    budget.forget("a", "prefix")
    assert budget.kept() == []


def test_refusing_waits_a_moment_for_other_work_to_give_its_memory_back():
    memory = Memory(2000 * MB)
    calls = []

    def resident() -> int:
        calls.append(1)
        if len(calls) > 2:  # another visitor's recording has been transcribed
            memory.resident = 1000 * MB
        return memory.resident

    budget = MemoryBudget.from_mb(1500, resident=resident, settle_seconds=2, give_back=lambda: None)
    assert budget.make_room(100 * MB, "new") == 0


# --- the pipeline ------------------------------------------------------------------------------

def _pipeline(vlm, **settings):
    from core.config import Settings
    from core.engines import Loaders, Models
    from core.pipeline import Pipeline
    from tests.fakes import FakeSTT, FakeTTS

    class Reader:
        name = "fake-ocr"

        def read(self, image):
            from tests.fakes import fake_reading

            return fake_reading("STOP")

    conf = Settings(device="cpu", tts_engine="offline", **settings)
    return Pipeline(conf, Models(conf, Loaders.given(vlm=vlm, stt=FakeSTT(), voice=FakeTTS(), ocr=Reader())))


def _png(colour=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), colour)
    draw = ImageDraw.Draw(image)
    for x in range(0, 640, 40):  # detail, so that the photo passes the quality check
        draw.rectangle((x, 100, x + 20, 380), fill=(255 - colour[0], 255, x % 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_photo_with_no_room_ahead_of_its_question_is_still_taken_and_read():
    from core.events import PhotoTaken, TextRead
    from core.vlm.budget import no_room
    from tests.fakes import FakeVLM

    class Full(FakeVLM):
        def prepare(self, photo) -> None:
            raise no_room()

    events = list(_pipeline(Full()).take_photo(_png(), anyway=True))
    assert any(isinstance(e, PhotoTaken) for e in events)
    assert any(isinstance(e, TextRead) for e in events)  # its text is read all the same


def test_a_question_with_no_room_is_told_so_and_its_photo_is_kept_in_use_only_while_asked():
    from core.events import PhotoTaken
    from tests.fakes import FakeVLM

    seen = []

    class Asked(FakeVLM):
        def stream(self, photo, *args, **kwargs):
            seen.append(pipeline.models.budget.busy(photo.key))  # in use while it is answered
            raise GenerationError(*NO_ROOM)
            yield ""

    pipeline = _pipeline(Asked())
    photo = next(e.photo for e in list(pipeline.take_photo(_png(), anyway=True)) if isinstance(e, PhotoTaken))
    assert pipeline.models.budget.kept() == [(photo.key, "reading")]  # its reading is accounted
    with pytest.raises(GenerationError) as error:
        list(pipeline.ask(photo, "What is this?"))
    assert "no room for your photo" in error.value.spoken
    assert seen == [True] and not pipeline.models.budget.busy(photo.key)


def test_a_freed_reading_is_read_again_when_its_photo_is_asked_about():
    from core.events import PhotoTaken
    from tests.fakes import FakeVLM

    pipeline = _pipeline(FakeVLM(), memory_budget_mb=1)
    photo = next(e.photo for e in list(pipeline.take_photo(_png(), anyway=True)) if isinstance(e, PhotoTaken))
    pipeline.models.budget.settle_seconds = 0
    with pytest.raises(GenerationError):  # far over 1 MB: everything idle is freed, and still no room
        pipeline.models.budget.make_room(0, "another photo")
    assert pipeline.models.budget.kept() == []
    assert not isinstance(pipeline.reading(photo), Exception)  # read again
    assert pipeline.models.budget.kept() == [(photo.key, "reading")]
