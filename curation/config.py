"""Typed configuration of the curation pipeline. Defaults are FineWeb-2's `heb_Hebr` settings, with the
language-ID threshold re-calibrated for fastText lid.176 and the Hebrew fixes described in quality.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


def _check_fraction(owner: str, name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}.{name} must be within [0, 1], got {value}")


@dataclass(kw_only=True, slots=True)
class ReaderConfig:
    max_doc_bytes: int = 2_000_000
    """Records larger than this (bytes) are excluded as `reader:too_large`; 0 disables the limit."""
    text_key: str = "text"
    """JSONL/Parquet field holding the text."""
    id_key: str = "id"
    """JSONL/Parquet field holding the id; records without one get `<file>:<line>`."""

    def __post_init__(self) -> None:
        if self.max_doc_bytes < 0:
            raise ValueError(f"reader.max_doc_bytes must be >= 0, got {self.max_doc_bytes}")


@dataclass(kw_only=True, slots=True)
class ExtractConfig:
    timeout_s: float = 5.0
    """Per-page extraction time limit; slower pages are excluded as `extraction:timeout`."""
    favour_precision: bool = True
    """trafilatura's precision mode: less boilerplate, occasionally less text."""
    remove_symbol_lines: bool = True
    """Drop lines made only of punctuation (`|`, `»`, `***`): residue of menus and bylines in table layouts."""


@dataclass(kw_only=True, slots=True)
class NormalizeConfig:
    niqqud: Literal["keep", "strip"] = "keep"
    """Vowel points: kept in the text by default; cantillation marks are always removed."""

    def __post_init__(self) -> None:
        if self.niqqud not in ("keep", "strip"):
            raise ValueError(f"normalize.niqqud must be 'keep' or 'strip', got {self.niqqud!r}")


@dataclass(kw_only=True, slots=True)
class LanguageConfig:
    keep: list[str] = field(default_factory=lambda: ["he"])
    """lid.176 labels to keep."""
    threshold: float = 0.8
    """Minimum lid.176 score of a kept label (calibrated on labelled Hebrew/non-Hebrew text)."""

    def __post_init__(self) -> None:
        _check_fraction("language", "threshold", self.threshold)
        if not self.keep:
            raise ValueError("language.keep must name at least one language")


@dataclass(kw_only=True, slots=True)
class GopherRepetitionConfig:
    dup_line_frac: float | None = 0.386
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: dict[int, float] = field(default_factory=lambda: {2: 0.1, 3: 0.119, 4: 0.14})
    dup_n_grams: dict[int, float] = field(
        default_factory=lambda: {5: 0.192, 6: 0.174, 7: 0.156, 8: 0.143, 9: 0.13, 10: 0.12})

    def kwargs(self) -> dict[str, Any]:
        return {"dup_line_frac": self.dup_line_frac, "dup_para_frac": self.dup_para_frac,
                "dup_line_char_frac": self.dup_line_char_frac, "dup_para_char_frac": self.dup_para_char_frac,
                "top_n_grams": tuple(sorted(self.top_n_grams.items())),
                "dup_n_grams": tuple(sorted(self.dup_n_grams.items()))}


@dataclass(kw_only=True, slots=True)
class FineWebQualityConfig:
    line_punct_thr: float = 0.3
    short_line_thr: float = 0.67
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.158

    def kwargs(self) -> dict[str, Any]:
        return {"line_punct_thr": self.line_punct_thr, "short_line_thr": self.short_line_thr,
                "char_duplicates_ratio": self.char_duplicates_ratio, "new_line_ratio": self.new_line_ratio}


@dataclass(kw_only=True, slots=True)
class GopherQualityConfig:
    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3
    max_avg_word_length: float = 9
    min_alpha_words_ratio: float | None = 0.799
    """Share of whitespace words with a letter (FineWeb-2's `max_non_alpha_words_ratio`)."""
    min_stop_words: int = 2

    def __post_init__(self) -> None:
        _check_fraction("gopher_quality", "min_alpha_words_ratio", self.min_alpha_words_ratio)

    def kwargs(self) -> dict[str, Any]:
        return {"min_doc_words": self.min_doc_words, "max_doc_words": self.max_doc_words,
                "min_avg_word_length": self.min_avg_word_length, "max_avg_word_length": self.max_avg_word_length,
                "min_alpha_words_ratio": self.min_alpha_words_ratio, "min_stop_words": self.min_stop_words}


@dataclass(kw_only=True, slots=True)
class QualityConfig:
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    fineweb_quality: FineWebQualityConfig = field(default_factory=FineWebQualityConfig)
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    nemo: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "non_alpha_numeric": {"max_non_alpha_numeric_to_text_ratio": 0.25},
        "urls": {"max_url_to_text_ratio": 0.2},
        "numbers": {"max_number_to_text_ratio": 0.15},
        "white_space": {"max_white_space_ratio": 0.25},
        "parentheses": {"max_parentheses_ratio": 0.1},
        "long_word": {"max_word_length": 1000},
    })
    """NeMo-Curator heuristic filters by name, with their keyword arguments (see curation/nemo.py)."""
    min_hebrew_letter_share: float = 0.6
    """Hebrew letters among all letters; below this a document is `hebrew:letter_share`."""

    def __post_init__(self) -> None:
        _check_fraction("quality", "min_hebrew_letter_share", self.min_hebrew_letter_share)
        from curation.nemo import NEMO_FILTERS

        unknown = sorted(set(self.nemo) - set(NEMO_FILTERS))
        if unknown:
            raise ValueError(f"quality.nemo: unknown filter(s) {unknown}; known: {sorted(NEMO_FILTERS)}")


@dataclass(kw_only=True, slots=True)
class DedupConfig:
    exact: bool = True
    """Drop exact copies of the normalized text first (`exact_duplicate`)."""
    minhash: bool = True
    """Then MinHash near-duplicates (`minhash_duplicate`), one document kept per cluster."""
    n_grams: int = 5
    num_buckets: int = 14
    hashes_per_bucket: int = 8
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("n_grams", "num_buckets", "hashes_per_bucket"):
            if getattr(self, name) < 1:
                raise ValueError(f"dedup.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(kw_only=True, slots=True)
class CurationConfig:
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
