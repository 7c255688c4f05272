"""core.engines and core.pipeline.Pipeline on scripted engines (handed to Models through Loaders): settings and
a visitor's choices become engines and questions in one place; each engine loads once per process; the voice
rule; loading is said once, by the work that begins it."""

from __future__ import annotations

import io
import threading
import time

import pytest

from core.config import Settings
from core.engines import Choices, Loaders, Models
from core.errors import ModelUnavailableError, SpeechSynthesisError
from core.i18n import N_
from core.pipeline import Asked, Done, Loading, PhotoTaken, Pipeline, QualityMeasured, Queued, TextRead
from tests.fakes import FakeSTT, FakeTTS, FakeVLM


def png(seed: int = 0) -> bytes:
    from tests.media import scene_bytes

    return scene_bytes(seed)


class FakeReader:
    """A text reader that finds ``text`` in every photo."""

    name = "fake-ocr"

    def __init__(self, text: str = "") -> None:
        self.text, self.read_count = text, 0

    def read(self, image):
        from core.ocr import Line, Reading

        self.read_count += 1
        lines = tuple(Line(t, ((40, 60 + 50 * i), (280, 60 + 50 * i), (280, 100 + 50 * i), (40, 100 + 50 * i)), 0.99)
                      for i, t in enumerate(self.text.splitlines()) if t)  # well framed: large, inside the edges
        return Reading(lines=lines, text=self.text, size=image.size, seconds=0.0, engine=self.name)


@pytest.fixture
def loaders():
    """Scripted engines, handed to SeeSay's Models as its loaders; ``loaders.voices[name]`` is the voice of
    that name; ``loaders.models(settings)`` and ``loaders.pipeline(settings)`` are built on them."""

    class Loaded:
        vlm = FakeVLM()
        stt = FakeSTT()
        voices = {"auto": FakeTTS(name="auto"), "gtts": FakeTTS(name="gtts"), "offline": FakeTTS(name="offline")}
        reader = FakeReader()
        broken: dict = {}
        calls: list = []
        delay = 0.0

        def load(self, key, make):
            self.calls.append(key)
            time.sleep(self.delay)
            if key in self.broken:
                raise self.broken[key]
            return make()

        def models(self, settings: Settings) -> Models:
            return Models(settings, Loaders(
                vlm=lambda conf: self.load(("vlm",), lambda: self.vlm),
                stt=lambda conf: self.load(("stt",), lambda: self.stt),
                voice=lambda conf, name, private: self.load(("voice", name, private), lambda: self.voices[name]),
                ocr=lambda conf: self.load(("ocr",), lambda: self.reader)))

        def pipeline(self, settings: Settings) -> Pipeline:
            return Pipeline(settings, self.models(settings))

    return Loaded()


def test_questions_come_from_the_settings_and_the_visitors_choices(loaders, caplog):
    from core.errors import QuestionError

    caplog.set_level("INFO", logger="core")
    pipeline = loaders.pipeline(Settings(max_answer_tokens=100, detail_answer_tokens=400, max_question_chars=50,
                                         debug=True))
    photo = list(pipeline.take_photo(png()))[0].photo
    done = list(pipeline.ask(photo, "What is this?", (), Choices(length="short", language="de", speak=False)))[-1]
    call = loaders.vlm.calls[-1]
    assert (call["max_new_tokens"], call["notes"][-1]) == (50, "Answer in German.") and done.answer.language == "de"
    assert done.answer.speech is None and not loaders.voices["auto"].spoken  # speech off: no voice at all
    assert "'What is this?'" in caplog.text  # SEESAY_DEBUG: the log may hold the person's words
    list(pipeline.ask(photo, "What is this?", detail=True))
    assert loaders.vlm.calls[-1]["max_new_tokens"] == 400
    list(pipeline.ask(photo, "What is this?", max_tokens=7, min_tokens=7))
    assert (loaders.vlm.calls[-1]["max_new_tokens"], loaders.vlm.calls[-1]["min_new_tokens"]) == (7, 7)
    with pytest.raises(QuestionError):
        list(pipeline.ask(photo, "Is this a question that is longer than fifty characters?"))


def test_each_engine_loads_once_even_when_visitors_ask_at_once(loaders):
    loaders.delay = 0.2
    models = loaders.models(Settings(tts_engine="auto"))
    got = []
    threads = [threading.Thread(target=lambda: got.append(models.vlm())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(got) == 4 and all(vlm is loaders.vlm for vlm in got)
    assert loaders.calls == [("vlm",)]


def test_what_a_loaded_engine_made_is_kept_out_of_the_garbage_collectors_scans(loaders):
    import gc

    gc.unfreeze()
    try:
        loaders.models(Settings()).vlm()
        assert gc.get_freeze_count() > 0  # a full collection after each page's run skips them
    finally:
        gc.unfreeze()


def test_a_failed_load_is_kept_until_retry(loaders):
    loaders.broken[("stt",)] = ModelUnavailableError("Speech recognition is not available.", "Set it.")
    models = loaders.models(Settings())
    for _ in range(2):
        with pytest.raises(ModelUnavailableError):
            models.stt()
    assert loaders.calls == [("stt",)]  # not tried again on every question
    del loaders.broken[("stt",)]
    models.retry("vlm")
    with pytest.raises(ModelUnavailableError):
        models.stt()
    models.retry("stt")
    assert models.stt() is loaders.stt


def test_an_unexpected_failure_is_said_plainly(loaders):
    loaders.broken[("vlm",)] = RuntimeError("CUDA driver internal detail")
    with pytest.raises(ModelUnavailableError) as caught:
        loaders.models(Settings()).vlm()
    assert "unexpected problem" in caught.value.message and "CUDA" not in caught.value.spoken


@pytest.mark.parametrize("choice, private, expected", [
    ("automatic", False, ("voice", "auto", False)),
    ("gtts", False, ("voice", "gtts", False)),
    ("gtts", True, ("voice", "offline", True)),
    ("offline", False, ("voice", "offline", False)),
])
def test_the_visitors_voice(loaders, choice, private, expected):
    voice, problem = loaders.models(Settings(tts_engine="auto")).voice_for(Choices(voice=choice, private=private))
    assert loaders.calls[0] == expected and problem == ""
    assert voice.synthesize("The door is open.").engine == expected[1]
    if private:  # nothing that sends text off the machine is even loaded
        assert all(call[1] != "gtts" for call in loaders.calls)


def test_the_offline_voice_speaks_when_the_chosen_one_cannot_load(loaders):
    loaders.broken[("voice", "gtts", False)] = ModelUnavailableError("The online voice is not installed.", "")
    voice, problem = loaders.models(Settings()).voice_for(Choices(voice="gtts"))
    assert voice is loaders.voices["offline"] and problem == ""


def test_the_offline_voice_speaks_when_the_chosen_one_fails(loaders):
    loaders.voices["gtts"].fail = True
    voice, _ = loaders.models(Settings()).voice_for(Choices(voice="gtts"))
    speech = voice.synthesize("The door is open.", "en")
    assert speech.engine == "offline"


def test_with_no_voice_at_all_the_reason_is_kept(loaders):
    for name in ("gtts", "offline"):
        loaders.broken[("voice", name, name == "offline")] = ModelUnavailableError(f"No {name} voice.", "")
    voice, problem = loaders.models(Settings()).voice_for(Choices(voice="gtts"))
    assert voice is None and problem == "No gtts voice."
    spanish = loaders.models(Settings()).voice_for(Choices(voice="gtts", language="es"))[1]
    assert spanish == "No gtts voice."  # no translation for this made-up text: it stays as it was
    loaders.broken[("voice", "gtts", False)] = ModelUnavailableError(N_("No voice could speak just now."), "")
    assert loaders.models(Settings()).voice_for(Choices(voice="gtts", language="es"))[1] != \
        loaders.models(Settings()).voice_for(Choices(voice="gtts"))[1]  # said in the person's language
    pipeline = loaders.pipeline(Settings())
    with pytest.raises(SpeechSynthesisError):
        pipeline.speak("Hello.", "en", Choices(voice="gtts"))


def test_a_photo_is_taken_loading_is_said_once_and_the_question_waits_for_nothing(loaders):
    pipeline = loaders.pipeline(Settings(tts_engine="auto"))
    events = list(pipeline.take_photo(png(), Choices()))
    assert [type(e) for e in events] == [PhotoTaken, QualityMeasured, Loading, TextRead]
    assert events[1].quality.ok and set(events[2].stages) == {"vlm", "ocr", "stt", "voice"}
    assert loaders.vlm.prepared == [events[0].photo.key] and loaders.reader.read_count == 1
    asked = list(pipeline.ask(events[0].photo, "What is this?", (), Choices()))
    assert not [e for e in asked if isinstance(e, Loading)]  # everything was loaded with the photo
    assert isinstance(asked[0], Asked) and isinstance(asked[-1], Done)
    again = list(pipeline.take_photo(png(1), Choices()))
    assert [type(e) for e in again] == [PhotoTaken, QualityMeasured, TextRead]  # nothing more to load
    assert loaders.reader.read_count == 2  # each photo read once: the question used the kept reading


def test_loading_is_said_once_by_the_work_that_begins_it(loaders):
    from core.images import load_photo

    loaders.delay = 0.3
    pipeline = loaders.pipeline(Settings(tts_engine="auto"))
    photo = load_photo(png(), max_bytes=10**7, max_pixels=10**7, max_side=1344)
    start, seen = threading.Barrier(2), {}

    def visitor(name):
        start.wait()
        seen[name] = list(pipeline.ask(photo, f"What is this, {name}?"))

    threads = [threading.Thread(target=visitor, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    loading = [e for events in seen.values() for e in events if isinstance(e, Loading)]
    assert len(loading) == 1 and set(loading[0].stages) == {"vlm", "ocr", "voice"}  # said once, not twice
    assert all(isinstance(events[-1], Done) for events in seen.values()) and len(seen) == 2
    assert sorted(loaders.calls) == sorted([("ocr",), ("vlm",), ("voice", "auto", False), ("voice", "offline", True)])


def test_preparing_a_photo_waits_its_turn_and_says_so(loaders):
    loaders.vlm.delay = 0.01
    pipeline = loaders.pipeline(Settings())
    first = list(pipeline.take_photo(png()))
    lock = pipeline.models.lock
    ticket = lock.take()  # someone else's question is on the model
    threading.Timer(0.3, lock.release, args=(ticket,)).start()
    events = list(pipeline.take_photo(png()))
    assert Queued(1) in events and isinstance(first[0], PhotoTaken)
    assert len(loaders.vlm.prepared) == 2


def test_a_photo_is_kept_when_the_model_cannot_load(loaders):
    loaders.broken[("vlm",)] = ModelUnavailableError("The answering model is missing.", "Set it.")
    pipeline = loaders.pipeline(Settings())
    events = list(pipeline.take_photo(png()))
    assert isinstance(events[0], PhotoTaken)
    with pytest.raises(ModelUnavailableError):
        list(pipeline.ask(events[0].photo, "What is this?"))


def test_a_voice_that_cannot_load_is_said_with_the_answer(loaders):
    for name in ("auto", "offline"):
        loaders.broken[("voice", name, name == "offline")] = ModelUnavailableError("No voice is installed.", "")
    pipeline = loaders.pipeline(Settings(tts_engine="auto"))
    photo = list(pipeline.take_photo(png()))[0].photo
    done = list(pipeline.ask(photo, "What is this?"))[-1]
    assert done.answer.text and done.answer.speech is None
    assert done.answer.speech_error == "No voice is installed."


# --- see well before answering; say it honestly (the stages in the pipeline) ----------------------------


def flat() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (128, 128, 128)).save(buf, "PNG")
    return buf.getvalue()


def test_a_flawed_photo_gets_its_guidance_before_any_model_runs(loaders):
    pipeline = loaders.pipeline(Settings())
    events = list(pipeline.take_photo(flat(), Choices()))
    assert [type(e) for e in events] == [PhotoTaken, QualityMeasured]
    assert not events[1].quality.ok and "featureless" in {f.kind for f in events[1].quality.findings}
    assert loaders.calls == []  # nothing loaded, nothing read
    anyway = list(pipeline.take_photo(flat(), Choices(), anyway=True))
    assert [type(e) for e in anyway][:3] == [PhotoTaken, QualityMeasured, Loading] and loaders.vlm.prepared


def test_the_text_found_goes_to_the_model_as_reference(loaders):
    loaders.reader.text = "Ibuprofen 200 mg\nTake 1 tablet"
    pipeline = loaders.pipeline(Settings())
    photo = list(pipeline.take_photo(png()))[0].photo
    list(pipeline.ask(photo, "What is in the photo?"))
    notes = loaders.vlm.calls[-1]["notes"]
    assert notes[0] == "Reference OCR token: Ibuprofen, 200, mg, Take, 1, tablet"
    loaders.reader.text = ""
    other = list(pipeline.take_photo(png(2)))[0].photo
    list(pipeline.ask(other, "What is in the photo?"))
    assert not any(n.startswith("Reference OCR") for n in loaders.vlm.calls[-1]["notes"])


def test_read_the_text_is_the_readers_words_exactly(loaders):
    from core.pipeline import QUICK

    loaders.reader.text = "Take1 or 2 tablets\nEXP 03/2027"
    pipeline = loaders.pipeline(Settings())
    photo = list(pipeline.take_photo(png()))[0].photo
    calls = len(loaders.vlm.calls)
    events = list(pipeline.quick(photo, "read"))
    answer = events[-1].answer
    assert answer.text == "Take1 or 2 tablets\nEXP 03/2027" and answer.question == QUICK["read"].label
    assert len(loaders.vlm.calls) == calls and answer.engines["ocr"] == "fake-ocr"  # no model paraphrase
    said = [text for text, _ in loaders.voices["auto"].spoken]
    assert said == ["Take1 or 2 tablets", "EXP 03/2027"] and answer.speech is not None


def test_read_the_text_says_plainly_when_there_is_none(loaders):
    from core.ocr import NO_TEXT

    pipeline = loaders.pipeline(Settings())
    photo = list(pipeline.take_photo(png()))[0].photo
    assert list(pipeline.quick(photo, "read"))[-1].answer.text == NO_TEXT


def test_without_the_text_reader_the_model_reads_and_the_person_is_told(loaders):
    from core.answering import TEXT_READER_DOWN
    from core.quick import READ_BY_MODEL

    loaders.broken[("ocr",)] = ModelUnavailableError("Text reading is not available.", "Install it.")
    pipeline = loaders.pipeline(Settings())
    photo = list(pipeline.take_photo(png()))[0].photo
    events = list(pipeline.quick(photo, "read"))
    assert loaders.vlm.calls[-1]["question"] == READ_BY_MODEL
    assert events[-1].answer.remarks[0].text == TEXT_READER_DOWN and not events[-1].answer.remarks[0].after
    asked = list(pipeline.ask(photo, "What does it say?"))
    assert asked[-1].answer.remarks[0].text == TEXT_READER_DOWN and asked[-1].answer.text  # the plain answer


def test_quick_questions_ask_their_own_prompts(loaders):
    from core.pipeline import QUICK

    pipeline = loaders.pipeline(Settings())
    photo = list(pipeline.take_photo(png()))[0].photo
    for name in ("describe", "colours", "people", "ahead"):
        list(pipeline.quick(photo, name))
        assert loaders.vlm.calls[-1]["question"] == QUICK[name].prompt
    assert "clock position" in QUICK["ahead"].prompt and "hazards" in QUICK["ahead"].prompt
    with pytest.raises(Exception, match="describe, read, colours, people, ahead"):
        list(pipeline.quick(photo, "weather"))


def test_a_dose_question_is_double_checked_against_the_reading(loaders):
    from core.checks import REMINDER

    loaders.reader.text = "Paracetamol 500 mg"
    loaders.vlm.answer = "Take 250 mg."
    pipeline = loaders.pipeline(Settings())
    photo = list(pipeline.take_photo(png()))[0].photo
    answer = list(pipeline.ask(photo, "What is the dose?"))[-1].answer
    assert [r.text for r in answer.remarks] == ["Careful: the label says 500 milligrams, not 250 milligrams.", REMINDER]
