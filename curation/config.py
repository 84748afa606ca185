"""Typed configuration of the curation pipeline; every default lives here, once.

Defaults are FineWeb-2's `heb_Hebr` settings (`configs/heb_Hebr.yml`), with the language-ID threshold
re-calibrated for fastText lid.176 and the Hebrew fixes described in quality.py. Each step takes its config
object (`LanguageID(config.language)`) and, built without one, uses these defaults. This module imports
neither datatrove nor NeMo-Curator, so recipes load fast.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Literal

#: NeMo-Curator heuristic filters by name in recipes -> "module:Class", imported only when used.
NEMO_FILTERS: dict[str, str] = {
    "non_alpha_numeric": "curation.nemo:HebrewNonAlphaNumericFilter",
    "symbols_to_words": "nemo_curator.stages.text.filters.heuristic.string:SymbolsToWordsFilter",
    "numbers": "nemo_curator.stages.text.filters.heuristic.string:NumbersFilter",
    "urls": "nemo_curator.stages.text.filters.heuristic.string:UrlsFilter",
    "white_space": "nemo_curator.stages.text.filters.heuristic.string:WhiteSpaceFilter",
    "parentheses": "nemo_curator.stages.text.filters.heuristic.string:ParenthesesFilter",
    "long_word": "nemo_curator.stages.text.filters.heuristic.string:LongWordFilter",
    "bullets": "nemo_curator.stages.text.filters.heuristic.string:BulletsFilter",
    "ellipsis": "nemo_curator.stages.text.filters.heuristic.string:EllipsisFilter",
}


def nemo_filter_class(name: str) -> type:
    """The NeMo-Curator filter class that recipes call `name` (imports NeMo-Curator)."""
    if name not in NEMO_FILTERS:
        raise ValueError(f"unknown NeMo-Curator filter {name!r}; known: {', '.join(sorted(NEMO_FILTERS))}")
    module, _, attr = NEMO_FILTERS[name].partition(":")
    from curation.nemo_modules import import_module  # NeMo-Curator's modules without its Ray and pandas

    return getattr(import_module(module), attr)


def check_nemo_arguments(name: str, params: dict[str, Any]) -> None:
    """A clear ValueError when `params` names an argument that the filter's `__init__` does not take."""
    cls = nemo_filter_class(name)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    known = [p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"quality.nemo.{name}: {cls.__name__} has no argument {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(known) or '(none)'}"
        )


def _check_fraction(owner: str, name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}.{name} must be within [0, 1], got {value}")


@dataclass(kw_only=True, slots=True)
class ReaderConfig:
    max_doc_bytes: int = 2_000_000
    """Records larger than this (bytes) are excluded as `reader:too_large`; 0 disables the limit."""
    text_key: str | None = None
    """JSONL/Parquet/Arrow field holding the text, a dotted path into nested records (`content`);
    None: the file's layout decides (curation/layouts.py: FineWeb, HPLT, OSCAR, CulturaX, Dolma, else `text`)."""
    id_key: str | None = None
    """Field holding the id (`warc_headers.warc-record-id`); None: the layout's, else `id`. Records without
    one get `<file>:<line>`."""
    url_key: str | None = None
    """Field holding the URL (`warc_headers.warc-target-uri`); None: the layout's, else `url`."""
    split_bytes: int = 128 << 20
    """An uncompressed JSONL file or a Parquet file larger than this is read by several tasks, one part each
    (cut at line starts / row groups; the output equals reading it whole); 0 reads every file whole."""

    def __post_init__(self) -> None:
        if self.max_doc_bytes < 0:
            raise ValueError(f"reader.max_doc_bytes must be >= 0, got {self.max_doc_bytes}")
        if self.split_bytes < 0:
            raise ValueError(f"reader.split_bytes must be >= 0, got {self.split_bytes}")
        for name in ("text_key", "id_key", "url_key"):
            key = getattr(self, name)
            if key is not None and (not key or any(not part for part in key.split("."))):
                raise ValueError(f"reader.{name} must be a field name or a dotted path (a.b.c), got {key!r}")


@dataclass(kw_only=True, slots=True)
class ExtractConfig:
    extractor: Literal["resiliparse", "trafilatura"] = "resiliparse"
    """Main-text extractor: Resiliparse (≈ 15× faster; same word recall or better and 2 points less precision on
    the sample crawl's templates, benchmarks/bench_extraction.py) or trafilatura (FineWeb-2's, in a sandbox
    process with the time limit below; recipe `trafilatura`)."""
    timeout_s: float = 5.0
    """Per-page time limit of trafilatura; slower pages are excluded as `extraction:timeout`."""
    favour_precision: bool = True
    """trafilatura's precision mode: less boilerplate, occasionally less text."""
    remove_symbol_lines: bool = True
    """Drop lines made only of punctuation (`|`, `»`, `***`): residue of menus and bylines in table layouts."""

    def __post_init__(self) -> None:
        if self.extractor not in ("resiliparse", "trafilatura"):
            raise ValueError(f"extract.extractor must be 'resiliparse' or 'trafilatura', got {self.extractor!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"extract.timeout_s must be positive, got {self.timeout_s}")


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
    """Minimum lid.176 score of a kept label, calibrated by benchmarks/calibrate_lid.py on labelled
    Hebrew/non-Hebrew text (FineWeb-2's 0.9 was set for GlotLID, which no package ships)."""
    prefix_chars: int | None = 1000
    """Identify the language on the text's first this many characters (cut at a space): fastText's cost grows
    with the text, its score barely does (BENCHMARKS.md). null: the whole text."""
    prefix_margin: float = 0.15
    """A prefix whose score lies within this of the threshold is not trusted: the whole text decides."""

    def __post_init__(self) -> None:
        _check_fraction("language", "threshold", self.threshold)
        _check_fraction("language", "prefix_margin", self.prefix_margin)
        if self.prefix_chars is not None and self.prefix_chars < 1:
            raise ValueError(f"language.prefix_chars must be >= 1 or null, got {self.prefix_chars}")
        if not self.keep:
            raise ValueError("language.keep must name at least one language")


@dataclass(kw_only=True, slots=True)
class GopherRepetitionConfig:
    dup_line_frac: float | None = 0.386
    """Most lines that may be duplicates (FineWeb-2 heb_Hebr: 0.386)."""
    dup_para_frac: float | None = 0.3
    """Most paragraphs that may be duplicates (Gopher's 0.3, as FineWeb-2)."""
    dup_line_char_frac: float | None = 0.2
    """Most characters in duplicate lines (Gopher's 0.2, as FineWeb-2)."""
    dup_para_char_frac: float | None = 0.2
    """Most characters in duplicate paragraphs (Gopher's 0.2, as FineWeb-2)."""
    top_n_grams: dict[int, float] = field(default_factory=lambda: {2: 0.1, 3: 0.119, 4: 0.14})
    """n -> most characters in the top n-gram (FineWeb-2 heb_Hebr: {2: 0.1, 3: 0.119, 4: 0.14})."""
    dup_n_grams: dict[int, float] = field(
        default_factory=lambda: {5: 0.192, 6: 0.174, 7: 0.156, 8: 0.143, 9: 0.13, 10: 0.12}
    )
    """n -> most characters in duplicate n-grams (FineWeb-2 heb_Hebr: 5: 0.192 ... 10: 0.12)."""

    def __post_init__(self) -> None:
        for name in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac"):
            _check_fraction("gopher_repetition", name, getattr(self, name))
        for name in ("top_n_grams", "dup_n_grams"):
            for n, frac in getattr(self, name).items():
                if n < 1:
                    raise ValueError(f"gopher_repetition.{name}: n-gram size must be >= 1, got {n}")
                _check_fraction("gopher_repetition", f"{name}.{n}", frac)


@dataclass(kw_only=True, slots=True)
class FineWebQualityConfig:
    line_punct_thr: float = 0.3
    """Least share of lines ending in punctuation (FineWeb-2 heb_Hebr: 0.3)."""
    short_line_thr: float = 0.67
    """Most share of short lines (FineWeb's 0.67)."""
    char_duplicates_ratio: float = 0.01
    """Most share of characters in duplicate lines (FineWeb's 0.01)."""
    new_line_ratio: float = 0.158
    """Most newlines per word (FineWeb-2 heb_Hebr: 0.158)."""

    def __post_init__(self) -> None:
        for name in ("line_punct_thr", "short_line_thr", "char_duplicates_ratio"):
            _check_fraction("fineweb_quality", name, getattr(self, name))


@dataclass(kw_only=True, slots=True)
class GopherQualityConfig:
    min_doc_words: int = 50
    """Fewest words in a document (Gopher's 50)."""
    max_doc_words: int = 100_000
    """Most words in a document (Gopher's 100,000)."""
    min_avg_word_length: float = 3
    """Shortest mean word length (FineWeb-2 heb_Hebr: 3)."""
    max_avg_word_length: float = 9
    """Longest mean word length (FineWeb-2 heb_Hebr: 9)."""
    min_alpha_words_ratio: float | None = 0.799
    """Least share of whitespace words with a letter (FineWeb-2 heb_Hebr's `max_non_alpha_words_ratio`
    0.799, computed over whitespace words as Gopher defines it)."""
    min_stop_words: int = 2
    """Fewest Hebrew stop words (FineWeb-2 heb_Hebr: 2, with its stop-word list)."""

    def __post_init__(self) -> None:
        _check_fraction("gopher_quality", "min_alpha_words_ratio", self.min_alpha_words_ratio)
        if self.min_avg_word_length > self.max_avg_word_length:
            raise ValueError(
                f"gopher_quality.min_avg_word_length ({self.min_avg_word_length}) exceeds "
                f"max_avg_word_length ({self.max_avg_word_length})"
            )


def _nemo_defaults() -> dict[str, dict[str, Any]]:
    return {
        "non_alpha_numeric": {"max_non_alpha_numeric_to_text_ratio": 0.25},
        "urls": {"max_url_to_text_ratio": 0.2},
        "numbers": {"max_number_to_text_ratio": 0.15},
        "white_space": {"max_white_space_ratio": 0.25},
        "parentheses": {"max_parentheses_ratio": 0.1},
        "long_word": {"max_word_length": 1000},
    }


@dataclass(kw_only=True, slots=True)
class QualityConfig:
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    """Gopher repetition rules (FineWeb-2 heb_Hebr thresholds)."""
    fineweb_quality: FineWebQualityConfig = field(default_factory=FineWebQualityConfig)
    """FineWeb quality rules (FineWeb-2 heb_Hebr thresholds)."""
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    """Gopher quality rules (FineWeb-2 heb_Hebr thresholds, Hebrew stop words)."""
    nemo: dict[str, dict[str, Any]] = field(default_factory=_nemo_defaults)
    """NeMo-Curator heuristic filters by name (`NEMO_FILTERS`), with their keyword arguments; run in order."""
    min_hebrew_letter_share: float = 0.6
    """Hebrew letters among all letters; below this a document is `hebrew:letter_share`."""

    def __post_init__(self) -> None:
        _check_fraction("quality", "min_hebrew_letter_share", self.min_hebrew_letter_share)
        unknown = sorted(set(self.nemo) - set(NEMO_FILTERS))
        if unknown:
            raise ValueError(f"quality.nemo: unknown filter(s) {unknown}; known: {sorted(NEMO_FILTERS)}")
        defaults = _nemo_defaults()
        for name, params in self.nemo.items():
            if params and params != defaults.get(name):  # the defaults are checked by the tests, not per load
                check_nemo_arguments(name, params)


@dataclass(kw_only=True, slots=True)
class DedupConfig:
    exact: bool = True
    """Drop exact copies of the normalized text first (`exact_duplicate`)."""
    minhash: bool = True
    """Then MinHash near-duplicates (`minhash_duplicate`), one document kept per cluster."""
    n_grams: int = 5
    """Word n-grams (shingles) hashed by MinHash (FineWeb-2: 5)."""
    num_buckets: int = 32
    """LSH bands (FineWeb-2: 14). 32 bands of 4 compare a pair at Jaccard 0.6 99% of the time, at 0.7 always."""
    hashes_per_bucket: int = 4
    """Hashes per band (FineWeb-2: 8; 14 x 8 puts the 50% match probability near Jaccard 0.72)."""
    verify_threshold: float | None = 0.6
    """Least Jaccard, estimated from the whole signature (num_buckets x hashes_per_bucket values), of a
    candidate pair before it is merged (curation/near_dup.py); tuned by benchmarks/bench_near_dup.py. null:
    every band match merges, as datatrove and FineWeb-2 do (recipe `fineweb2-dedup`)."""
    seed: int = 1
    """Seed of the MinHash permutations."""

    def __post_init__(self) -> None:
        for name in ("n_grams", "num_buckets", "hashes_per_bucket"):
            if getattr(self, name) < 1:
                raise ValueError(f"dedup.{name} must be >= 1, got {getattr(self, name)}")
        if self.verify_threshold is not None and not 0.0 < self.verify_threshold <= 1.0:
            raise ValueError(f"dedup.verify_threshold must be within (0, 1] or null, got {self.verify_threshold}")


@dataclass(kw_only=True, slots=True)
class CurationConfig:
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    """How input records are read."""
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    """HTML main-text extraction."""
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    """Hebrew normalization."""
    language: LanguageConfig = field(default_factory=LanguageConfig)
    """Language identification."""
    quality: QualityConfig = field(default_factory=QualityConfig)
    """Quality filters."""
    dedup: DedupConfig = field(default_factory=DedupConfig)
    """Exact and MinHash deduplication."""
    visual_order: VisualOrderConfig = field(default_factory=lambda: VisualOrderConfig())
    """Visual-order (reversed) Hebrew, restored or excluded."""
    decontaminate: tuple[str, ...] = ()
    """Decontamination index folders (`hebatron decont-index`) or benchmark JSONL files: a document holding one of
    their n-grams is excluded as `decontamination:<task>` (after the quality filters, before dedup)."""


@dataclass(kw_only=True, slots=True)
class VisualOrderConfig:
    enabled: bool = True
    """Detect visual-order (reversed) Hebrew after extraction; restore it, or exclude it as `reader:visual_order`."""
    threshold: float = 0.5
    """Share of visual-order word edges (a final letter first) above which a page is visual; calibrated by
    tests/curation/test_visual_order.py on pages generated from HTB train text (0.48 there)."""
    min_evidence: int = 3
    """Fewest telling word edges before a page is judged at all; shorter pages are left as they are."""
    max_logical_score: float = 0.2
    """Most visual-order share of a page that reads as logical. A page between this and `threshold` (reversed
    and logical text run together), or a restored page still above it, is excluded as `reader:visual_order`."""

    def __post_init__(self) -> None:
        _check_fraction("visual_order", "threshold", self.threshold)
        _check_fraction("visual_order", "max_logical_score", self.max_logical_score)
        if self.max_logical_score > self.threshold:
            raise ValueError(
                f"visual_order.max_logical_score ({self.max_logical_score}) exceeds threshold ({self.threshold})"
            )
        if self.min_evidence < 1:
            raise ValueError(f"visual_order.min_evidence must be >= 1, got {self.min_evidence}")
