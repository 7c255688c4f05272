"""SeeSay's own words in the person's language: the machinery (core.i18n), and the catalogues kept whole
(core.catalogue): a message added without every language, or a translation that lost a placeholder,
fails here."""

from __future__ import annotations

import pytest

from core import catalogue, i18n
from core.errors import ImageError
from core.i18n import LANGUAGES, choose, placeholders, supported, translator


def test_every_message_is_translated_into_every_language_with_its_placeholders():
    problems = catalogue.problems()
    assert not problems, "\n".join(f"{lang}: {line}" for lang, lines in problems.items() for line in lines[:20])


def test_the_languages_seesay_speaks():
    assert set(LANGUAGES) == {"en", "es", "fr", "de", "it", "pt", "nl"}
    for code in LANGUAGES:
        if code != "en":
            assert i18n.catalogue_path(code).exists(), code


@pytest.mark.parametrize("tag, code", [("es", "es"), ("es-MX", "es"), ("pt_BR", "pt"), ("NL-be", "nl"),
                                       ("en-GB", "en"), ("pl", ""), ("", ""), (None, "")])
def test_language_tags_are_matched_to_the_languages_seesay_speaks(tag, code):
    assert supported(tag) == code


def test_the_language_is_the_setting_then_the_last_question_then_the_browser_then_english():
    assert choose("de", "es", "fr-FR") == "de"
    assert choose("", "es", "fr-FR") == "es"
    assert choose("", "", "fr-FR") == "fr"
    assert choose("", "", "") == "en"
    assert choose("pl", "", "it-IT") == "it"  # a setting SeeSay cannot speak in is passed over
    assert choose() == "en"


def test_placeholders_are_the_named_fields():
    assert placeholders("{count} questions are ahead of {who}.") == {"count", "who"}
    assert placeholders("No fields here.") == set()


def test_numbers_units_dates_and_money_as_each_language_says_them():
    import datetime as dt

    de, es, en = translator("de"), translator("es"), translator("en")
    # Babel keeps a number with its unit on one line (a no-break space): compared here as a plain space
    assert de.number(1234.5) == "1.234,5" and en.number(1234.5) == "1,234.5"
    assert de.unit(500, "mass-milligram").replace("\xa0", " ") == "500 Milligramm"
    assert es.unit(500, "mass-milligram").replace("\xa0", " ") == "500 miligramos"
    assert "März" in de.date(dt.date(2027, 3, 1))
    assert es.money(12.5, "EUR") == "12,50\xa0€"
    assert de("{count} left", count=1234.5) == "1.234,5 left"  # untranslated text, number still German


@pytest.fixture
def locales(tmp_path, monkeypatch):
    """Catalogues of one's own, written as .po files, for the machinery's tests."""
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    translator.cache_clear()
    yield tmp_path
    translator.cache_clear()


def _write_po(root, language, entries):
    path = root / language / "LC_MESSAGES" / "seesay.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=utf-8\\n"',
             '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"', ""]
    for msgid, msgstr in entries.items():
        if isinstance(msgid, tuple):
            lines += [f'msgid "{msgid[0]}"', f'msgid_plural "{msgid[1]}"']
            lines += [f'msgstr[{i}] "{s}"' for i, s in enumerate(msgstr)] + [""]
        else:
            lines += [f'msgid "{msgid}"', f'msgstr "{msgstr}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def test_a_catalogue_translates_fills_and_counts(locales):
    _write_po(locales, "es", {"The photo is blurry.": "La foto está borrosa.",
                              ("One question is ahead of yours.", "{count} questions are ahead of yours."):
                              ["Hay una pregunta antes de la suya.", "Hay {count} preguntas antes de la suya."]})
    _ = translator("es-ES")
    assert _("The photo is blurry.") == "La foto está borrosa."
    assert _.ngettext("One question is ahead of yours.", "{count} questions are ahead of yours.", 1, count=1) \
        == "Hay una pregunta antes de la suya."
    assert _.ngettext("One question is ahead of yours.", "{count} questions are ahead of yours.", 1200,
                      count=1200) == "Hay 1.200 preguntas antes de la suya."
    assert _("Not in the catalogue.") == "Not in the catalogue."  # English rather than nothing


def test_an_error_is_said_in_the_persons_language_and_logged_in_english(locales):
    _write_po(locales, "es", {"The photo is {size} MB.": "La foto ocupa {size} MB.",
                              "Please choose a smaller one.": "Elija una más pequeña, por favor."})
    error = ImageError("The photo is {size} MB.", "Please choose a smaller one.", size=31.5)
    assert error.spoken == str(error) == "The photo is 31.5 MB. Please choose a smaller one."
    assert error.spoken_in("es") == "La foto ocupa 31,5 MB. Elija una más pequeña, por favor."
    assert error.spoken_in("pl") == error.spoken


def test_the_check_finds_a_message_without_a_translation_and_a_lost_placeholder(locales):
    messages = {"The photo is blurry.": catalogue.Message("The photo is blurry."),
                "{count} questions ahead.": catalogue.Message("{count} questions ahead."),
                "Photo taken.": catalogue.Message("Photo taken.")}
    for language in LANGUAGES:
        if language != "en":
            _write_po(locales, language, {"The photo is blurry.": "x", "{count} questions ahead.": "{count} x",
                                          "Photo taken.": "y", "Old words.": "z"})
    assert catalogue.problems(messages).get("es") == ["no longer in the code: 'Old words.'"]
    _write_po(locales, "es", {"The photo is blurry.": "La foto está borrosa.",
                              "{count} questions ahead.": "Hay preguntas antes."})
    found = catalogue.problems(messages)["es"]
    assert any("placeholders [] instead of ['count']" in line for line in found)
    assert any("not translated: 'Photo taken.'" in line for line in found)


def test_a_message_built_at_run_time_is_caught(tmp_path, monkeypatch):
    page = tmp_path / "page.py"
    page.write_text('name = "x"\n_(f"Hello {name}")\nN_("Fine.")\n_.ngettext("a", "b" + name, 2)\n'
                    '_(LABEL)\n_("{n} left".format(n=2))\nN_(name)\nwords()("Never extracted.")\n'
                    'f"<p>{_(\'Inside.\')}</p>"\n')
    monkeypatch.setattr(catalogue, "_files", lambda: [page])
    monkeypatch.setattr(catalogue, "ROOT", tmp_path)
    bad = catalogue.unreadable_marks()
    assert [line.split()[0] for line in bad] == ["page.py:2", "page.py:4", "page.py:6", "page.py:7", "page.py:8",
                                                   "page.py:9"]
