"""core.answering as a composition: each stage alone on fakes, stages added or replaced without touching the
others, the composition SeeSay uses, and the shape of the code (small stages, no probing of engines)."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.answering import (DoubleCheck, Generate, Ground, Hear, Judge, Question, ReadAloud, Record, Speak,
                            TakeTurn, compose, run)
from core.checks import REMINDER
from core.engines import Engines
from core.errors import TextReadingError
from core.events import AnswerAudio, AnswerText, Asked, Done, Heard, Queued, Remark, Transcribed
from core.turns import TurnLock
from core.vlm import Token
from tests.fakes import FakeSTT, FakeTTS, FakeVLM, fake_reading

ROOT = Path(__file__).resolve().parent.parent
PHOTO = SimpleNamespace(key="photo-stages")


class Script:
    """A stand-in for the stage that writes the answer: its pieces, each token with probability ``p``."""

    def __init__(self, *pieces: str, p: float | None = None) -> None:
        self.pieces, self.p = pieces, p

    def __call__(self, question, draft, rest):
        for piece in self.pieces:
            draft.text += piece
            if self.p is not None:
                draft.tokens.extend(Token(word, math.log(self.p)) for word in re.findall(r"\s*\S+", piece))
            yield AnswerText(piece)
        yield from rest(question)


class Seen:
    """Passes everything on; keeps each question that came down to it."""

    def __init__(self) -> None:
        self.questions: list[Question] = []

    def __call__(self, question, draft, rest):
        self.questions.append(question)
        yield from rest(question)


class Greet:
    """A stage SeeSay does not have: a greeting before every answer."""

    def __call__(self, question, draft, rest):
        yield Remark("Hello.")
        yield from rest(question)


def asked(text="What is this?", **fields) -> Question:
    return Question(PHOTO, text=text, **fields)


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


# --- each stage alone ----------------------------------------------------------------------------


def test_hear_tidies_a_typed_question_finds_its_language_and_says_it_back():
    seen = Seen()
    events = list(run(asked("  ¿De qué   color es el coche? "), [Hear(None), seen]))
    assert events[0] == Asked("¿De qué color es el coche?", "es") and kinds(events) == ["Asked", "Done"]
    assert seen.questions[0].text == "¿De qué color es el coche?" and seen.questions[0].asked_in == "es"
    quick = list(run(asked("Describe this photo for me.", shown="Describe the photo", asked_in="en"), [Hear(None)]))
    assert quick[0] == Asked("Describe the photo", "en") and quick[-1].answer.question == "Describe the photo"


def test_hear_writes_down_a_recording_for_the_stages_after_it():
    from tests.test_pipeline import speech_wav

    seen = Seen()
    events = list(run(Question(PHOTO, recording=speech_wav()), [Hear(FakeSTT(text="Is the door open?")), seen]))
    assert kinds(events) == ["Heard", "Transcribed", "Asked", "Done"]
    assert seen.questions[0].text == "Is the door open?" and seen.questions[0].recording is None
    assert events[-1].answer.transcript.text == "Is the door open?" and events[-1].answer.engines == {"stt": "fake-stt"}


def test_ground_gives_the_model_the_text_found_or_says_it_could_not_be_read():
    seen = Seen()
    list(run(asked(reading=fake_reading("EXIT\nPlatform 2")), [Ground(), seen]))
    assert seen.questions[0].notes == ("Reference OCR token: EXIT, Platform, 2",)
    unread = list(run(asked(reading=TextReadingError("No.", "Again.")), [Ground(), seen]))
    assert isinstance(unread[0], Remark) and not unread[0].after and "could not read the text" in unread[0].text
    assert seen.questions[1].notes == ()


def test_double_check_holds_the_written_answer_against_the_label():
    events = list(run(asked("What is the dose?", reading=fake_reading("Paracetamol 500 mg")),
                      [DoubleCheck(), Script("Take 250 mg.")]))
    said = [e.text for e in events if isinstance(e, Remark)]
    assert said == ["Careful: the label says 500 milligrams, not 250 milligrams.", REMINDER]
    assert events[-1].answer.double_check.disagreed and events[-1].answer.remarks[-1].after


def test_judge_decides_the_hedge_with_the_first_sentence_once_and_for_all():
    # the first sentence unsure, the rest sure: the whole answer is fairly sure, but its first sentence was
    # spoken before the rest was known, so the answer is hedged; with speech on or off, the same
    first, rest = "the car is red here. ", "It is parked by the kerb near a blue door and a tall green tree."
    events = list(run(asked(), [Judge(), Script(first, p=0.2), Script(rest, p=0.99)]))
    answer = events[-1].answer
    assert answer.hedged and answer.confidence > 0.5
    for speak in (True, False):
        vlm = FakeVLM(answer=first + rest, probabilities={"red": 0.2, "car": 0.2, "*": 0.99})
        done = list(run(asked(), compose(Engines(vlm=vlm, voice=FakeTTS()), speak=speak)))[-1]
        assert done.answer.hedged, f"speak={speak}"


def test_judge_never_hedges_i_cannot_tell():
    events = list(run(asked("What does the label say?"),
                      [Judge(), Generate(FakeVLM(answer="Unanswerable", probabilities={"*": 0.1}))]))
    answer = events[-1].answer
    assert answer.unanswerable and not answer.hedged and answer.text.startswith("I cannot tell")


def test_take_turn_says_how_many_are_ahead_and_gives_the_turn_back():
    lock = TurnLock()
    other = lock.take()  # someone else's question is on the model
    threading.Timer(0.2, lock.release, args=(other,)).start()
    events = list(run(asked(), [TakeTurn(lock), Script("Yes.")]))
    assert events[0] == Queued(1) and "queued" in events[-1].answer.timings and len(lock) == 0


def test_generate_streams_the_models_pieces_with_the_notes_it_needs():
    vlm = FakeVLM(answer="There is a red car.")
    events = list(run(asked(language="fr", notes=("Reference OCR token: STOP",)), [Generate(vlm)]))
    assert "".join(e.text for e in events if isinstance(e, AnswerText)) == "There is a red car."
    assert vlm.calls[0]["notes"] == ["Reference OCR token: STOP",
                                     "When the provided information is insufficient, respond with 'Unanswerable'.",
                                     "Answer in French."]
    assert events[-1].answer.engines == {"vlm": "fake-vlm"} and "generate" in events[-1].answer.timings


def test_speak_says_each_sentence_as_it_ends_before_the_writer_is_done():
    written = threading.Event()

    class Slow:
        def __call__(self, question, draft, rest):
            for piece in ("The first sentence ends here. ", "The second one", " ends here."):
                draft.text += piece
                yield AnswerText(piece)
                time.sleep(0.2)  # the model is still writing
            written.set()
            yield from rest(question)

    voice = FakeTTS()
    events = []
    for event in run(asked(), [Speak(voice), Slow()]):
        events.append((event, written.is_set()))
    clips = [(e.text, done) for e, done in events if isinstance(e, AnswerAudio)]
    assert clips == [("The first sentence ends here.", False), ("The second one ends here.", True)]
    assert events[-1][0].answer.speech is not None and events[-1][0].answer.engines == {"tts": "fake-tts"}


def test_speak_says_remarks_in_their_place_in_the_language_of_seesays_words():
    voice = FakeTTS()
    list(run(asked(language="es"), [Speak(voice), Greet(), Script("Hay un coche rojo."), DoubleCheck()]))
    assert voice.spoken == [("Hello.", "es"), ("Hay un coche rojo.", "es")]  # the setting: Spanish
    voice = FakeTTS()
    list(run(asked(asked_in="pl", ui_language=""), [Speak(voice), Greet(), Script("Jest czerwony samochód.")]))
    assert voice.spoken == [("Hello.", "en"), ("Jest czerwony samochód.", "pl")]  # SeeSay has no Polish words


def test_without_a_voice_the_answer_stays_text_and_says_why():
    events = list(run(asked(), [Speak(None, "No voice is installed."), Script("Yes, it is.")]))
    assert not [e for e in events if isinstance(e, AnswerAudio)]
    assert events[-1].answer.speech is None and events[-1].answer.speech_error == "No voice is installed."


def test_read_aloud_is_the_readers_words_exactly():
    events = list(run(asked("Read the text", reading=fake_reading("Take1 or 2 tablets\nEXP 03/2027")), [ReadAloud()]))
    assert [e.text for e in events if isinstance(e, AnswerText)] == ["Take1 or 2 tablets\nEXP 03/2027"]
    assert events[-1].answer.engines == {"ocr": "fake-ocr"}


def test_record_logs_the_timings_and_the_words_only_when_asked(caplog):
    caplog.set_level("INFO", logger="core")
    list(run(asked("Is my passport here?"), [Record(content=False), Script("It is on the table.")]))
    assert "answered in" in caplog.text and "passport" not in caplog.text
    list(run(asked("Is my passport here?"), [Record(content=True), Script("It is on the table.")]))
    assert "passport" in caplog.text and "table" in caplog.text


# --- the composition -------------------------------------------------------------------------------


def test_seesays_composition_outermost_first():
    engines = Engines(vlm=FakeVLM(), voice=FakeTTS())
    assert [type(s).__name__ for s in compose(engines)] == [
        "Record", "Hear", "Speak", "Ground", "DoubleCheck", "Judge", "TakeTurn", "Generate"]
    assert "Speak" not in [type(s).__name__ for s in compose(engines, speak=False)]
    assert [type(s).__name__ for s in compose(Engines(voice=FakeTTS()), read_aloud=True)] == [
        "Record", "Hear", "Speak", "ReadAloud"]


def test_a_stage_is_added_without_changing_the_others():
    voice = FakeTTS()
    stages = compose(Engines(vlm=FakeVLM(answer="There is a red car."), voice=voice))
    stages.insert(3, Greet())  # after Speak: what it says is spoken like any remark
    events = list(run(asked(), stages))
    # the remark's clip comes when the voice has made it: before or after the first piece of the answer
    assert [k for k in kinds(events) if k != "AnswerAudio"][:3] == ["Asked", "Remark", "AnswerText"]
    assert [text for text, _ in voice.spoken] == ["Hello.", "There is a red car."]
    assert [r.text for r in events[-1].answer.remarks] == ["Hello."]


def test_a_stage_is_replaced_without_changing_the_others():
    voice = FakeTTS()
    stages = compose(Engines(vlm=FakeVLM(), voice=voice))
    stages[-1] = Script("Take 250 mg.", p=0.2)  # another writer in place of the model
    events = list(run(asked("What is the dose?", reading=fake_reading("Paracetamol 500 mg")), stages))
    answer = events[-1].answer
    assert answer.text == "Take 250 mg." and answer.hedged and answer.double_check.disagreed
    assert [text for text, _ in voice.spoken][0] == "I am not sure, but take 250 mg."


def test_done_comes_once_at_the_end_and_is_never_changed():
    events = list(run(asked(), compose(Engines(vlm=FakeVLM(), voice=FakeTTS()))))
    assert [i for i, e in enumerate(events) if isinstance(e, Done)] == [len(events) - 1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[-1].answer.question = "something else"


def test_a_spoken_question_through_every_stage():
    from tests.test_pipeline import speech_wav

    engines = Engines(vlm=FakeVLM(), stt=FakeSTT(text="What is on the sign?"), voice=FakeTTS())
    events = list(run(Question(PHOTO, recording=speech_wav(), reading=fake_reading("STOP")), compose(engines)))
    assert kinds(events)[:3] == ["Heard", "Transcribed", "Asked"] and isinstance(events[-1], Done)
    assert isinstance(events[0], Heard) and isinstance(events[1], Transcribed)
    assert engines.vlm.calls[0]["notes"][0] == "Reference OCR token: STOP"
    assert set(events[-1].answer.engines) == {"stt", "vlm", "tts"}


# --- the shape of the code -----------------------------------------------------------------------------


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_every_stage_and_helper_of_answering_is_short():
    long = {f"{p.name}:{f.name}": f.end_lineno - f.lineno + 1 for p in (ROOT / "core/answering").glob("*.py")
            for f in _functions(p) if f.end_lineno - f.lineno + 1 > 60}
    assert not long, long


def test_engines_are_called_through_their_protocol_never_probed():
    probing = []
    for path in [*(ROOT / "core/answering").glob("*.py"), ROOT / "core/pipeline.py", ROOT / "core/engines.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
                probing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.id}")
    assert not probing, probing
