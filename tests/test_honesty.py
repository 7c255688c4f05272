"""Saying it honestly, on scripted engines: "Unanswerable" becomes what to change, a confidence from the
model's own token probabilities (a hedge when it is low), and the double-check of doses, amounts and
dates against the label's text. The real OCR and labels are in tests/test_honesty_labels.py."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.checks import REMINDER, domain, double_check, values
from core.confidence import THRESHOLD, confidence, hedge, in_words
from core.engines import Engines
from core.events import AnswerAudio, AnswerText, Done, Remark
from core.honesty import ANSWERABLE_NOTE, Answerability, cannot_tell
from core.vlm import Token
from tests.fakes import FakeTTS, FakeVLM, fake_reading
from tests.fakes import answer as answer_on

PHOTO = SimpleNamespace(key="photo-honest")


def run(vlm, question="What is this?", label=None, speak=True, off_right=False):
    """``label``: the text found in the photo (None: it could not be read)."""
    tts = FakeTTS()
    reading = None if label is None else fake_reading(label, off_right=off_right)
    events = list(answer_on(Engines(vlm=vlm, voice=tts), PHOTO, question, speak=speak, reading=reading))
    return events, tts


def spoken(tts) -> list[str]:
    return [text for text, _ in tts.spoken]


def tokens(*pairs) -> list[Token]:
    return [Token(text, math.log(p)) for text, p in pairs]


# --- confidence ---------------------------------------------------------------------------------

def test_confidence_is_unknown_without_probabilities():
    assert confidence(None).value is None and confidence([]).value is None
    assert confidence(tokens((" the", 0.2), (" is", 0.1))).value is None  # no content words
    assert not confidence(None).unsure  # unknown is never hedged
    assert "cannot tell" in in_words(None)


def test_confidence_counts_content_words_made_of_tokens():
    sure = confidence(tokens(("There", 0.3), (" is", 0.5), (" a", 0.4), (" red", 0.9), (" cart", 0.8),
                             ("ri", 0.9), ("dge", 0.9), (".", 0.2)))
    assert [w for w, _ in sure.words] == ["red", "cartridge"]  # function words and "." left out
    expected = (0.9 * (0.8 * 0.9 * 0.9)) ** (1 / 2)
    assert sure.value == pytest.approx(expected, abs=1e-3) and not sure.unsure


def test_one_unsure_number_makes_the_answer_unsure():
    answer = tokens(("Take", 0.95), (" 500", 0.2), (" mg", 0.95), (" daily", 0.95))
    result = confidence(answer)
    assert result.value == pytest.approx(0.2, abs=1e-3) and result.unsure and result.weakest == "500"


def test_hedge_and_words():
    assert hedge("There is a red car.") == "I am not sure, but there is a red car."
    assert hedge("I see a cup.") == "I am not sure, but I see a cup."
    assert hedge("NASA is written on it.") == "I am not sure, but NASA is written on it."
    assert "not sure" in in_words(THRESHOLD - 0.01) and "fairly sure" in in_words(0.9)


# --- answerability --------------------------------------------------------------------------------

@pytest.mark.parametrize("pieces", [["Unanswerable"], ["Un", "answer", "able", "."], [" 'Unans", "werable'"]])
def test_the_bare_word_is_caught(pieces):
    gate = Answerability()
    assert "".join(gate.feed(p) for p in pieces) == "" and gate.unanswerable


@given(st.lists(st.sampled_from(["Un", "der", " the", " table", "U", "n", "able", "known", " red", "."]),
                min_size=1, max_size=8))
def test_everything_else_passes_through_whole(pieces):
    text = "".join(pieces)
    gate = Answerability()
    out = "".join(gate.feed(p) for p in pieces) + gate.finish()
    if text.strip().lower().startswith("unanswerable"):
        assert gate.unanswerable and out == ""
    else:
        assert out == text and not gate.unanswerable


def test_every_question_tells_the_model_it_may_say_so():
    vlm = FakeVLM()
    run(vlm)
    assert ANSWERABLE_NOTE in vlm.calls[0]["notes"]


@pytest.mark.parametrize("question, words", [
    ("What does the label say?", "writing"), ("What colour is this shirt?", "light"),
    ("Who is in the photo?", "people"), ("What is this?", "point the camera"),
    ("¿Qué dice la etiqueta?", "writing")])
def test_unanswerable_becomes_what_to_change_never_the_bare_word(question, words):
    vlm = FakeVLM(answer="Unanswerable", probabilities={"*": 0.95})
    events, tts = run(vlm, question)
    shown = "".join(e.text for e in events if isinstance(e, AnswerText))
    answer = events[-1].answer
    assert "unanswerable" not in shown.lower() and "unanswerable" not in " ".join(spoken(tts)).lower()
    said_in = "es" if question.startswith("¿") else "en"  # SeeSay's words in the question's language
    assert answer.unanswerable and answer.text == shown == cannot_tell(question, said_in)
    assert words in cannot_tell(question).lower() and "I cannot tell" in cannot_tell(question)
    assert not answer.hedged


def test_an_answer_that_only_begins_like_it_is_kept():
    events, _ = run(FakeVLM(answer="Under the table there is a cat."))
    assert events[-1].answer.text == "Under the table there is a cat." and not events[-1].answer.unanswerable


# --- the hedge, on the spoken answer --------------------------------------------------------------

def test_an_unsure_answer_is_spoken_with_a_hedge():
    vlm = FakeVLM(answer="There is a red car. It is parked by the kerb.", probabilities={"*": 0.3})
    events, tts = run(vlm)
    said = spoken(tts)
    assert said[0] == "I am not sure, but there is a red car."
    answer = events[-1].answer
    assert answer.hedged and answer.confidence == pytest.approx(0.3, abs=0.01)
    assert answer.text.startswith("There is a red car.")  # the words shown are the model's own


def test_a_sure_answer_is_not_hedged():
    vlm = FakeVLM(answer="There is a red car. It is parked by the kerb.", probabilities={"*": 0.97})
    events, tts = run(vlm)
    assert spoken(tts)[0] == "There is a red car." and not events[-1].answer.hedged
    assert events[-1].answer.confidence > 0.9


def test_without_probabilities_the_confidence_is_unknown_not_invented():
    events, tts = run(FakeVLM(answer="There is a red car. It is parked."))
    answer = events[-1].answer
    assert answer.confidence is None and not answer.hedged and not spoken(tts)[0].startswith("I am not sure")


def test_a_short_answer_is_hedged_too():
    events, tts = run(FakeVLM(answer="Red.", probabilities={"*": 0.2}))
    assert spoken(tts) == ["I am not sure, but red."] and events[-1].answer.hedged


# --- the double-check -------------------------------------------------------------------------------

def test_values_in_text():
    found = [(v.kind, v.key) for v in values("Ibuprofen 200 mg. Take 1 or 2 tablets. EXP 03/2027. $4.99")]
    assert found == [("dose", "200 milligrams"), ("number", "1"), ("dose", "2 tablets"), ("date", "2027-03"),
                     ("money", "4.99 dollars")]
    assert [(v.kind, v.key) for v in values("Best before 12 March 2027, 2,5 ml, 20€")] == [
        ("date", "2027-03-12"), ("dose", "2.5 millilitres"), ("money", "20 euros")]


@pytest.mark.parametrize("question, expected", [
    ("How much should I take?", "medicine"), ("¿Cuál es la dosis?", "medicine"), ("Quelle est la posologie ?", "medicine"),
    ("What note is this?", "money"), ("¿Cuánto cuesta?", "money"), ("Does it contain nuts?", "allergens"),
    ("When does it expire?", "dates"), ("Wann läuft es ab? Datum?", "dates"), ("What colour is the car?", None)])
def test_what_matters(question, expected):
    assert domain(question) == expected


def test_agreeing_dose_is_read_back_from_the_label():
    check = double_check("How much should I take?", "Take 500 mg with water.", "Paracetamol 500 mg. Take 1 tablet.")
    assert check.agreed and not check.disagreed and not check.invented
    assert check.remarks == ("The label says 500 milligrams.", REMINDER)


def test_disagreeing_dose_gives_the_labels_own_reading():
    check = double_check("What is the dose?", "The dose is 250 mg.", "Paracetamol 500 mg")
    assert check.remarks[0] == "Careful: the label says 500 milligrams, not 250 milligrams."
    assert check.remarks[-1] == REMINDER


def test_a_number_the_model_invents_is_called_out():
    check = double_check("How many should I take?", "Take 3 tablets, 40 mg each.", "Take 2 tablets daily")
    assert any("the label says 2 tablets, not 3 tablets" in r for r in check.remarks)
    assert "Careful: I cannot find 40 milligrams in the text of this photo." in check.remarks


def test_no_readable_text_says_so_and_how_to_take_a_better_photo():
    for label in ("", "   "):
        check = double_check("When does this expire?", "It expires in June 2026.", label)
        assert check.remarks[0].startswith("I found no readable date in this photo.")
        assert "Point the camera" in check.remarks[0] and check.remarks[-1] == REMINDER


def test_a_question_in_another_language_is_checked():
    check = double_check("¿Cuánto debo tomar?", "Tome 250 mg.", "Ibuprofeno 400 mg")
    assert check.domain == "medicine" and check.remarks[0] == "Careful: the label says 400 milligrams, not 250 milligrams."


def test_checks_are_said_after_the_answer_with_the_reminder_last():
    vlm = FakeVLM(answer="It says to take 250 mg.", probabilities={"*": 0.9})
    events, tts = run(vlm, "What is the dose?", label="Ibuprofen 200 mg tablets")
    remarks = [e for e in events if isinstance(e, Remark)]
    assert [r.after for r in remarks] == [True, True]
    assert remarks[-1].text == REMINDER
    said = spoken(tts)
    assert said[-2:] == ["Careful: the label says 200 milligrams, not 250 milligrams.", REMINDER]
    assert said[0] == "It says to take 250 mg."  # the answer first, then the check
    clips = [e for e in events if isinstance(e, AnswerAudio)]
    assert [c.text for c in clips][-1] == REMINDER
    assert events[-1].answer.double_check.disagreed and events[-1].answer.remarks[-1].text == REMINDER


def test_when_the_text_could_not_be_read_the_reminder_still_comes():
    events, _ = run(FakeVLM(answer="Take 2 tablets."), "How many tablets?", label=None)
    assert [e.text for e in events if isinstance(e, Remark)] == [REMINDER]
    assert events[-1].answer.double_check is None


def test_questions_that_do_not_matter_get_no_check():
    events, _ = run(FakeVLM(answer="The car is red."), "What colour is the car?", label="STOP")
    assert not [e for e in events if isinstance(e, Remark)]


def test_framing_advice_comes_with_questions_about_text_only():
    advice = ["The text runs off the right edge. Move the phone a little to the right, or step back."]
    events, _ = run(FakeVLM(answer="It says open."), "What does the sign say?", label="OPE", off_right=True)
    assert [e.text for e in events if isinstance(e, Remark)] == advice
    events, _ = run(FakeVLM(answer="A red car."), "What colour is the car?", label="OPE", off_right=True)
    assert not [e for e in events if isinstance(e, Remark)]


def test_a_reply_without_voice_still_carries_everything():
    events, _ = run(FakeVLM(answer="Take 500 mg.", probabilities={"*": 0.2}), "What is the dose?",
                    label="500 mg", speak=False)
    answer = events[-1].answer
    assert answer.hedged and answer.confidence < THRESHOLD and answer.double_check.agreed
    assert isinstance(events[-1], Done)


# --- agreement between sampled answers (where asked for) ----------------------------------------------

class SamplingVLM(FakeVLM):
    """A scripted model that, sampled again, says what ``again`` lists (one per seed)."""

    def __init__(self, answer, again, **kwargs):
        super().__init__(answer=answer, can_sample=True, **kwargs)
        self.again, self.sampled = again, []

    def sample(self, photo, history, question, *, max_new_tokens, notes=(), temperature=0.7, seed=0):
        self.sampled.append((question, seed, list(notes)))
        return self.again[seed]


def test_agreement_is_the_share_of_content_words_in_common():
    from core.confidence import agreement

    assert agreement("Take 2 tablets.", ["Take 2 tablets.", "Take two tablets daily."]) == pytest.approx(
        (1 + 3 / 4) / 2, abs=1e-3)  # "two" is "2"; "daily" is new
    assert agreement("Take 2 tablets.", ["Take 3 tablets."]) == pytest.approx(2 / 4, abs=1e-3)  # the numbers differ
    assert agreement("Take 2 tablets.", []) is None and agreement("the", ["a"]) is None


def test_answers_given_again_differently_lower_the_confidence_and_are_said(tmp_path):
    from core.answering import DIFFERENT_AGAIN

    vlm = SamplingVLM("There is a red car.", ["A blue bicycle.", "A green tree."], probabilities={"*": 0.95})
    tts = FakeTTS()
    events = list(answer_on(Engines(vlm=vlm, voice=tts), PHOTO, "What is this?", samples=2))
    answer = events[-1].answer
    assert [seed for _, seed, _ in vlm.sampled] == [0, 1] and vlm.sampled[0][2] == vlm.calls[0]["notes"]
    assert answer.agreement == 0 and answer.confidence == 0  # the lower of the two
    assert spoken(tts)[0] == "There is a red car." and spoken(tts)[-1] == DIFFERENT_AGAIN
    assert [e.text for e in events if isinstance(e, Remark)] == [DIFFERENT_AGAIN]


def test_answers_given_again_the_same_keep_the_confidence():
    vlm = SamplingVLM("There is a red car.", ["There is a red car.", "A red car is there."],
                      probabilities={"*": 0.9})
    events = list(answer_on(Engines(vlm=vlm), PHOTO, "What is this?", samples=2))
    done = events[-1].answer
    assert done.agreement == 1.0 and done.confidence == pytest.approx(0.9, abs=0.01)
    assert not [e for e in events if isinstance(e, Remark)]


def test_without_samples_or_a_sampling_engine_nothing_is_sampled():
    vlm = SamplingVLM("There is a red car.", ["x"])
    assert list(answer_on(Engines(vlm=vlm), PHOTO, "What is this?"))[-1].answer.agreement is None and not vlm.sampled
    plain = list(answer_on(Engines(vlm=FakeVLM()), PHOTO, "What is this?", samples=3))
    assert plain[-1].answer.agreement is None  # an engine that cannot sample: not measured, not invented
