"""The language of a typed question, and the codes each voice wants for it.

Spoken questions get their language from Whisper; typed ones from :func:`detect_language`, which
looks at the writing system first (Cyrillic, Arabic, Han, ...) and, for Latin script, lets a
few common words vote. It is meant for short questions about a photo, not for documents: it
knows a handful of Latin-script languages and says English when unsure, because an English
voice reading a question aloud is the least surprising mistake.

Codes are ISO 639-1 (``en``, ``es``, ``zh``). Regional tags (``pt-BR``, ``zh_TW``) and the old
codes Whisper and Google still use (``iw``, ``jw``) are accepted everywhere.

Pure Python: nothing heavy is imported; gTTS's own language table is read lazily when present.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "DEFAULT_LANGUAGE",
    "detect_language",
    "is_right_to_left",
    "gtts_language",
    "espeak_voice",
    "language_name",
    "base_language",
]

DEFAULT_LANGUAGE = "en"

# Old or alternative codes -> ISO 639-1.
_ALIASES = {"iw": "he", "ji": "yi", "in": "id", "jw": "jv", "nb": "no", "nn": "no", "fil": "tl",
            "cmn": "zh", "zho": "zh", "chi": "zh", "eng": "en"}

_NAMES = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani",
    "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bs": "Bosnian", "ca": "Catalan",
    "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
    "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician", "gu": "Gujarati",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "jv": "Javanese",
    "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada", "ko": "Korean",
    "la": "Latin", "lo": "Lao", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian",
    "ml": "Malayalam", "mr": "Marathi", "ms": "Malay", "my": "Burmese", "ne": "Nepali",
    "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "si": "Sinhala", "sk": "Slovak",
    "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian", "su": "Sundanese", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Filipino",
    "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese",
    "yi": "Yiddish", "yue": "Cantonese", "zh": "Chinese",
}

_RIGHT_TO_LEFT = {"ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv", "ckb"}

# --- detection ---------------------------------------------------------------------------------

# (first, last code point, language). Latin is handled apart; Han and kana are resolved together.
_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0370, 0x03FF, "el"), (0x1F00, 0x1FFF, "el"),
    (0x0400, 0x052F, "ru"),  # Cyrillic; refined below
    (0x0530, 0x058F, "hy"),
    (0x0590, 0x05FF, "he"),
    (0x0600, 0x06FF, "ar"), (0x0750, 0x077F, "ar"), (0xFB50, 0xFDFF, "ar"), (0xFE70, 0xFEFF, "ar"),
    (0x0900, 0x097F, "hi"),
    (0x0980, 0x09FF, "bn"),
    (0x0A00, 0x0A7F, "pa"),
    (0x0A80, 0x0AFF, "gu"),
    (0x0B80, 0x0BFF, "ta"),
    (0x0C00, 0x0C7F, "te"),
    (0x0C80, 0x0CFF, "kn"),
    (0x0D00, 0x0D7F, "ml"),
    (0x0D80, 0x0DFF, "si"),
    (0x0E00, 0x0E7F, "th"),
    (0x0E80, 0x0EFF, "lo"),
    (0x1000, 0x109F, "my"),
    (0x10A0, 0x10FF, "ka"),
    (0x1200, 0x139F, "am"),
    (0x1780, 0x17FF, "km"),
    (0x3040, 0x30FF, "ja"), (0x31F0, 0x31FF, "ja"), (0xFF66, 0xFF9F, "ja"),  # kana
    (0x1100, 0x11FF, "ko"), (0x3130, 0x318F, "ko"), (0xAC00, 0xD7AF, "ko"),  # Hangul
    (0x3400, 0x4DBF, "zh"), (0x4E00, 0x9FFF, "zh"), (0xF900, 0xFAFF, "zh"), (0x20000, 0x2FA1F, "zh"),
)

# Letters that only some languages of a shared script use.
_CYRILLIC_HINTS = (("uk", set("іїєґ")), ("be", set("ў")), ("sr", set("ђјљњћџ")), ("mk", set("ѓќѕ")))
_ARABIC_HINTS = (("ur", set("ٹڈڑںےۓ")), ("fa", set("پچژگک")))

# Latin script: short, frequent words of each language. A word listed under several languages
# votes for each of them; the distinctive ones decide.
_STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the a an is are was what which who where how this that these those there it of "
                    "in on to and or with for colour color does do can you me my i say says read "
                    "picture photo image see any".split()),
    "es": frozenset("el la los las un una es son qué que cuál cuáles quién dónde cómo este esta esto "
                    "estos hay de del en y o con para por color lo se puedes dice ves foto imagen "
                    "mi me".split()),
    "fr": frozenset("le la les un une des est sont qu que quoi quel quelle quels qui où comment ce "
                    "cet cette ces il y a de du en et ou avec pour couleur dit vois photo image je "
                    "tu vous mon ma c est-ce".split()),
    "de": frozenset("der die das ein eine ist sind was welche welcher wer wo wie dies diese dieser "
                    "dieses es gibt von im in und oder mit für farbe sagt siehst bild foto ich du "
                    "mein auf steht".split()),
    "it": frozenset("il lo la i gli le un una è sono che cosa cos quale chi dove come questo questa "
                    "questi c ci di del della in e o con per colore dice vedi foto immagine mi".split()),
    "pt": frozenset("o a os as um uma é são que qual quais quem onde como este esta isto estes há "
                    "de do da em no na e ou com para cor diz vês foto imagem eu meu está nesta "
                    "neste".split()),
    "nl": frozenset("de het een is zijn wat welke wie waar hoe dit dat deze er van in op en of met "
                    "voor kleur zegt zie foto afbeelding ik mijn staat".split()),
}
# Letters that point to one language (weighted like a distinctive word).
_LATIN_HINTS = {"ñ": "es", "¿": "es", "¡": "es", "ß": "de", "ä": "de", "ö": "de", "ã": "pt",
                "õ": "pt", "ì": "it", "ò": "it", "œ": "fr", "ij": "nl"}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text``'s language; ``en`` when there is nothing to go on."""
    counts: dict[str, int] = {}
    latin = 0
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF:  # Basic Latin .. Latin Extended-B, Vietnamese
            latin += 1
            continue
        for first, last, code in _SCRIPTS:
            if first <= cp <= last:
                counts[code] = counts.get(code, 0) + 1
                break
    if not counts and not latin:
        return DEFAULT_LANGUAGE
    # Japanese writes Han characters among kana: any kana makes the Han count Japanese.
    if "ja" in counts and "zh" in counts:
        counts["ja"] += counts.pop("zh")
    script, n = max(counts.items(), key=lambda item: item[1], default=("", 0))
    if latin >= n:
        return _latin_language(text)
    lowered = text.lower()
    if script == "ru":
        return next((code for code, letters in _CYRILLIC_HINTS if letters & set(lowered)), "ru")
    if script == "ar":
        return next((code for code, letters in _ARABIC_HINTS if letters & set(lowered)), "ar")
    return script


def _latin_language(text: str) -> str:
    lowered = unicodedata.normalize("NFC", text.lower())
    votes = dict.fromkeys(_STOP_WORDS, 0.0)
    for word in _WORD.findall(lowered):
        parts = re.split(r"['’]", word)  # qu'est, c'è, l'image: both halves are words
        for part in parts:
            voters = [code for code, words in _STOP_WORDS.items() if part in words]
            for code in voters:
                votes[code] += 1.0 / len(voters)  # shared words count less than distinctive ones
    for hint, code in _LATIN_HINTS.items():
        if hint in lowered:
            votes[code] += 1.0
    best = max(votes.values())
    if best == 0:
        return DEFAULT_LANGUAGE
    # On a tie English wins, then the order of _STOP_WORDS: a stable, explainable choice.
    return next(code for code, score in votes.items() if score == best)


# --- codes for the voices ----------------------------------------------------------------------


def base_language(code: str) -> str:
    """``pt-BR`` -> ``pt``, ``iw`` -> ``he``, ``''`` -> ``en``: the ISO 639-1 part of a tag."""
    base = re.split(r"[-_]", (code or "").strip().lower(), maxsplit=1)[0]
    return _ALIASES.get(base, base) or DEFAULT_LANGUAGE


def _region(code: str) -> str:
    parts = re.split(r"[-_]", (code or "").strip().lower(), maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def is_right_to_left(code: str) -> bool:
    """True for languages written right to left (the page sets ``dir="rtl"`` for them)."""
    return base_language(code) in _RIGHT_TO_LEFT


def language_name(code: str) -> str:
    """English name of the language, for spoken messages; the code itself when unknown."""
    return _NAMES.get(base_language(code), code or _NAMES[DEFAULT_LANGUAGE])


# gTTS 2.5.4's table (gtts.langs + gtts.lang._extra_langs), used when gTTS is not installed.
_GTTS_STATIC = frozenset(
    "af am ar bg bn bs ca cs cy da de el en es et eu fi fr fr-CA gl gu ha hi hr hu id is it iw ja "
    "jw km kn ko la lt lv ml mr ms my ne nl no pa pl pt pt-PT ro ru si sk sq sr su sv sw ta te th "
    "tl tr uk ur vi yue zh zh-CN zh-TW".split()
)


@functools.lru_cache(maxsize=1)
def _gtts_codes() -> frozenset[str]:
    # gtts.lang.tts_langs() reads a table shipped with gTTS; it makes no network request.
    try:
        from gtts.lang import tts_langs
    except ImportError:
        return _GTTS_STATIC
    return frozenset(tts_langs())


def gtts_language(code: str) -> str:
    """The ``lang=`` gTTS wants for ``code``, or ``""`` when Google's voice has no such language."""
    base, region = base_language(code), _region(code)
    if base == "zh":
        candidate = "zh-TW" if region in ("tw", "hk", "mo", "hant") else "zh-CN"
    elif base == "pt" and region == "pt":
        candidate = "pt-PT"
    elif base == "fr" and region == "ca":
        candidate = "fr-CA"
    else:
        candidate = {"he": "iw", "jv": "jw"}.get(base, base)
    return candidate if candidate in _gtts_codes() else ""


# Voices of espeak-ng 1.51 (Debian 12), by ISO code; the code itself where it names a voice.
_ESPEAK_VOICES = frozenset(
    "af am an ar as az ba be bg bn bpy bs ca cs cv cy da de el eo es et eu fa fi ga gd gn grc gu "
    "hak haw he hi hr ht hu hy hyw ia id io is it ja jbo ka kk kl kn ko kok ku ky la lb lfn lt ltg "
    "lv mi mk ml mr ms mt my nb nci ne nl nog om or pa pap pl pt ro ru sd shn si sk sl smj sq sr "
    "sv sw ta te th tk tn tr tt ug uk ur uz vi yue".split()
)
_ESPEAK_SPECIAL = {"en": "en-us", "zh": "cmn", "fr": "fr-fr", "no": "nb", "pt": "pt-br"}


def espeak_voice(code: str) -> str:
    """The espeak-ng ``-v`` voice for ``code``, or ``""`` when espeak-ng has none."""
    base, region = base_language(code), _region(code)
    if base == "en" and region in ("gb", "uk", "ie"):
        return "en-gb"
    if base == "pt" and region == "pt":
        return "pt"
    if base == "zh" and region in ("hk", "mo"):
        return "yue"
    if base in _ESPEAK_SPECIAL:
        return _ESPEAK_SPECIAL[base]
    return base if base in _ESPEAK_VOICES else ""
