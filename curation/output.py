"""The curated/excluded Parquet contract, and publishing a finished run atomically.

`curated`:  id, text, url, source, source_id, position, lang, lang_score, minhash_cluster_size,
            minhash_cluster_id, date, dump, source_language_score, source_cluster_size
`excluded`: the same columns plus filter_reason (`<step>:<rule>`, `exact_duplicate`, `minhash_duplicate`,
            `decontamination:<task>`) and matched_ngram (the benchmark n-gram a decontaminated document held)

The last four are the input's own metadata where its layout has them (curation/layouts.py), else null: `date`
(its crawl date or timestamp, as text), `dump` (its crawl or collection: FineWeb's dump, HPLT's collection,
CulturaX's and Dolma's source), `source_language_score` and `source_cluster_size` (FineWeb-2's).

`minhash_cluster_id` names the MinHash cluster a document belongs to (datatrove's cluster ids, unique within the
run), null for a document MinHash found no near-duplicate of: the kept document of a cluster is the curated row
with its id, its dropped members the `minhash_duplicate` rows of `excluded` with the same id (the `clusters` view).

`source` is the input file, `position` where the record starts in it (JSONL line from 1, Parquet row from 0,
WARC byte offset), `source_id` the input's own id (null when it had none). `id` is unique across curated and
excluded: the input's id where that is unique; of records sharing one, the first in input order (the plan's
file order, then position) keeps it and each later one becomes `{id}@{source}:{position}`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.parquet import ParquetWriter

from common.files import atomic_path
from common.freshness import record_stage
from common.layout import BATCH_ROWS, RunLayout
from common.paths import glob_literal
from curation.layouts import METADATA_FIELDS
from curation.splits import part_path

CURATED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("position", pa.int64()),
        ("lang", pa.string()),
        ("lang_score", pa.float64()),
        ("minhash_cluster_size", pa.int64()),
        ("minhash_cluster_id", pa.int64()),
        # the input's own metadata, where its layout has it (curation/layouts.py); null otherwise
        ("date", pa.string()),
        ("dump", pa.string()),
        ("source_language_score", pa.float64()),
        ("source_cluster_size", pa.int64()),
    ]
)
EXCLUDED_SCHEMA = CURATED_SCHEMA.append(pa.field("filter_reason", pa.string())).append(
    pa.field("matched_ngram", pa.string())  # decontamination: the benchmark n-gram found (canonical words)
)

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
    "decontamination",
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
    cluster = meta.get("minhash_cluster_id")  # datatrove writes -1 for a document in no cluster
    source_id, position = meta.get("source_id"), meta.get("position")
    return {
        "id": str(doc.id),
        "text": doc.text,
        "url": meta.get("url"),
        "source": meta.get("source", ""),
        "source_id": str(source_id) if source_id is not None else None,
        "position": int(position) if position is not None else None,
        "lang": meta.get("lang"),
        "lang_score": float(score) if score is not None else None,
        "minhash_cluster_size": size,
        "minhash_cluster_id": int(cluster) if cluster is not None and int(cluster) >= 0 else None,
        **{name: meta.get(name) for name in METADATA_FIELDS},
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
            record["matched_ngram"] = document.metadata.get("contaminated_ngram")
        return record


def excluded_writer(folder: str, step: str, reason: str | None = None) -> CuratedWriter:
    return CuratedWriter(folder, f"{step}-${{rank}}.parquet", excluded=True, reason=reason)


class Publish(PipelineStep):
    """Last stage: makes ids unique, moves the finished outputs into RUN/ in one rename per folder, then marks
    the run done. PATHS_FILE lists the inputs in the plan's order (the order in which repeated ids are kept)."""

    name = "📦 Publish"

    def __init__(self, run_dir: str, work_out: str, paths_file: str | None = None):
        super().__init__()
        self.run_dir = run_dir
        self.work_out = work_out
        self.paths_file = paths_file

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        parts = json.loads(Path(self.paths_file).read_text(encoding="utf-8")) if self.paths_file else []
        publish(Path(self.run_dir), Path(self.work_out), list(dict.fromkeys(map(part_path, parts))))
        return iter(())


EMPTY_FILE = "00000.parquet"
"""Written into a published folder that would otherwise hold no Parquet file, so readers still see columns."""


def publish(run_dir: Path, work_out: Path, inputs: Sequence[str] = ()) -> None:
    from curation.stats import write_stats

    pending = [work_out / name for name in ("curated", "excluded") if (work_out / name).exists()]
    # an interrupted call may have published some folders already, after all ids were made unique
    make_ids_unique(pending, inputs, work_out.parent / "publish-tmp")
    for name, schema in (("curated", CURATED_SCHEMA), ("excluded", EXCLUDED_SCHEMA)):
        src, dst = work_out / name, run_dir / name
        if not src.exists():
            if dst.exists():
                continue
            src.mkdir(parents=True)
        if not any(src.glob("*.parquet")):
            with atomic_path(src / EMPTY_FILE) as tmp:
                pq.write_table(schema.empty_table(), tmp, compression="zstd")
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(src, dst)
    write_stats(run_dir)
    # what score and the catalog read: exactly these files, checked by sha256 (recorded here, so a Slurm run's
    # last job records them too)
    record_stage(run_dir, "curate", writes=RunLayout(run_dir).curate_outputs())


def _later_occurrences(con, files: list[Path]) -> list[tuple[str, int, str, str, int | None, int]]:
    """(file, row, id, source, position, n) of every record whose id an earlier record holds: curated records
    come before excluded ones (so a kept document keeps its input's id whenever it can), then input order."""
    return con.execute(
        """
        WITH t AS (
            SELECT filename AS file, file_row_number AS row, id, source, position, f.folder
            FROM read_parquet($files, filename = true, file_row_number = true) JOIN work_files f USING (filename)
        ),
        repeated AS (SELECT id FROM t GROUP BY id HAVING count(*) > 1),
        ranked AS (
            SELECT t.*, row_number() OVER (
                PARTITION BY t.id
                ORDER BY t.folder, coalesce(i.ordinal, 9223372036854775807), t.source, t.position NULLS LAST,
                         t.file, t.row
            ) AS n
            FROM t SEMI JOIN repeated USING (id) LEFT JOIN inputs i ON i.source = t.source
        )
        SELECT file, row, id, source, position, n FROM ranked WHERE n > 1
        """,
        {"files": [glob_literal(f) for f in files]},
    ).fetchall()


def _rewrite_ids(path: Path, new_ids: dict[int, str]) -> None:
    """Rewrites PATH batch by batch with the ids of the rows in NEW_IDS replaced."""
    pending, i = sorted(new_ids.items()), 0
    source = pq.ParquetFile(path)
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, source.schema_arrow, compression="zstd") as out:
        start = 0
        for batch in source.iter_batches(batch_size=BATCH_ROWS):
            ids = batch.column("id").to_pylist()
            while i < len(pending) and pending[i][0] < start + len(ids):
                ids[pending[i][0] - start] = pending[i][1]
                i += 1
            out.write_batch(batch.set_column(batch.schema.get_field_index("id"), "id", pa.array(ids, pa.string())))
            start += len(ids)


def make_ids_unique(folders: list[Path], inputs: Sequence[str], tmp_dir: Path) -> int:
    """Gives every repeat of an id in the Parquet files of FOLDERS the id `{id}@{source}:{position}`: the first
    occurrence keeps it, by folder (curated before excluded), then the order of INPUTS, then position. Reads only
    the id, source and position columns; rewrites only the files holding a repeat. Returns how many records were
    renamed."""
    ranked = [(f, k) for k, folder in enumerate(folders) for f in sorted(folder.glob("*.parquet"))]
    files = [f for f, _ in ranked]
    if not files:
        return 0
    import duckdb

    tmp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"temp_directory": str(tmp_dir)})
    con.register("inputs", pa.table({"source": list(inputs), "ordinal": pa.array(range(len(inputs)), pa.int64())}))
    con.register("work_files", pa.table({"filename": [str(f) for f, _ in ranked], "folder": [k for _, k in ranked]}))
    renamed = 0
    # a new id can only clash with an input id that happens to look like one; then it is renamed again
    while repeats := _later_occurrences(con, files):
        by_file: dict[str, dict[int, str]] = {}
        for file, row, id_, source, position, n in repeats:
            suffix = f":{position}" if position is not None else f"#{n}"
            by_file.setdefault(file, {})[row] = f"{id_}@{source}{suffix}"
        for file, new_ids in by_file.items():
            _rewrite_ids(Path(file), new_ids)
        renamed += len(repeats)
    con.close()
    shutil.rmtree(tmp_dir, ignore_errors=True)
    return renamed
