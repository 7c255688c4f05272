import pytest

from core.language import (
    base_language,
    detect_language,
    espeak_voice,
    gtts_language,
    is_right_to_left,
    language_name,
)

QUESTIONS = [
    ("What colour is this shirt?", "en"),
    ("Is there a bus stop nearby?", "en"),
    ("¿De qué color es este coche?", "es"),
    ("Qu'est-ce qu'il y a sur la table ?", "fr"),
    ("Was steht auf diesem Schild?", "de"),
    ("Che cosa c'è in questa foto?", "it"),
    ("O que está escrito nesta placa?", "pt"),
    ("Wat staat er op dit bord?", "nl"),
    ("Что изображено на этой фотографии?", "ru"),
    ("Що зображено на цій фотографії?", "uk"),
    ("ما هذا الشيء؟", "ar"),
    ("این چه رنگی است؟", "fa"),
    ("מה יש בתמונה?", "he"),
    ("Τι χρώμα είναι αυτό;", "el"),
    ("यह क्या है?", "hi"),
    ("นี่คืออะไร", "th"),
    ("这是什么颜色？", "zh"),
    ("この車は何色ですか", "ja"),  # Han characters among kana: Japanese, not Chinese
    ("이것은 무엇입니까?", "ko"),
]


@pytest.mark.parametrize("text, expected", QUESTIONS)
def test_detects_the_language_of_a_typed_question(text, expected):
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "12345 ?!", "😀👍"])
def test_nothing_to_go_on_means_english(text):
    assert detect_language(text) == "en"


def test_the_main_script_wins_over_a_few_foreign_characters():
    assert detect_language("What does 東京 mean on this sign?") == "en"
    assert detect_language("Что значит слово OK на этой кнопке?") == "ru"


def test_codes_are_normalised():
    codes = ("pt-BR", "zh_TW", "iw", "EN", "", "nb")
    assert [base_language(c) for c in codes] == ["pt", "zh", "he", "en", "en", "no"]


def test_right_to_left_languages():
    assert [is_right_to_left(c) for c in ("ar", "he", "iw", "fa-IR", "ur", "en", "zh", "ru")] == \
        [True, True, True, True, True, False, False, False]


def test_gtts_codes_are_the_ones_gtts_accepts():
    from gtts.lang import tts_langs

    accepted = tts_langs()
    wanted = {"en": "en", "en-GB": "en", "he": "iw", "zh": "zh-CN", "zh-TW": "zh-TW", "pt-PT": "pt-PT",
              "pt-BR": "pt", "jv": "jw", "uk": "uk"}
    assert {code: gtts_language(code) for code in wanted} == wanted
    assert all(code in accepted for code in wanted.values())
    assert gtts_language("fa") == ""  # Google's voice has no Persian: the offline voice speaks it


def test_gtts_codes_work_without_gtts_installed(monkeypatch):
    import sys

    from core import language

    language._gtts_codes.cache_clear()
    monkeypatch.setitem(sys.modules, "gtts.lang", None)  # import fails as if not installed
    try:
        assert gtts_language("he") == "iw" and gtts_language("fa") == ""
    finally:
        language._gtts_codes.cache_clear()


def test_espeak_voices_exist_in_the_installed_espeak():
    import shutil
    import subprocess

    listing = subprocess.run([shutil.which("espeak-ng"), "--voices"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    installed = {line.split()[1] for line in listing.splitlines()[1:] if line.strip()}
    for code in ("en", "en-GB", "es", "fr", "de", "it", "pt", "pt-PT", "nl", "ru", "uk", "ar", "fa",
                 "he", "el", "hi", "th", "zh", "ja", "ko", "no"):
        assert espeak_voice(code) in installed, code
    assert espeak_voice("xx") == ""


def test_language_names_for_spoken_messages():
    assert language_name("pt-BR") == "Portuguese"
    assert language_name("iw") == "Hebrew"
    assert language_name("xx") == "xx"
