"""The comparison baseline: a plain datatrove pipeline with FineWeb-2's `heb_Hebr` settings.

datatrove's own WarcReader and Trafilatura extractor, its LanguageFilter (lid.176, threshold 0.9 as in
FineWeb-2's config), Gopher repetition, FineWeb quality and Gopher quality filters with the heb_Hebr
thresholds and stop words, and 4-stage MinHash (5-grams, 14 buckets × 8 hashes) on the raw extracted text.
The only change: the language-ID model is read from the local lid.176 file (the stock filter downloads it).
"""

from __future__ import annotations

from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import (
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)
from datatrove.pipeline.readers import JsonlReader, WarcReader
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.typeshelper import Languages

from curation.language import LocalFT176, lid_model_path
from curation.quality import HEBREW_STOP_WORDS

HE = Languages.hebrew


def baseline_stages(data_folder: str, work: Path, tasks: int) -> list[tuple[str, list, int]]:
    lang = LanguageFilter(languages=["he"], language_threshold=0.9)
    lang.model = LocalFT176(lid_model_path(), languages=["he"])
    mh = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, hash_config=HashConfig(precision=64))
    filtered = str(work / "filtered")
    return [
        (
            "filter",
            [
                WarcReader(data_folder, glob_pattern="*.warc.gz"),
                Trafilatura(favour_precision=True, timeout=5.0),
                lang,
                GopherRepetitionFilter(
                    dup_line_frac=0.386,
                    top_n_grams=((2, 0.1), (3, 0.119), (4, 0.14)),
                    dup_n_grams=((5, 0.192), (6, 0.174), (7, 0.156), (8, 0.143), (9, 0.13), (10, 0.12)),
                    language=HE,
                ),
                FineWebQualityFilter(line_punct_thr=0.3, new_line_ratio=0.158, language=HE),
                GopherQualityFilter(
                    min_avg_word_length=3,
                    max_avg_word_length=9,
                    max_non_alpha_words_ratio=0.799,
                    stop_words=list(HEBREW_STOP_WORDS),
                    language=HE,
                ),
                JsonlWriter(filtered),
            ],
            tasks,
        ),
        ("minhash_sig", [JsonlReader(filtered), MinhashDedupSignature(str(work / "sigs"), mh, language=HE)], tasks),
        ("minhash_buckets", [MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=mh)], 14),
        ("minhash_cluster", [MinhashDedupCluster(str(work / "buckets"), str(work / "clusters"), config=mh)], 1),
        (
            "minhash_filter",
            [JsonlReader(filtered), MinhashDedupFilter(str(work / "clusters")), ParquetWriter(str(work / "curated"))],
            tasks,
        ),
    ]


def run_baseline(data_folder: Path, work: Path, *, tasks: int = 1, workers: int = 1) -> str:
    """Runs the baseline on the .warc.gz files in DATA_FOLDER; returns the glob of its curated Parquet."""
    previous = None
    for name, pipeline, n in baseline_stages(str(data_folder), work, tasks):
        previous = LocalPipelineExecutor(
            pipeline, tasks=n, workers=min(workers, n), logging_dir=str(work / "logs" / name), depends=previous
        )
    previous.run()
    return str(work / "curated" / "*.parquet")
