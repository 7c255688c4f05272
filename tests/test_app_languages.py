"""SeeSay's own words in the person's language, in the app: the Language setting, the language of the last
question, the browser's; the page's ``lang``; the browser side's words (AppTest, tiny models)."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_app import (ASK, SETTINGS, announced, app, app_env, assert_no_crash, ask_typed,  # noqa: F401 (a fixture)
                            session, with_photo)


def _config(at) -> dict:
    """The last config the page gave the browser side (language, words)."""
    found = [json.loads(m) for h in at.get("html") for m in re.findall(r'\((\{"config".*?\})\);</script>', h.value)]
    assert found, "the page gave the browser side no config"
    return found[-1]["config"]


# --- pure parts ---------------------------------------------------------------------------------

def test_the_words_language_is_the_setting_then_the_last_question_then_the_browser():
    from ui.state import Session
    from ui.words import language

    s = Session()
    assert language(s) == "en"  # nothing known: English
    s.browser_language = "fr"
    assert language(s) == "fr" and s.choices().ui_language == "fr"
    s.last_language = "de"  # a question in German since
    assert language(s) == "de" and s.choices().ui_language == "de"
    assert language(s, heard="it") == "it"  # this question was heard in Italian
    s.set_prefs(language="es")  # the person's setting wins over all of them
    assert language(s) == "es" and language(s, heard="it") == "es" and s.choices().language == "es"
    s.set_prefs(language="ja")  # answers only: SeeSay's words follow the question, else the browser
    assert language(s) == "de"


def test_the_browser_language_comes_from_the_locale_else_the_accept_language_header(monkeypatch):
    import types

    from ui import words

    fake = types.SimpleNamespace(context=types.SimpleNamespace(locale="es-MX", headers={}))
    monkeypatch.setattr(words, "st", fake)
    assert words.browser_language() == "es"
    fake.context = types.SimpleNamespace(locale="ja-JP", headers={"Accept-Language": "ja,pt-BR;q=0.8,en;q=0.5"})
    assert words.browser_language() == "pt"  # the first language SeeSay speaks
    fake.context = types.SimpleNamespace(locale=None, headers={"Accept-Language": "ko"})
    assert words.browser_language() == ""


def test_a_question_in_spanish_makes_it_the_last_language():
    from core.pipeline import Answer
    from ui.state import Session

    s = Session()
    s.add_entry(kind="describe", photo_key="k", answer=Answer(question="Describe", language="en", text="x"))
    assert s.last_language == ""  # SeeSay's own request says nothing of the person's language
    s.add_entry(kind="typed", photo_key="k", answer=Answer(question="¿Qué es?", language="es", text="y",
                                                           question_language="es"))
    assert s.last_language == "es"


# --- the app --------------------------------------------------------------------------------------

@pytest.mark.models
def test_a_spanish_setting_gives_spanish_pages(app_env):
    at = app(SETTINGS)
    assert_no_crash(at)
    assert at.title[0].value == "Settings" and _config(at)["lang"] == "en"
    language = at.selectbox(key="pref-language")
    assert language.options[:8] == ["Automatic", "English", "Español", "Français", "Deutsch", "Italiano",
                                    "Português", "Nederlands"]  # each language by its own name
    language.set_value("es").run()
    assert_no_crash(at)
    # the page, its controls' names, the browser side's words and <html lang>, all in Spanish
    assert at.title[0].value == "Ajustes"
    assert [h.value for h in at.header][:3] == ["Idioma", "Voz", "Respuestas"]
    assert at.selectbox(key="pref-language").label == "Idioma"
    assert at.toggle(key="pref-auto_speak").label == "Leer las respuestas automáticamente"
    assert at.radio(key="pref-rate").options[1] == "1x (normal)" and "1,5x" in at.radio(key="pref-rate").options
    config = _config(at)
    assert config["lang"] == "es"
    assert config["words"]["stop"] == "Dejar de hablar" and config["words"]["take_photo"] == "Hacer foto"
    assert "Leer respuestas: activado" in at.sidebar.caption[0].value


@pytest.mark.models
def test_a_question_in_spanish_turns_the_pages_to_spanish(app_env):
    at = with_photo(ASK)
    assert at.title[0].value == "Ask by voice"
    ask_typed(at, "¿Qué hay en la foto? ¿De qué color es la camisa?")
    assert_no_crash(at)
    s = session(at)
    assert s.entries[-1].question_language == "es" and s.last_language == "es"
    assert "Respuesta lista." in announced(at)  # the status in the question's language
    at.run()
    assert at.title[0].value == "Preguntar por voz" and _config(at)["lang"] == "es"
    assert [b.label for b in at.button if b.label == "Nueva foto"]
    assert at.text_input(key="ask-text").label == "O escribe tu pregunta"
