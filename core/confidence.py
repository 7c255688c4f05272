"""How sure the model was of its answer, from its own token probabilities.

Every engine that can tell its token probabilities (:class:`core.vlm.Token`) gives, for each token it
wrote, the probability it gave that token when it chose it. SeeSay turns them into one number:

* tokens are grouped into the words they spell (a word's probability is the product of its tokens');
* only *content* words count: function words ("the", "is", "of"), punctuation and SeeSay's own
  hedges say nothing about what is in the photo, and a model is nearly always sure of them;
* the answer's confidence is the geometric mean of its content words' probabilities (the average
  surprise, turned back into a probability), capped by its weakest key word: numbers, amounts and
  names matter most to a blind person, and one unsure digit in "500 mg" is the whole risk.

Below :data:`THRESHOLD` the spoken answer begins with a plain hedge. How the threshold was chosen:
with greedy decoding, a content word whose probability is under one half was not the model's clear
choice: another word had nearly as much weight. An answer whose content words average below even
odds is one the model itself would have written differently on another day. No labelled data with
real LLaVA weights could be run here (no model hub), so the threshold rests on that argument, not on
a calibration, and the README says so.

A confidence that cannot be computed (an engine without probabilities, an answer with no content
words) is ``None``: reported as unknown, never invented.

Where it is asked for (``SEESAY_CONFIDENCE_SAMPLES``, ``--samples``), the model also writes the answer
again a few times with sampling, and :func:`agreement` measures how much of the answer's content the
samples say too: a model that gives a different answer each time it is asked is not sure, whatever
its probabilities say. The answer's confidence is then the lower of the two.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .i18n import N_, translator

if TYPE_CHECKING:
    from .vlm import Token

__all__ = ["THRESHOLD", "KEY_WORD_FLOOR", "Confidence", "confidence", "agreement", "hedge", "in_words"]

#: below this the answer is hedged ("I am not sure, but ...")
THRESHOLD = 0.5
#: a key word (a number, an amount, a capitalised name) below this makes the whole answer unsure
KEY_WORD_FLOOR = 0.3

# Words that carry no claim about the photo, in the languages SeeSay's voices speak most.
_FUNCTION_WORDS = frozenset("""
a an the this that these those it its is are was were be been being am do does did has have had
of in on at to for with by from as and or but not no nor so if then than there here what which who
whom whose where when how why i you he she we they me him her us them my your his our their mine
yours can could will would shall should may might must just very also too about into onto over
under up down out off again some any all each both few more most other such only own same s t
el la los las un una unos unas de del y o en con por para que es son está están hay se lo al
le les des du et ou dans avec pour qui est sont il elle ce cette ces au aux
der die das den dem des ein eine und oder in mit für ist sind es
il lo gli di e o con per che è sono
""".split())
_WORD = re.compile(r"[\w'’]+", re.UNICODE)
_KEY = re.compile(r"\d|^[A-Z][a-z]")


@dataclass(frozen=True)
class Confidence:
    value: float | None  # 0..1; None: it could not be computed (reported as unknown)
    words: tuple[tuple[str, float], ...]  # each content word and its probability, in order
    weakest: str  # the least sure content word ("" when there are none)

    @property
    def unsure(self) -> bool:
        """True when the answer should be hedged (never when the confidence is unknown)."""
        return self.value is not None and self.value < THRESHOLD


def _words(tokens: Sequence[Token]) -> list[tuple[str, float]]:
    """The words the tokens spell, each with the product of its tokens' probabilities."""
    words: list[tuple[str, float]] = []
    current, logp = "", 0.0
    for token in tokens:
        text = token.text
        starts_word = not current or text[:1].isspace() or not (text[:1].isalnum() or text[:1] in "'’")
        if starts_word and current.strip():
            words.append((current.strip(), logp))
            current, logp = "", 0.0
        current += text
        logp += token.logprob
    if current.strip():
        words.append((current.strip(), logp))
    out = []
    for text, lp in words:
        for word in _WORD.findall(text):  # punctuation stuck to a word falls away here
            out.append((word, math.exp(lp)))
    return out


def confidence(tokens: Sequence[Token] | None) -> Confidence:
    """The answer's confidence from its tokens; unknown (None) without tokens or content words."""
    if not tokens:
        return Confidence(None, (), "")
    content = [(w, p) for w, p in _words(tokens) if w.lower() not in _FUNCTION_WORDS]
    if not content:
        return Confidence(None, (), "")
    mean = math.exp(sum(math.log(max(p, 1e-12)) for _, p in content) / len(content))
    weakest = min(content, key=lambda item: item[1])
    keys = [p for w, p in content if _KEY.search(w)]
    value = mean
    if keys and min(keys) < KEY_WORD_FLOOR:
        value = min(value, min(keys))
    return Confidence(round(value, 4), tuple(content), weakest[0])


def _content(text: str) -> set[str]:
    from .checks import NUMBER_WORDS

    words = (w.lower() for w in _WORD.findall(text))
    return {str(NUMBER_WORDS.get(w, w)) for w in words if w not in _FUNCTION_WORDS}  # "two" is "2"


def agreement(answer: str, samples: Sequence[str]) -> float | None:
    """How much the sampled answers agree with ``answer``: for each, the share of content words the two
    have in common (of all the content words either has: Jaccard); their mean. None without samples or
    content words. Numbers count as content words, so "2 tablets" against "3 tablets" disagree."""
    words = _content(answer)
    scores = [len(words & other) / len(words | other) for other in map(_content, samples) if words | other]
    return round(sum(scores) / len(scores), 4) if scores and words else None


HEDGE = N_("I am not sure, but {answer}")


def hedge(sentence: str, language: str = "en") -> str:
    """``sentence`` as the start of a hedged answer, the hedge in ``language`` (SeeSay's words,
    :func:`core.i18n.words_language`): "I am not sure, but there is a red car." """
    first = sentence[:1]
    rest = sentence[1:]
    # German writes every noun with a capital ("Äpfel"): its first letter is kept as it is
    if (first and first.isupper() and rest[:1].islower() and not sentence.startswith(("I ", "I'"))
            and language != "de"):
        first = first.lower()
    return translator(language)(HEDGE, answer=f"{first}{rest}")


def in_words(value: float | None, language: str = "en") -> str:
    """The confidence said plainly, for the page and the live region, in ``language``."""
    _ = translator(language)
    if value is None:
        return _("SeeSay cannot tell how sure it is of this answer.")
    if value >= 0.8:
        return _("SeeSay is fairly sure of this answer.")
    if value >= THRESHOLD:
        return _("SeeSay is somewhat sure of this answer.")
    return _("SeeSay is not sure of this answer.")
