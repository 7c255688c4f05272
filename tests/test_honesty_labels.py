"""Saying it honestly on the real text reader (PP-OCRv4) and labels rendered by the tests: the
double-check's wording, as shown on the page (the Remark events a screen reader reads) and as the
voice says it, for agreeing and disagreeing doses, a banknote-like label, an expiry date, no text at
all, a number the model invents, and a question in Spanish. The model is scripted (random weights say
nothing); the labels are read for real."""

from __future__ import annotations

import pytest

from core.checks import REMINDER
from core.config import Settings
from core.engines import Choices, Loaders, Models
from core.events import Done, Remark
from core.pipeline import Pipeline
from core.testmodels.labels import printed, samples
from tests.fakes import FakeTTS, FakeVLM

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def reader():
    from core.ocr import load_ocr

    return load_ocr()


@pytest.fixture
def pipeline(reader):
    """The real pipeline with the real text reader, a scripted model and a recording voice."""
    vlm, voice = FakeVLM(), FakeTTS(name="offline")
    settings = Settings(tts_engine="offline")
    pipe = Pipeline(settings, Models(settings, Loaders.given(vlm=vlm, voice=voice, ocr=reader)))
    pipe.vlm, pipe.voice = vlm, voice
    return pipe


def ask(pipeline, image, question: str, answer: str):
    from tests.media import image_bytes

    pipeline.vlm.answer = answer
    pipeline.voice.spoken.clear()
    photo = [e for e in pipeline.take_photo(image_bytes(image, "PNG"), Choices(), anyway=True)][0].photo
    events = list(pipeline.ask(photo, question, (), Choices()))
    assert isinstance(events[-1], Done)
    shown = [e.text for e in events if isinstance(e, Remark) and e.after]
    said = [text for text, _ in pipeline.voice.spoken]
    return events[-1].answer, shown, said


def medicine():
    return next(s for s in samples(["clean"]) if s.kind == "label").image  # Ibuprofen 200 mg, EXP 03/2027


def test_an_agreeing_dose_is_read_back_from_the_label(pipeline):
    answer, shown, said = ask(pipeline, medicine(), "What is the dose?", "Each tablet is 200 mg.")
    assert shown == ["The label says 200 milligrams.", REMINDER]
    assert said == ["Each tablet is 200 mg.", "The label says 200 milligrams.", REMINDER]
    assert answer.double_check.agreed and not answer.double_check.disagreed


def test_a_disagreeing_dose_gives_the_labels_own_reading(pipeline):
    answer, shown, said = ask(pipeline, medicine(), "How much ibuprofen is in a tablet?", "Each tablet has 400 mg.")
    assert shown == ["Careful: the label says 200 milligrams, not 400 milligrams.", REMINDER]
    assert said[-2:] == shown


def test_a_number_the_model_invents_is_called_out(pipeline):
    answer, shown, _ = ask(pipeline, medicine(), "How many tablets can I take?",
                           "Take 2 tablets with 250 ml of water.")
    assert shown == ["Careful: I cannot find 250 millilitres in the text of this photo.", "The label says 2 tablets.",
                     REMINDER]
    assert answer.double_check.invented and answer.double_check.agreed


def test_an_expiry_date_agrees_in_other_words(pipeline):
    label = printed(["BEST BEFORE", "EXP 03/2027", "LOT 4471"]).image
    answer, shown, _ = ask(pipeline, label, "When does this expire?", "It expires in March 2027.")
    assert shown == ["The label says March 2027.", REMINDER]


def test_an_expiry_date_that_disagrees(pipeline):
    label = printed(["BEST BEFORE", "EXP 03/2027", "LOT 4471"]).image
    _, shown, _ = ask(pipeline, label, "When does this expire?", "It expires in May 2026.")
    assert shown == ["Careful: the label says March 2027, not May 2026.", REMINDER]


def test_a_banknote_like_label(pipeline):
    note = printed(["BANK OF SEESAY", "TWENTY EUROS", "€20"]).image
    _, shown, _ = ask(pipeline, note, "What note is this?", "This is a 20 euro note.")
    assert shown == ["The label says 20 euros.", REMINDER]
    _, shown, _ = ask(pipeline, note, "What note is this?", "This is a 50 euro note.")
    assert shown == ["Careful: the label says 20 euros, not 50 euros.", REMINDER]


def test_no_text_at_all_says_so_and_how_to_take_a_better_photo(pipeline):
    from core.testmodels.labels import no_text_photos

    _, photo = no_text_photos()[0]
    _, shown, said = ask(pipeline, photo, "What is the expiry date?", "It expires in 2026.")
    assert shown[0].startswith("I found no readable date in this photo.") and "Point the camera" in shown[0]
    assert said[-2:] == shown and shown[-1] == REMINDER


def test_a_question_in_spanish_gets_the_check_in_spanish(pipeline):
    from core.i18n import translator

    _, shown, said = ask(pipeline, medicine(), "¿Cuál es la dosis?", "La dosis es 400 mg.")
    assert shown == ["Cuidado: la etiqueta dice 200 miligramos, no 400 miligramos.", translator("es")(REMINDER)]
    assert translator("es")(REMINDER) != REMINDER and said[-2:] == shown
