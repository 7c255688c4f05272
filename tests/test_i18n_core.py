"""SeeSay's own words from core in the person's language (issue 20): the one rule that picks the language
(core.i18n.words_language), and each kind of text said in Spanish for a Spanish question: photo guidance,
the hedge, the double-check's remarks, "I cannot tell", errors, framing advice, and the command line's
guidance for a dark photo (the done-when). The Spanish texts themselves are the catalogue's: the tests
assert on the language of what is said (a Spanish text, not the English), not on every word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from core import aiming, catalogue
from core.checks import REMINDER, double_check
from core.confidence import hedge, in_words
from core.engines import Choices, Engines
from core.errors import ImageError
from core.events import AnswerText, Done, Remark
from core.honesty import cannot_tell
from core.i18n import LANGUAGES, LanguageName, Phrase, translator, words_language
from core.images import load_photo
from core.ocr import NO_TEXT, framing
from core.quality import check_quality
from tests.fakes import FakeTTS, FakeVLM, fake_reading
from tests.fakes import answer as answer_on
from tests.media import scene

ROOT = Path(__file__).resolve().parent.parent
PHOTO = SimpleNamespace(key="photo-i18n")
ES = translator("es")


def dark_photo() -> Image.Image:
    """A scene taken with the lights off: every part of it under a fifth of white."""
    return scene(3).point(lambda v: v // 6)


# --- the language of SeeSay's words: one rule -----------------------------------------------------

def test_the_words_language_is_the_setting_then_the_question_then_the_app_then_english():
    assert words_language(Choices(language="de", ui_language="fr"), "es") == "de"  # the person's setting
    assert words_language(Choices(ui_language="fr"), "es") == "es"  # else this question's language
    assert words_language(Choices(ui_language="fr-FR"), None) == "fr"  # else last question's / browser's
    assert words_language(Choices(), "") == "en" and words_language(None) == "en"
    assert words_language(Choices(ui_language="it"), "pl") == "it"  # a question in a language SeeSay lacks
    assert words_language(Choices(language="pl"), "es") == "es"  # a setting SeeSay cannot speak is passed over


def test_a_question_knows_the_language_of_seesays_words():
    from core.answering import Question

    assert Question(PHOTO, asked_in="es", ui_language="fr").words_language == "es"
    assert Question(PHOTO, language="de", asked_in="es").words_language == "de"
    assert Question(PHOTO, asked_in="pl", ui_language="nl").words_language == "nl"
    assert Question(PHOTO, asked_in="en", words="es").words_language == "es"  # a quick question's name


# --- each kind of text, in Spanish ---------------------------------------------------------------

def test_photo_guidance_in_spanish():
    english = check_quality(dark_photo())
    spanish = check_quality(dark_photo(), language="es")
    assert [f.kind for f in spanish.findings] == [f.kind for f in english.findings] and spanish.findings
    assert spanish.guidance.startswith(ES("The photo is too dark. Turn on a light or move somewhere brighter, "
                                          "then take it again."))
    assert spanish.guidance != english.guidance and "oscura" in spanish.guidance
    assert english.said_in("es").guidance == spanish.guidance  # the language changed after the check
    assert spanish.said_in("en").guidance == english.guidance


def test_the_hedge_and_the_confidence_in_spanish():
    assert hedge("Hay un coche rojo.", "es") == "No estoy seguro, pero hay un coche rojo."
    assert hedge("There is a red car.") == "I am not sure, but there is a red car."
    # German nouns keep their capital after the hedge; other first words lose theirs
    german = hedge("Äpfel liegen auf dem Tisch.", "de")
    assert german.endswith(" Äpfel liegen auf dem Tisch.") and not german.startswith("I am")
    assert hedge("Es gibt ein rotes Auto.", "fr").endswith("es gibt ein rotes Auto.")
    assert in_words(0.9, "es") != in_words(0.9) and "SeeSay" in in_words(0.9, "es")


def test_double_check_remarks_and_values_in_spanish():
    check = double_check("¿Cuánto debo tomar?", "Toma 400 mg.", "Ibuprofeno 200 mg comprimidos", "es")
    assert check.remarks == ("Cuidado: la etiqueta dice 200 miligramos, no 400 miligramos.", ES(REMINDER))
    agreed = double_check("¿Cuándo caduca?", "Caduca en 03/2027.", "CAD 03/2027", "es")
    assert agreed.remarks[0] == "La etiqueta dice marzo de 2027."
    money = double_check("¿Cuánto dinero es?", "Son 20 euros.", "20 €", "es")
    assert money.remarks[0] == "La etiqueta dice 20 euros."
    tablets = double_check("¿Cuántas pastillas tomo?", "Toma 2 tablets.", "Take 1 tablet daily", "es")
    assert tablets.remarks[0] == "Cuidado: la etiqueta dice 1 comprimido, no 2 comprimidos."
    nothing = double_check("¿Qué dosis tomo?", "500 mg", "", "es")
    assert nothing.remarks[0].startswith("No encontré ninguna dosis legible")
    english = double_check("How much should I take?", "Take 400 mg.", "Ibuprofen 200 mg tablets")
    assert english.remarks == ("Careful: the label says 200 milligrams, not 400 milligrams.", REMINDER)


def test_cannot_tell_and_framing_advice_in_spanish():
    said = cannot_tell("¿Qué dice la etiqueta?", "es")
    assert said == ES(cannot_tell("What does the label say?")) and said.startswith("No lo sé por esta foto")
    advice = framing(fake_reading("Ibuprofeno 200 mg", off_right=True), "es")
    assert advice and advice[0].kind == "off-right" and "derecha" in advice[0].guidance
    assert ES(NO_TEXT) != NO_TEXT


def test_an_error_from_core_is_said_in_spanish_with_its_numbers():
    with pytest.raises(ImageError) as caught:
        load_photo(b"x" * 3_000_000, max_bytes=2 * 1024 * 1024, max_pixels=10**8, max_side=1344)
    error = caught.value
    assert error.spoken.startswith("The photo is too big: 2.9 megabytes.")
    assert error.spoken_in("es").startswith("La foto es demasiado grande: 2,9 megabytes.")


def test_placeholder_phrases_and_language_names_are_said_in_the_messages_language():
    assert translator("es")("SeeSay could not download {model}: the disk is full.",
                            model=Phrase("the answering model")) == \
        "SeeSay no pudo descargar el modelo que responde: el disco está lleno."
    assert translator("en")("The online voice cannot speak {language}.", language=LanguageName("es")) == \
        "The online voice cannot speak Spanish."
    assert "español" in translator("es")("The online voice cannot speak {language}.", language=LanguageName("es"))


def test_the_live_cameras_words_come_from_python_in_the_persons_language():
    spanish = aiming.words("es")
    assert set(spanish) == {"cues", "messages", "labels"}
    assert set(spanish["cues"]) == set(aiming.CUES) and spanish["cues"]["dark"] != aiming.CUES["dark"]
    assert aiming.words("en")["labels"] == aiming.LABELS


# --- through the stages --------------------------------------------------------------------------

def test_a_spanish_question_hears_seesays_words_in_spanish():
    vlm = FakeVLM(answer="Toma 400 mg.", probabilities={"*": 0.1})
    tts = FakeTTS()
    events = list(answer_on(Engines(vlm=vlm, voice=tts), PHOTO, "¿Cuánto ibuprofeno debo tomar?",
                            reading=fake_reading("Ibuprofeno 200 mg")))
    remarks = [e.text for e in events if isinstance(e, Remark)]
    assert remarks[-1] == ES(REMINDER) and remarks[0].startswith("Cuidado: la etiqueta dice 200 miligramos")
    spoken = [(text, language) for text, language in tts.spoken]
    assert spoken[0][0].startswith("No estoy seguro, pero")  # the hedge, in Spanish
    assert all(language == "es" for _, language in spoken)  # the answer's voice and SeeSay's words alike
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and answer.question_language == "es" and answer.hedged


def test_the_unanswerable_is_turned_into_spanish_advice():
    vlm = FakeVLM(answer="Unanswerable")
    events = list(answer_on(Engines(vlm=vlm), PHOTO, "¿De qué color es la camisa?", speak=False))
    text = "".join(e.text for e in events if isinstance(e, AnswerText))
    assert text == cannot_tell("¿De qué color es la camisa?", "es") and text.startswith("No distingo el color")


def test_a_setting_outranks_the_questions_language():
    vlm = FakeVLM(answer="Take 400 mg.")
    events = list(answer_on(Engines(vlm=vlm), PHOTO, "How much should I take?", speak=False, language="es",
                            reading=fake_reading("Ibuprofen 200 mg")))
    assert [e.text for e in events if isinstance(e, Remark)][-1] == ES(REMINDER)


# --- the catalogue: every message of core in Spanish ---------------------------------------------

def test_every_message_of_core_has_its_spanish_with_its_placeholders():
    spanish = catalogue.problems().get("es", [])
    assert not spanish, "\n".join(spanish[:20])
    assert "code" not in catalogue.problems()  # no message built at run time
    assert "es" in LANGUAGES


# --- the command line: the done-when --------------------------------------------------------------

def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEESAY_")}
    env.update(SEESAY_DEVICE="cpu", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "core", "ask", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_says_a_dark_photos_guidance_in_the_questions_language(tmp_path):
    photo = tmp_path / "dark.png"
    dark_photo().save(photo)
    done = _cli(tmp_path, "--image", str(photo), "--question", "¿Qué hay en la foto?")
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == check_quality(dark_photo(), language="es").guidance
    assert "oscura" in done.stdout and "--anyway" in done.stderr and "Add --anyway" not in done.stderr
    english = _cli(tmp_path, "--image", str(photo), "--question", "What is in the photo?")
    assert english.returncode == 3 and english.stdout.startswith("The photo is too dark.")
    setting = _cli(tmp_path, "--image", str(photo), "--question", "What is in the photo?", "--language", "es",
                   "--json")
    assert setting.returncode == 3 and json.loads(setting.stdout)["guidance"].startswith("La foto está")


def test_the_cli_says_its_errors_in_the_questions_language(tmp_path):
    done = _cli(tmp_path, "--image", str(tmp_path / "missing.png"), "--question", "¿Qué hay en la foto?")
    assert done.returncode == 2 and done.stderr.startswith("No encontré el archivo")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    said = _cli(tmp_path, "--image", str(empty), "--question", "¿Qué hay en la foto?")
    assert said.returncode == 2 and said.stderr.strip() == ImageError(
        "The photo is empty: no picture arrived.", "Please take the photo again, or choose another picture."
    ).spoken_in("es")

