"""The curated/excluded Parquet contract, and publishing a finished run atomically.

`curated`:  id, text, url, source, lang, lang_score, minhash_cluster_size
`excluded`: the same columns plus filter_reason (`<step>:<rule>`, `exact_duplicate`, `minhash_duplicate`)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.parquet import ParquetWriter

CURATED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("source", pa.string()),
        ("lang", pa.string()),
        ("lang_score", pa.float64()),
        ("minhash_cluster_size", pa.int64()),
    ]
)
EXCLUDED_SCHEMA = CURATED_SCHEMA.append(pa.field("filter_reason", pa.string()))

# the order in which steps see a document; drop reasons start with these names
STEP_ORDER = (
    "reader",
    "extraction",
    "language",
    "gopher_repetition",
    "fineweb_quality",
    "gopher_quality",
    "nemo",
    "hebrew",
    "exact_duplicate",
    "minhash_duplicate",
    "perplexity",
)


def flat_record(doc: Document) -> dict:
    meta = doc.metadata
    size = meta.get("minhash_cluster_size")
    # exact copies removed before MinHash count towards the size of the group they were copies of
    size = (int(size) if size is not None else 1) + int(meta.get("duplicate_count", 0) or 0)
    score = meta.get("lang_score")
    return {
        "id": str(doc.id),
        "text": doc.text,
        "url": meta.get("url"),
        "source": meta.get("source", ""),
        "lang": meta.get("lang"),
        "lang_score": float(score) if score is not None else None,
        "minhash_cluster_size": size,
    }


class CuratedWriter(ParquetWriter):
    """Parquet writer producing the flat `curated` columns (or `excluded`, with a filter reason)."""

    name = "💾 Curated Parquet"

    def __init__(
        self,
        output_folder: str,
        output_filename: str = "${rank}.parquet",
        *,
        excluded: bool = False,
        reason: str | None = None,
    ):
        super().__init__(
            output_folder,
            output_filename,
            compression="zstd",
            schema=EXCLUDED_SCHEMA if excluded else CURATED_SCHEMA,
            max_file_size=-1,
            use_content_defined_chunking=False,
        )
        self.excluded = excluded
        self.reason = reason

    def _default_adapter(self, document: Document) -> dict:
        record = flat_record(document)
        if self.excluded:
            record["filter_reason"] = document.metadata.get("filter_reason") or self.reason or "unknown"
        return record


def excluded_writer(folder: str, step: str, reason: str | None = None) -> CuratedWriter:
    return CuratedWriter(folder, f"{step}-${{rank}}.parquet", excluded=True, reason=reason)


class Publish(PipelineStep):
    """Last stage: moves the finished outputs into RUN/ in one rename per folder, then marks the run done."""

    name = "📦 Publish"

    def __init__(self, run_dir: str, work_out: str):
        super().__init__()
        self.run_dir = run_dir
        self.work_out = work_out

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        publish(Path(self.run_dir), Path(self.work_out))
        return iter(())


def publish(run_dir: Path, work_out: Path) -> None:
    from curation.stats import write_stats

    for name in ("curated", "excluded"):
        src, dst = work_out / name, run_dir / name
        if not src.exists():
            if dst.exists():
                continue  # published by an earlier, interrupted call
            src.mkdir(parents=True)
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(src, dst)
    write_stats(run_dir)
