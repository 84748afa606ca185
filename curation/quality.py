"""Quality filters: datatrove's Gopher/FineWeb filters with FineWeb-2 `heb_Hebr` thresholds, the fixes
Hebrew needs, NeMo-Curator heuristic filters run as datatrove steps, and the share of Hebrew letters.

Drop reasons read `<step>:<rule>`, e.g. `gopher_quality:enough_stop_words`, `nemo:urls_ratio`.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.text import TERMINAL_PUNCTUATION

from common.text import is_hebrew_letter
from curation.config import FineWebQualityConfig, GopherQualityConfig, GopherRepetitionConfig, QualityConfig
from curation.normalize import NIQQUD
from curation.repetition import FastGopherRepetition
from curation.words import HEBREW_WORDS

# FineWeb-2 heb_Hebr stop words (configs/heb_Hebr.yml)
HEBREW_STOP_WORDS = ("של", "את", "על", "הוא", "עם", "בשנת", "גם", "היה", "היא", "לאחר", "לא", "ידי", "בין", "או", "כי")


# Closed-class words (pronouns, prepositions, conjunctions, negation, common adverbs) that FineWeb-2's
# document-frequency list lacks: its counting saw every clitic form (`שלא`, `והוא`) as a word of its own, which
# splits each function word's frequency over its forms, so only the 15 most frequent forms made the list.
# Matched with the list, in their clitic forms below; the required number of distinct forms (2) stays.
HEBREW_FUNCTION_WORDS = (
    "אל", "אם", "אך", "אבל", "אשר", "כאשר", "זה", "זו", "זאת", "כל", "יש", "אין", "מה", "רק", "עד", "כמו",
    "לפני", "אחרי", "יותר", "מאוד", "כך", "כן", "שם", "אותו", "אותה", "אותם", "הם", "הן", "אני", "אנחנו",
    "הייתה", "היו", "לו", "לה", "להם", "בו", "בה", "בהם", "ממנו", "אחד", "אחת",
)  # fmt: skip

# Clitics that attach to any word without changing what it is: "and" (ו), "that" (ש), "when" (כש) and their
# chains. Hebrew writes them as part of the next word, so the stop word `לא` appears as `שלא`, `הוא` as `והוא`.
STOP_WORD_CLITICS = ("ו", "ש", "וש", "כש", "וכש", "מש", "ומש")

_QUALITY_VIEW = {**NIQQUD, 0x05BE: " "}


def datatrove_kwargs(config: Any, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A config's fields as datatrove keyword arguments; `{n: fraction}` maps become datatrove's sorted
    `((n, fraction), ...)` tuples."""
    kwargs = {k: v for k, v in dataclasses.asdict(config).items() if k not in drop}
    return {k: tuple(sorted(v.items())) if isinstance(v, dict) else v for k, v in kwargs.items()}


class _StepReasons:
    """Mixin for datatrove's filters: the rules see the text without vowel points, and the drop reason is
    prefixed with the step name (`gopher_quality:short_doc`).

    Pointed text (Bible, liturgy, Zohar) otherwise fails on form, not content: pointed words are about
    twice as long, `עַל`/`הוּא` do not match the stop words `על`/`הוא`, and the maqaf (־) glues words
    (`אֲשֶׁר־לָהֶם`) that the rules should count apart.
    """

    step: str = ""
    strip_prefixes: tuple[str, ...] = ()

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        unpointed = doc.text.translate(_QUALITY_VIEW)
        view = doc if unpointed == doc.text else Document(text=unpointed, id=doc.id, metadata=doc.metadata)
        keep, reason = get_filter_result(super().filter(view))
        if keep:
            return True
        reason = reason or "rule"
        for prefix in self.strip_prefixes:
            reason = reason.removeprefix(prefix)
        return False, f"{self.step}:{reason}"


class HebrewGopherRepetition(_StepReasons, FastGopherRepetition):
    name = "👯 Gopher repetition (he)"
    step = "gopher_repetition"

    def __init__(self, config: GopherRepetitionConfig | None = None, *, exclusion_writer: DiskWriter | None = None):
        super().__init__(
            exclusion_writer=exclusion_writer,
            language=HEBREW_WORDS,
            **datatrove_kwargs(config or GopherRepetitionConfig()),
        )


class HebrewFineWebQuality(_StepReasons, FineWebQualityFilter):
    """FineWeb quality rules; a line ending in sof pasuq (׃, U+05C3), or in the colon that stands for it
    in Mishnah and other traditional texts, ends in punctuation."""

    name = "🍷 FineWeb quality (he)"
    step = "fineweb_quality"

    def __init__(self, config: FineWebQualityConfig | None = None, *, exclusion_writer: DiskWriter | None = None):
        super().__init__(
            exclusion_writer=exclusion_writer,
            language=HEBREW_WORDS,
            stop_chars=(*TERMINAL_PUNCTUATION, "\u05c3", ":"),
            **datatrove_kwargs(config or FineWebQualityConfig()),
        )


_WS_WORD = re.compile(r"\S+")


def alpha_word_ratio(text: str) -> float:
    """Share of whitespace-delimited words with at least one letter: Gopher's own definition."""
    words = _WS_WORD.findall(text)
    if not words:
        return 0.0
    return sum(any(c.isalpha() for c in w) for w in words) / len(words)


def stop_word_forms(words: tuple[str, ...]) -> frozenset[str]:
    """WORDS and each with a leading clitic (`לא` → `שלא`, `ולא`, `כשלא`, …): the forms Hebrew writes them in."""
    return frozenset(words) | {c + w for c in STOP_WORD_CLITICS for w in words}


class HebrewGopherQuality(_StepReasons, GopherQualityFilter):
    """Gopher quality rules with the Hebrew stop words, and the alpha-word ratio over whitespace words.

    datatrove splits Hebrew with spaCy's blank `he` tokenizer, which makes every punctuation mark and
    quote its own "word"; its alpha-word ratio then drops ordinary news prose full of quotes, numbers
    and acronyms (צה"ל). Gopher defines the rule over whitespace-separated words, so that is used here.

    Stop words are matched in the forms Hebrew writes them in (``stop_word_forms``): a short news item whose
    function words are all written `שלא`, `והוא`, `ועל` otherwise holds "fewer than two" of them.
    """

    name = "🥇 Gopher quality (he)"
    step = "gopher_quality"
    strip_prefixes = ("gopher_",)

    def __init__(self, config: GopherQualityConfig | None = None, *, exclusion_writer: DiskWriter | None = None):
        config = config or GopherQualityConfig()
        super().__init__(
            exclusion_writer=exclusion_writer,
            language=HEBREW_WORDS,
            max_non_alpha_words_ratio=None,
            stop_words=sorted(stop_word_forms(HEBREW_STOP_WORDS + HEBREW_FUNCTION_WORDS)),
            **datatrove_kwargs(config, drop=("min_alpha_words_ratio",)),
        )
        self.min_alpha_words_ratio = config.min_alpha_words_ratio

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        result = super().filter(doc)
        if result is not True:
            return result
        if self.min_alpha_words_ratio and alpha_word_ratio(doc.text) < self.min_alpha_words_ratio:
            return False, f"{self.step}:below_alpha_threshold"
        return True


def hebrew_letter_share(text: str) -> float:
    """Hebrew letters (א–ת) among all letters of the NFKC text; 0 when it has no letters."""
    letters = [c for c in unicodedata.normalize("NFKC", text) if c.isalpha()]
    if not letters:
        return 0.0
    return sum(map(is_hebrew_letter, letters)) / len(letters)


class HebrewLetterShare(BaseFilter):
    """Drops documents whose letters are mostly not Hebrew (English pages with a Hebrew title, code...);
    the bar is the quality config's `min_hebrew_letter_share`."""

    name = "🔠 Hebrew letter share"

    def __init__(self, config: QualityConfig | None = None, *, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.min_share = (config or QualityConfig()).min_hebrew_letter_share

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        share = hebrew_letter_share(doc.text)
        doc.metadata["hebrew_letter_share"] = share
        return True if share >= self.min_share else (False, "hebrew:letter_share")
