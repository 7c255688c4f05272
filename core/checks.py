"""The double-check: for what matters (medicine, money, allergens, dates), the answer's numbers, units
and names are compared with what the text reader found on the label.

A blind person cannot check "take two tablets" or "that is a twenty" against the photo. So when a
question (or its answer) is about a dose, an amount, an allergen or a date, SeeSay:

* reads back the key value from the label when the answer and the label agree ("The label says
  500 milligrams.");
* says so, and gives the label's own reading, when they disagree, or when the answer has a value the
  label does not show (a number the model made up);
* says that the photo shows no readable dose, amount or date, and how to take a better photo, when
  the text reader found nothing;
* always ends with a short reminder to double-check with someone sighted before acting.

What it does not promise: it compares values, not meaning. A value that is on the label but belongs
to something else ("500 mg" of another ingredient) agrees; a label the text reader misreads is
misread here too; a medicine name is checked only for being on the label. The reminder stays.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .i18n import N_, translator

__all__ = ["Value", "Verdict", "DOMAINS", "REMINDER", "domain", "values", "double_check", "say"]

REMINDER = N_("Please check with someone sighted before you act on it.")

#: what matters, and the words that say a question is about it (English, Spanish, French, German,
#: Italian, Portuguese, Dutch): stems, matched at the start of a word
DOMAINS: dict[str, tuple[str, ...]] = {
    "medicine": ("dose", "dosage", "tablet", "pill", "capsule", "medic", "drug", "prescri", "mg", "ml",
                 "how much should i take", "how many should i take", "how many do i take", "dosis", "pastilla", "comprimido", "medicament", "tomar",
                 "tome", "prendre", "nehmen", "einnehmen", "prendere", "innemen",
                 "posolog", "comprimé", "gélule", "dosierung", "tablette", "medikament", "arznei",
                 "compressa", "farmaco", "remédio", "remedio", "pílula", "medicijn", "pil"),
    "money": ("money", "note", "bill", "banknote", "coin", "dollar", "euro", "pound", "price", "cost", "pay",
              "change", "amount", "total", "receipt", "how much", "dinero", "billete", "moneda", "precio",
              "cuánto", "argent", "billet", "pièce", "prix", "combien", "geld", "schein", "münze", "preis",
              "wie viel", "soldi", "banconota", "prezzo", "quanto", "dinheiro", "nota", "preço", "bedrag",
              "prijs", "hoeveel"),
    "allergens": ("allerg", "ingredient", "contain", "nut", "peanut", "gluten", "wheat", "milk", "dairy",
                  "lactose", "egg", "soy", "sesame", "shellfish", "alérg", "ingrediente", "contiene",
                  "cacahuete", "ingrédient", "contient", "arachide", "zutat", "enthält", "nüsse",
                  "ingredienti", "contém"),
    "dates": ("date", "expir", "exp", "best before", "use by", "sell by", "appointment", "when", "fecha",
              "caduc", "vence", "cita", "péremption", "expire", "rendez-vous", "datum", "ablauf",
              "haltbar", "termin", "scadenza", "data", "validade", "vencimento", "houdbaar"),
}
_NOTHING = {  # what the photo shows none of, said with how to take a better one
    "medicine": N_("I found no readable dose in this photo. Point the camera straight at the label, close "
                   "enough for it to fill the screen, in good light, and take the photo again."),
    "money": N_("I found no readable amount in this photo. Point the camera straight at the label, close "
                "enough for it to fill the screen, in good light, and take the photo again."),
    "allergens": N_("I found no readable list of ingredients in this photo. Point the camera straight at the "
                    "label, close enough for it to fill the screen, in good light, and take the photo again."),
    "dates": N_("I found no readable date in this photo. Point the camera straight at the label, close "
                "enough for it to fill the screen, in good light, and take the photo again."),
}
#: units said as Babel says them in each language (CLDR), by SeeSay's English name
_CLDR_UNITS = {"milligrams": "mass-milligram", "micrograms": "mass-microgram", "grams": "mass-gram",
               "millilitres": "volume-milliliter", "litres": "volume-liter", "percent": "concentr-percent"}
#: the other units, counted (gettext picks the plural form for the number)
_COUNTED = ("international units", "units", "tablets", "capsules", "drops", "puffs")
_CURRENCY_CODES = {"dollars": "USD", "euros": "EUR", "pounds": "GBP", "yen": "JPY", "rupees": "INR"}

_UNITS = {"mg": "milligrams", "milligram": "milligrams", "milligrams": "milligrams", "mcg": "micrograms",
          "µg": "micrograms", "ug": "micrograms", "microgram": "micrograms", "micrograms": "micrograms",
          "g": "grams", "gram": "grams", "grams": "grams", "ml": "millilitres", "millilitre": "millilitres",
          "millilitres": "millilitres", "milliliter": "millilitres", "milliliters": "millilitres",
          "l": "litres", "litre": "litres", "litres": "litres", "iu": "international units",
          "units": "units", "unit": "units", "%": "percent", "percent": "percent",
          "tablet": "tablets", "tablets": "tablets", "capsule": "capsules", "capsules": "capsules",
          "drop": "drops", "drops": "drops", "puff": "puffs", "puffs": "puffs"}
_CURRENCY = {"$": "dollars", "€": "euros", "£": "pounds", "¥": "yen", "₹": "rupees", "dollar": "dollars",
             "dollars": "dollars", "usd": "dollars", "euro": "euros", "euros": "euros", "eur": "euros",
             "pound": "pounds", "pounds": "pounds", "gbp": "pounds", "yen": "yen", "rupees": "rupees"}
_MONTHS = {m: i for i, names in enumerate((
    (), ("jan", "january", "enero", "janvier", "januar", "gennaio", "janeiro"),
    ("feb", "february", "febrero", "février", "fevrier", "februar", "febbraio", "fevereiro"),
    ("mar", "march", "marzo", "mars", "märz", "marz", "março", "marco"), ("apr", "april", "abril", "avril", "aprile"),
    ("may", "mayo", "mai", "maggio", "maio"), ("jun", "june", "junio", "juin", "juni", "giugno", "junho"),
    ("jul", "july", "julio", "juillet", "juli", "luglio", "julho"),
    ("aug", "august", "agosto", "août", "aout"), ("sep", "sept", "september", "septiembre", "septembre",
                                                   "settembre", "setembro"),
    ("oct", "october", "octubre", "octobre", "oktober", "ottobre", "outubro"),
    ("nov", "november", "noviembre", "novembre", "novembro"),
    ("dec", "december", "diciembre", "décembre", "dezember", "dicembre", "dezembro")), start=0) for m in names}

_NUMBER = r"\d+(?:[.,]\d+)*"
_UNIT_RE = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
_DOSE = re.compile(rf"(?<![\w.,])({_NUMBER})\s?({_UNIT_RE})(?![\w])", re.IGNORECASE)
_MONEY_BEFORE = re.compile(rf"([$€£¥₹])\s?({_NUMBER})")
_MONEY_AFTER = re.compile(rf"(?<![\w.,])({_NUMBER})\s?([$€£¥₹]|dollars?|usd|euros?|eur|pounds?|gbp|yen|rupees)(?!\w)",
                          re.IGNORECASE)
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_NUMERIC = re.compile(r"(?<![\d.,/])(\d{1,4})[/.\-](\d{1,4})(?:[/.\-](\d{2,4}))?(?![\d/])")
_DATE_WORDS = re.compile(rf"(?:(\d{{1,2}})\s+)?({_MONTH_RE})\.?\s+(\d{{4}})\b", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(rf"(?<![\w.,/$€£¥₹-])({_NUMBER})(?![\w/])")
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "twelve": 12, "twenty": 20, "fifty": 50, "hundred": 100}


@dataclass(frozen=True)
class Value:
    kind: str  # "dose", "money", "date" or "number"
    key: str  # normalized, for comparing: "500 milligrams", "20 euros", "2027-03", "4"
    spoken: str  # how SeeSay says it: "500 milligrams", "20 euros", "March 2027"


@dataclass(frozen=True)
class Verdict:
    """What the double-check found."""

    domain: str  # one of DOMAINS
    agreed: tuple[Value, ...]  # the answer's values the label shows too
    disagreed: tuple[tuple[Value, tuple[Value, ...]], ...]  # an answer value, and the label's values of its kind
    invented: tuple[Value, ...]  # answer values of a kind the label does not show at all
    label: tuple[Value, ...]  # the label's own values of the kinds that matter here
    remarks: tuple[str, ...]  # what SeeSay says after the answer, the reminder last


def _number(text: str) -> str:
    """'1,000' and '1000', '5.00' and '5', '2,5' (a decimal comma) and '2.5' compare equal."""
    text = text.strip()
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        text = text.replace(",", "")
    elif re.fullmatch(r"\d+,\d{1,2}", text):
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:g}" if value != int(value) else str(int(value))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def values(text: str) -> list[Value]:
    """The doses, amounts, dates and other numbers in ``text``, in order."""
    text = _fold(text)
    found: list[tuple[int, Value]] = []
    taken: list[range] = []

    def add(match: re.Match, value: Value) -> None:
        span = range(match.start(), match.end())
        if any(span.start < t.stop and t.start < span.stop for t in taken):
            return
        taken.append(span)
        found.append((match.start(), value))

    for m in _MONEY_BEFORE.finditer(text):
        add(m, _measured("money", m.group(2), _CURRENCY[m.group(1)]))
    for m in _MONEY_AFTER.finditer(text):
        add(m, _measured("money", m.group(1), _CURRENCY[m.group(2).lower()]))
    for m in _DATE_WORDS.finditer(text):
        month, year = _MONTHS[m.group(2).lower()], int(m.group(3))
        key = f"{year:04d}-{month:02d}" + (f"-{int(m.group(1)):02d}" if m.group(1) else "")
        add(m, Value("date", key, _say_date(key)))
    for m in _DATE_NUMERIC.finditer(text):
        key = _numeric_date(m.group(1), m.group(2), m.group(3))
        if key:
            add(m, Value("date", key, _say_date(key)))
    for m in _DOSE.finditer(text):
        add(m, _measured("dose", m.group(1), _UNITS[m.group(2).lower()]))
    for m in _PLAIN_NUMBER.finditer(text):
        add(m, Value("number", _number(m.group(1)), _number(m.group(1))))
    words = "|".join(NUMBER_WORDS)
    for m in re.finditer(rf"\b({words})\s+(dollars?|euros?|pounds?)\b", text, re.IGNORECASE):  # TWENTY EUROS
        add(m, _measured("money", str(NUMBER_WORDS[m.group(1).lower()]), _CURRENCY[m.group(2).lower()]))
    for m in re.finditer(rf"\b({words})\b", text, re.IGNORECASE):
        n = str(NUMBER_WORDS[m.group(1).lower()])
        add(m, Value("number", n, n))
    return [value for _, value in sorted(found, key=lambda item: item[0])]


def _measured(kind: str, number: str, unit: str) -> Value:
    """A number with its unit; said in the singular for one ("1 tablet", "1 dollar")."""
    n = _number(number)
    spoken = f"{n} {unit[:-1] if n == '1' and unit.endswith('s') else unit}"
    return Value(kind, f"{n} {unit}", spoken)


def _numeric_date(a: str, b: str, c: str | None) -> str:
    """'03/2027' -> '2027-03'; '2027-03-01' -> '2027-03-01'; '12/03/2027' -> '2027-03-12' (day first,
    as most labels outside the US write it); anything that is not a plausible date -> ''."""
    x, y = int(a), int(b)
    if c is None:
        if len(b) == 4 and 1 <= x <= 12:  # MM/YYYY
            return f"{y:04d}-{x:02d}"
        if len(a) == 4 and 1 <= y <= 12:  # YYYY-MM
            return f"{x:04d}-{y:02d}"
        return ""
    z = int(c)
    if len(a) == 4 and 1 <= y <= 12 and 1 <= z <= 31:
        return f"{x:04d}-{y:02d}-{z:02d}"
    year = z + 2000 if len(c) == 2 else z
    if 1 <= y <= 12 and 1 <= x <= 31 and 1900 <= year <= 2100:
        return f"{year:04d}-{y:02d}-{x:02d}"
    return ""


def _say_date(key: str) -> str:
    names = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
    parts = key.split("-")
    month = names[int(parts[1])]
    return f"{int(parts[2])} {month} {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


def domain(question: str, answer: str = "") -> str | None:
    """What matters in this question, if anything: by its words and by the values in the answer
    ("¿Cuánto debo tomar?" answered "250 mg" is about medicine, not money)."""
    words = " " + " ".join(re.findall(r"[\w%]+", _fold(question).lower())) + " "
    score = {name: sum(f" {stem}" in words for stem in stems) for name, stems in DOMAINS.items()}
    kinds = {v.kind for v in values(answer)}
    for kind, name in (("dose", "medicine"), ("money", "money"), ("date", "dates")):
        score[name] += 2 * (kind in kinds)
    best = max(score, key=lambda name: score[name])  # ties: the order of DOMAINS
    return best if score[best] else None


def _matches(value: Value, label: Sequence[Value], label_text: str = "") -> bool:
    """Whether the label shows ``value``: the same value, or (a unit the text reader lost, as a "€"
    symbol) the same number with the unit's word somewhere on the label."""
    number, _, unit = value.key.partition(" ")
    for seen in label:
        if unit and seen.kind == "number" and seen.key == number and unit[:-1].lower() in label_text.lower():
            return True
        if value.kind == "date" and seen.kind == "date":
            short, long = sorted((value.key, seen.key), key=len)
            if long.startswith(short):
                return True
        elif value.key == seen.key or (value.kind == "number" and value.key == seen.key.split()[0]):
            return True
    return False


def double_check(question: str, answer: str, label_text: str | None, language: str = "en") -> Verdict | None:
    """The check of ``answer`` against ``label_text`` (None or "" when the photo has no readable
    text), or None when the question is not about medicine, money, allergens or dates. The remarks are
    said in ``language`` (SeeSay's words, :func:`core.i18n.words_language`), values as it says them."""
    _ = translator(language)
    area = domain(question, answer)
    if area is None:
        return None
    said = [v for v in values(answer)]
    if not (label_text or "").strip():
        remarks = (_(_NOTHING[area]), _(REMINDER))
        return Verdict(area, (), (), tuple(said), (), remarks)
    label = values(label_text)
    agreed, disagreed, invented = [], [], []
    for value in said:
        if _matches(value, label, label_text):
            agreed.append(value)
        else:
            same_kind = tuple(v for v in label if v.kind == value.kind)
            if value.kind == "dose":  # 40 milligrams is not a misreading of 2 tablets: it is not there at all
                same_kind = tuple(v for v in same_kind if v.key.split(" ", 1)[1:] == value.key.split(" ", 1)[1:])
            (disagreed.append((value, same_kind)) if same_kind else invented.append(value))
    remarks = []
    for value, theirs in disagreed:
        remarks.append(_("Careful: the label says {label}, not {answer}.", label=_list(theirs, language),
                         answer=say(value, language)))
    for value in invented:
        remarks.append(_("Careful: I cannot find {value} in the text of this photo.", value=say(value, language)))
    important = [v for v in label if v.kind != "number"] or label
    if agreed:
        shown = [v for v in label if _matches(v, agreed)]  # read back as the label has it, with its unit
        remarks.append(_("The label says {values}.", values=_list(
            [v for v in shown if v.kind != 'number'] or shown or agreed, language)))
    elif important and (invented or not said):
        remarks.append(_("The label says {values}.", values=_list(important[:4], language)))
    remarks.append(_(REMINDER))
    return Verdict(area, tuple(agreed), tuple(disagreed), tuple(invented), tuple(label), tuple(remarks))


def say(value: Value, language: str = "en") -> str:
    """How SeeSay says ``value`` in ``language``: "500 milligrams", "500 miligramos", "marzo de 2027"."""
    code = translator(language).language
    if code == "en":
        return value.spoken  # SeeSay's English, as it has always said it
    import datetime as dt

    from babel.dates import format_skeleton
    from babel.numbers import get_currency_name
    from babel.units import format_unit

    _ = translator(code)
    if value.kind == "date":
        parts = [int(p) for p in value.key.split("-")]
        day = dt.date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)
        return format_skeleton("yMMMMd" if len(parts) == 3 else "yMMMM", day, locale=code)
    number, _sep, unit = value.key.partition(" ")
    if not unit:
        return _.number(float(number)) if number.replace(".", "", 1).isdigit() else number
    amount = float(number)
    amount = int(amount) if amount == int(amount) else amount
    if unit in _CLDR_UNITS:
        return format_unit(amount, _CLDR_UNITS[unit], length="long", locale=code)
    if unit in _COUNTED:
        return _counted(unit, amount, _)
    if unit in _CURRENCY_CODES:
        return f"{_.number(amount)} {get_currency_name(_CURRENCY_CODES[unit], amount, locale=code)}"
    return value.spoken


def _counted(unit: str, amount: float, _) -> str:
    n = amount if isinstance(amount, int) else 2  # 2.5 tablets: the plural
    if unit == "international units":
        return _.ngettext("{count} international unit", "{count} international units", n, count=amount)
    if unit == "units":
        return _.ngettext("{count} unit", "{count} units", n, count=amount)
    if unit == "tablets":
        return _.ngettext("{count} tablet", "{count} tablets", n, count=amount)
    if unit == "capsules":
        return _.ngettext("{count} capsule", "{count} capsules", n, count=amount)
    if unit == "drops":
        return _.ngettext("{count} drop", "{count} drops", n, count=amount)
    return _.ngettext("{count} puff", "{count} puffs", n, count=amount)


def _list(items: Sequence[Value], language: str = "en") -> str:
    spoken = list(dict.fromkeys(say(v, language) for v in items))
    if len(spoken) <= 1:
        return spoken[0] if spoken else ""
    if translator(language).language == "en":
        return ", ".join(spoken[:-1]) + " and " + spoken[-1]
    from babel.lists import format_list

    return format_list(spoken, locale=translator(language).language)
