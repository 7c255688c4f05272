"""SeeSay's own words in the person's language: gettext catalogues, managed with Babel.

Every sentence SeeSay shows or says is written in English in the code, marked for translation, and
looked up in ``core/locales/<language>/LC_MESSAGES/seesay.po`` (compiled in memory on first use, so
the ``.po`` file is the one source). Two ways to mark a message:

* ``_ = translator(language)`` then ``_("The photo is blurry.")`` where the language is known; the
  placeholders are named and filled by the translator, numbers written as the language writes them:
  ``_("{count} questions are ahead of yours.", count=3)``; plurals with
  ``_.ngettext("One question is ahead of yours.", "{count} questions are ahead of yours.", n, count=n)``;
* ``N_("...")`` where it is not known yet (an error raised deep in an engine, a constant): the
  English text is kept and translated where it is said (:meth:`Translator.__call__` on it).

Which language (:func:`choose`): the person's setting; else the language of their last question; else
the browser's; else English. ``python -m core.i18n check`` lists what is missing; ``update`` adds the
messages found in the code to every catalogue (to be translated) and drops those no longer used.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import re
import string
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "SOURCE", "N_", "Phrase", "LanguageName", "Translator", "translator", "supported", "choose", "words_language",
           "placeholders", "catalogue_path"]

#: the languages SeeSay speaks, by ISO 639-1 code, each named in its own language (a person looks for
#: their language by its own name)
LANGUAGES = {"en": "English", "es": "Español", "fr": "Français", "de": "Deutsch", "it": "Italiano",
             "pt": "Português", "nl": "Nederlands"}
#: the language the code is written in
SOURCE = "en"
DOMAIN = "seesay"
LOCALES = Path(__file__).resolve().parent / "locales"


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is said, not here (the English text is kept)."""
    return message


class LanguageName(str):
    """A language's code given as a placeholder's value: said as its name in the message's language
    ("es" is "Spanish" in English, "español" in Spanish)."""


class Phrase(str):
    """A marked message given as a placeholder's value ("the answering model" in "SeeSay could not
    download {model}."): the translator translates it too, where the whole message is said."""


def catalogue_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def supported(code: str | None) -> str:
    """The SeeSay language for a language tag ("es", "es-MX", "pt_BR", "nl-BE"), or "" if none."""
    if not code:
        return ""
    base = re.split(r"[-_]", str(code).strip().lower(), maxsplit=1)[0]
    return base if base in LANGUAGES else ""


def choose(*candidates: str | None) -> str:
    """The first of ``candidates`` SeeSay speaks, else English. Callers pass, in order: the person's
    setting, the language of their last question, the browser's language."""
    for code in candidates:
        found = supported(code)
        if found:
            return found
    return SOURCE


def words_language(choices: Any = None, heard: str | None = None) -> str:
    """The language of SeeSay's own words for one question: THE rule, used by core and the app alike.

    ``choices`` (a :class:`core.engines.Choices`, or None) gives the person's setting (``language``) and the
    app's fallback (``ui_language``: the language of their last question, else their browser's); ``heard``
    is the language of this question, when known (typed: detected; spoken: what speech recognition heard).
    In order: the setting; else this question's language; else the fallback; else English."""
    setting = getattr(choices, "language", "") if choices is not None else ""
    fallback = getattr(choices, "ui_language", "") if choices is not None else ""
    return choose(setting, heard, fallback)


def placeholders(message: str) -> set[str]:
    """The named ``{placeholders}`` of a message (what a translation must keep)."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


class Translator:
    """SeeSay's words in one language: ``_("text {name}", name=value)``."""

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._translations = translations

    def __call__(self, message: str, **params: Any) -> str:
        return self._fill(self._translations.gettext(message), params)

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        return self._fill(self._translations.ngettext(singular, plural, n), params)

    # -- numbers, units, dates, money, as the language says them ------------------------------------
    def language_name(self, code: str) -> str:
        """The name of the language ``code`` in this language ("es": "Spanish", "español")."""
        from babel import Locale, UnknownLocaleError

        try:
            return Locale.parse(re.split(r"[-_]", code.strip())[0].lower()).get_language_name(self.language) or code
        except (ValueError, UnknownLocaleError):
            return code

    def number(self, value: float) -> str:
        from babel.numbers import format_decimal

        return format_decimal(value, locale=self.language)

    def unit(self, value: float, unit: str) -> str:
        """``unit`` is a CLDR unit ("mass-milligram", "volume-milliliter", "duration-second")."""
        from babel.units import format_unit

        return format_unit(value, unit, length="long", locale=self.language)

    def date(self, value: dt.date) -> str:
        from babel.dates import format_date

        return format_date(value, format="long", locale=self.language)

    def money(self, amount: float, currency: str) -> str:
        from babel.numbers import format_currency

        return format_currency(amount, currency, locale=self.language)

    def _fill(self, text: str, params: dict[str, Any]) -> str:
        if not params:
            return text
        return text.format(**{name: self._word(value) for name, value in params.items()})

    def _word(self, value: Any) -> str:
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, (int, float)):
            return self.number(value)
        if isinstance(value, dt.date):
            return self.date(value)
        if isinstance(value, Phrase):
            return self(str(value))
        if isinstance(value, LanguageName):
            return self.language_name(str(value))
        return str(value)


@functools.lru_cache(maxsize=None)
def translator(language: str | None = SOURCE) -> Translator:
    """SeeSay's words in ``language`` (any tag; an unsupported one gives English)."""
    code = supported(language) or SOURCE
    if code == SOURCE:
        return Translator(SOURCE, gettext.NullTranslations())
    return Translator(code, _compiled(catalogue_path(code)))


def _compiled(path: Path) -> gettext.NullTranslations:
    """The ``.po`` catalogue at ``path``, compiled in memory (fuzzy and empty entries left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        catalogue = read_po(po)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
