"""FineWeb-2's rehydration: upsampling weights per MinHash cluster size, from the run's own filter removal rates.

FineWeb-2 (``misc/rehydration/`` in huggingface/fineweb-2) observed that documents with very few or very many
near-duplicates are removed by its quality filters more often than those "in the middle", and repeats kept
documents by their cluster size: a size whose removal rate is at or above the global rate gets weight 1, the
size with the lowest removal rate gets the maximum number of repetitions, sizes in between are interpolated
linearly in the removal rate; the weights are then smoothed with a centred moving average over 5 consecutive
sizes (the first and last two sizes keep their own value) and rounded to whole repetitions.

**Our order is the other way round.** FineWeb-2 deduplicates before filtering, so it knows the cluster size of
every document its filters remove. This toolkit filters first and deduplicates what is left
(``curation/pipeline.py``), so a document the quality filters drop never gets a cluster size, and the sizes of
the curated documents count only the copies that survived the filters. The main MinHash stages stay as they
are; on request, a separate clustering re-creates FineWeb-2's population: datatrove's MinHash signature,
bucket and cluster stages (the run's n-grams, banding and seed; the Hebrew word tokenizer) over every document
that reached deduplication — the curated ones and the ``exact_duplicate`` / ``minhash_duplicate`` rows of
``excluded`` (their text is kept there) — together with the documents the quality steps removed
(``gopher_repetition``, ``fineweb_quality``, ``gopher_quality``, ``nemo``). Documents dropped before those
steps (reader, extraction, language, the Hebrew letter share) are out of the population, as FineWeb-2's
language identification comes before its deduplication. Every document then has a cluster size "before
filtering" (itself included), which is both what the removal rates are counted by and what a curated
document's weight is looked up with. Why a separate step rather than moving deduplication in front of the
filters: MinHash over the unfiltered text costs more (the quality steps drop ~half of a crawl's Hebrew), and
the run's own outputs (which document is kept, ``minhash_cluster_size``) stay what they are with the option
off.

**Removal rate of a size.** FineWeb-2 counts, per size, the kept representative of each cluster and whether
the filters removed it. Here every member of a size-``s`` cluster was filtered, so the rate of size ``s`` is
the share of removed members among the members of size-``s`` clusters: the same quantity (datatrove's choice of
the kept document does not depend on its quality), with less variance. The global rate weighs each size by its
number of clusters, as FineWeb-2's global rate counts one document per cluster. Sizes from the first one with
fewer than ``min_clusters`` clusters on are pooled into one tail bucket (FineWeb-2 pools sizes above 226), so a
rate is never read off a handful of documents.

Outputs, on request (``hebatron shard --rehydrate``), written atomically and reused while the curated and
excluded files are the ones curate wrote: ``RUN/rehydration/rehydration.json`` (per size: documents, removed,
clusters, removal rate, weight; the global rate; the compact weights ``{smallest size: weight}``; the method
and its parameters) and ``RUN/rehydration/cluster_sizes.parquet`` (``id``, ``cluster_size`` of every curated
document). Presets: FineWeb-2's published ``heb_Hebr`` weights (``misc/rehydration/weights/up_to_NN_reps.json``,
3 to 10 repetitions, Apache-2.0), applied by the same pre-filter cluster sizes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common.errors import HebatronError
from common.files import atomic_path, write_json_atomic
from common.freshness import current_sha256, recorded_outputs
from common.layout import BATCH_ROWS, RunLayout, read_json
from curation.config import DedupConfig

__all__ = [
    "FINEWEB2_HEB_WEIGHTS",
    "PRESETS",
    "RehydrationError",
    "compact_weights",
    "compute_rehydration",
    "load_cluster_sizes",
    "preset_weights",
    "upsampling_weights",
    "weight_of",
]

METHOD = "fineweb2-rehydration"
VERSION = 1
SMOOTHING_WINDOW = 5
"""FineWeb-2's moving-average window over consecutive cluster sizes."""
REMOVAL_STEPS = ("gopher_repetition", "fineweb_quality", "gopher_quality", "nemo")
"""Steps whose drops count as removals: FineWeb-2's filters after its deduplication."""
DEDUP_REASONS = ("exact_duplicate", "minhash_duplicate")
"""Excluded rows that passed the filters (and reached deduplication)."""

# FineWeb-2's published heb_Hebr weights, {smallest cluster size: repetitions}, per maximum repetition count
# (huggingface/fineweb-2, misc/rehydration/weights/up_to_NN_reps.json). FineWeb-2 reports 14.5M heb_Hebr
# documents; misc/rehydration/weights/resulting_ds_sizes.json gives 31.9M after rehydration at 5.
FINEWEB2_HEB_WEIGHTS: dict[int, dict[int, int]] = {
    3: {1: 1, 3: 2, 8: 3, 31: 2, 88: 1},
    4: {1: 1, 3: 2, 5: 3, 11: 4, 28: 3, 46: 2, 90: 1, 92: 2, 93: 1, 94: 2, 95: 1, 96: 2, 97: 1},
    5: {1: 1, 3: 2, 4: 3, 7: 4, 13: 5, 27: 4, 35: 3, 52: 2, 97: 1},
    6: {1: 1, 2: 2, 4: 3, 5: 4, 8: 5, 15: 6, 26: 5, 33: 4, 46: 3, 71: 2, 73: 3, 74: 2, 80: 3, 82: 2, 99: 1, 100: 2,
        101: 1},
    7: {1: 1, 2: 2, 3: 3, 5: 4, 6: 5, 8: 6, 15: 7, 26: 6, 31: 5, 37: 4, 50: 3, 88: 2, 101: 1},
    8: {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 7: 6, 9: 7, 15: 8, 25: 7, 30: 6, 34: 5, 46: 4, 54: 3, 89: 2, 104: 1},
    9: {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 8: 7, 9: 8, 16: 9, 25: 8, 29: 7, 33: 6, 43: 5, 49: 4, 69: 3, 90: 2,
        105: 1},
    10: {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 7: 7, 8: 8, 11: 9, 16: 10, 25: 9, 28: 8, 32: 7, 36: 6, 46: 5, 52: 4, 84: 3,
         90: 2, 92: 3, 93: 2, 94: 3, 95: 2, 96: 3, 97: 2, 105: 1},
}  # fmt: skip
PRESETS = {"fineweb2-heb": 5, **{f"fineweb2-heb-{m}": m for m in FINEWEB2_HEB_WEIGHTS}}
"""Preset name -> maximum repetitions of FineWeb-2's heb_Hebr table (``fineweb2-heb``: up to 5)."""


class RehydrationError(HebatronError, ValueError):
    """The run's files cannot give a rehydration table (no curated documents, a damaged table)."""


def upsampling_weights(
    rates: np.ndarray | list[float], global_rate: float, max_repetitions: int, *, window: int = SMOOTHING_WINDOW
) -> np.ndarray:
    """Repetitions per cluster size, from ``rates[i]``: the removal rate of the ``i``-th size in ascending order
    (any scale, as long as ``global_rate`` is on it). Rate >= global: 1; the lowest rate: ``max_repetitions``;
    linear in between; then a centred moving average over ``window`` sizes (the ``window // 2`` sizes at either
    end keep their value) and rounding to the nearest integer (halves to even, as numpy rounds)."""
    rates = np.asarray(rates, dtype=np.float64)
    raw = np.ones(len(rates))
    lowest = float(rates.min()) if len(rates) else global_rate
    below = rates < global_rate
    if below.any() and lowest < global_rate:
        raw[below] = 1 + (max_repetitions - 1) * (global_rate - rates[below]) / (global_rate - lowest)
    half = window // 2
    smooth = raw.copy()
    if window > 1 and len(raw) > 2 * half:
        kernel = np.full(window, 1.0 / window)
        smooth[half : len(raw) - half] = np.convolve(raw, kernel, mode="valid")
    return np.rint(smooth).astype(np.int64)


def compact_weights(sizes: list[int] | np.ndarray, weights: list[int] | np.ndarray) -> dict[int, int]:
    """``{smallest size of each run of equal weights: weight}`` (FineWeb-2's published form)."""
    out: dict[int, int] = {}
    last = None
    for size, w in zip(sizes, weights, strict=True):
        if w != last:
            out[int(size)] = int(w)
            last = w
    return out


def weight_of(weights: dict[int, int], sizes: np.ndarray) -> np.ndarray:
    """The weight of each cluster size: that of the largest key <= the size (sizes below every key: 1)."""
    keys = np.array(sorted(weights), dtype=np.int64)
    values = np.array([weights[k] for k in sorted(weights)], dtype=np.int64)
    at = np.searchsorted(keys, np.asarray(sizes, dtype=np.int64), side="right") - 1
    return np.where(at >= 0, values[np.clip(at, 0, None)], 1)


def preset_weights(name: str) -> dict[int, int]:
    if name not in PRESETS:
        raise RehydrationError(f"unknown rehydration preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dict(FINEWEB2_HEB_WEIGHTS[PRESETS[name]])


def _paths(run_dir: Path) -> tuple[Path, Path, Path]:
    root = run_dir / "rehydration"
    return root, root / "rehydration.json", root / "cluster_sizes.parquet"


def _fingerprint(run_dir: Path, max_repetitions: int, min_clusters: int, dedup: DedupConfig) -> dict:
    """What the table depends on: curate's outputs as it recorded them (score rewrites the curated files but not
    their text), the method's parameters and the MinHash settings."""
    layout = RunLayout(run_dir)
    written = recorded_outputs(run_dir, "curate")
    if written is None:  # a run from before records: the files as they are
        written = {str(p.relative_to(run_dir)): current_sha256(p) for p in layout.curate_outputs()}
    return {
        "version": VERSION,
        "curate_outputs": dict(sorted(written.items())),
        "max_repetitions": max_repetitions,
        "min_clusters": min_clusters,
        "minhash": {
            "n_grams": dedup.n_grams,
            "num_buckets": dedup.num_buckets,
            "hashes_per_bucket": dedup.hashes_per_bucket,
            "seed": dedup.seed,
            "verify_threshold": dedup.verify_threshold,
        },
    }


_POPULATION = pa.schema([("id", pa.string()), ("text", pa.string()), ("removed", pa.bool_())])


def _write_population(run_dir: Path, folder: Path, rows_per_file: int = 1_000_000) -> int:
    """Curated ∪ excluded-by-dedup (removed = false) ∪ excluded-by-quality (removed = true), in Parquet files of
    ``rows_per_file`` rows (one MinHash task each). Returns the number of documents."""
    layout = RunLayout(run_dir)
    folder.mkdir(parents=True)
    n, part, writer = 0, 0, None

    def batches():
        for path in layout.curated_files():
            for b in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=["id", "text"]):
                yield b.column(0), b.column(1), [False] * b.num_rows
        for path in layout.excluded_files():
            cols = ["id", "text", "filter_reason"]
            for b in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=cols):
                steps = [(r or "").split(":", 1)[0] for r in b.column(2).to_pylist()]
                keep = [s in REMOVAL_STEPS or s in DEDUP_REASONS for s in steps]
                if any(keep):
                    mask = pa.array(keep)
                    removed = [s in REMOVAL_STEPS for s, k in zip(steps, keep, strict=True) if k]
                    yield b.column(0).filter(mask), b.column(1).filter(mask), removed

    try:
        for ids, texts, removed in batches():
            if writer is None or n >= (part + 1) * rows_per_file:
                if writer is not None:
                    writer.close()
                    part += 1
                writer = pq.ParquetWriter(folder / f"{part:05d}.parquet", _POPULATION)
            writer.write_table(pa.table([ids, texts.fill_null(""), pa.array(removed)], schema=_POPULATION))
            n += len(removed)
    finally:
        if writer is not None:
            writer.close()
    return n


def _cluster(population: Path, work: Path, dedup: DedupConfig) -> Path:
    """datatrove's four MinHash stages over the population; returns the folder of (id, cluster_size, removed)."""
    from datatrove.pipeline.dedup.minhash import MinhashDedupCluster, MinhashDedupFilter
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers.parquet import ParquetWriter

    from curation.executors import Stage, build_executors
    from curation.near_dup import bucket_tasks, minhash_config, signature_and_buckets
    from curation.words import HEBREW_WORDS

    schema = pa.schema([("id", pa.string()), ("cluster_size", pa.int64()), ("removed", pa.bool_())])

    def sizes_writer(name: str) -> ParquetWriter:
        def adapter(_self, doc) -> dict:
            meta = doc.metadata
            return {"id": doc.id, "cluster_size": int(meta["minhash_cluster_size"]), "removed": bool(meta["removed"])}

        return ParquetWriter(str(work / "sizes"), f"{name}-${{rank}}.parquet", adapter=adapter, schema=schema)

    mh = minhash_config(dedup)
    tasks = len(list(population.glob("*.parquet")))
    sigs, buckets, clusters = (str(work / p) for p in ("sigs", "buckets", "clusters"))

    signature, bucketer = signature_and_buckets(dedup, sigs, buckets, HEBREW_WORDS)

    def reader() -> ParquetReader:
        return ParquetReader(str(population), glob_pattern="*.parquet")

    stages = [
        Stage("sig", [reader(), signature], tasks),
        Stage("buckets", [bucketer], bucket_tasks(dedup, tasks)),
        Stage("cluster", [MinhashDedupCluster(buckets, clusters, config=mh, save_cluster_size=True)], 1),
        Stage(
            "sizes",
            [
                reader(),
                MinhashDedupFilter(clusters, sizes_writer("member"), load_cluster_sizes=True),
                sizes_writer("kept"),
            ],
            tasks,
        ),
    ]
    build_executors(stages, work / "logs", "local", 1).run()
    return work / "sizes"


def _rates(sizes_folder: Path, min_clusters: int) -> tuple[list[dict], float, int | None]:
    """Per size (ascending, the tail pooled): documents, removed, clusters, removal_rate; the global rate; the
    size the tail starts at (None without a tail)."""
    import duckdb

    rows = (
        duckdb.connect()
        .execute(
            "SELECT cluster_size, count(*), count(*) FILTER (WHERE removed) "
            "FROM read_parquet($f) GROUP BY 1 ORDER BY 1",
            {"f": [str(p) for p in sorted(sizes_folder.glob("*.parquet"))]},
        )
        .fetchall()
    )
    per_size: list[dict] = []
    tail_from = None
    for size, docs, removed in rows:
        if tail_from is None and docs / size < min_clusters and per_size:
            tail_from = size
        if tail_from is not None:
            tail = per_size[-1]
            tail["documents"] += docs
            tail["removed"] += removed
            tail["clusters"] += docs / size
            continue
        per_size.append({"size": int(size), "documents": int(docs), "removed": int(removed), "clusters": docs / size})
    for row in per_size:
        row["removal_rate"] = row["removed"] / row["documents"]
    clusters = sum(r["clusters"] for r in per_size)
    global_rate = sum(r["clusters"] * r["removal_rate"] for r in per_size) / clusters if clusters else 0.0
    for row in per_size:
        row["clusters"] = round(row["clusters"], 3)
    return per_size, global_rate, tail_from


def compute_rehydration(
    run_dir: Path, *, max_repetitions: int = 5, min_clusters: int = 10, dedup: DedupConfig | None = None
) -> dict:
    """``RUN/rehydration/rehydration.json`` and ``cluster_sizes.parquet`` (see the module docstring), computed
    unless they are already there for the same curate outputs and parameters; returns the table. The caller
    holds the run's lock."""
    run_dir = Path(run_dir)
    dedup = dedup or DedupConfig()
    root, table_path, sizes_path = _paths(run_dir)
    fingerprint = _fingerprint(run_dir, max_repetitions, min_clusters, dedup)
    if table_path.is_file() and sizes_path.is_file():
        table = read_json(table_path, rerun=f"delete {root} and re-run `hebatron shard {run_dir} --rehydrate`")
        if table.get("inputs") == fingerprint and current_sha256(sizes_path) == table.get("cluster_sizes_sha256"):
            return table
    work = RunLayout(run_dir).work / "rehydration"
    shutil.rmtree(work, ignore_errors=True)
    n = _write_population(run_dir, work / "population")
    if n == 0:
        raise RehydrationError(f"{run_dir / 'curated'}: no documents to count cluster sizes over")
    sizes_folder = _cluster(work / "population", work, dedup)
    per_size, global_rate, tail_from = _rates(sizes_folder, min_clusters)
    weights = upsampling_weights([r["removal_rate"] for r in per_size], global_rate, max_repetitions)
    for row, w in zip(per_size, weights, strict=True):
        row["weight"] = int(w)
    root.mkdir(exist_ok=True)
    members = pa.concat_tables(pq.read_table(p) for p in sorted(sizes_folder.glob("*.parquet")))
    kept = members.filter(pc.invert(members.column("removed"))).select(["id", "cluster_size"])
    with atomic_path(sizes_path) as tmp:
        pq.write_table(kept.sort_by("id"), tmp, compression="zstd")
    table = {
        "method": METHOD,
        "parameters": {
            "max_repetitions": max_repetitions,
            "smoothing_window": SMOOTHING_WINDOW,
            "min_clusters": min_clusters,
            "removal_steps": list(REMOVAL_STEPS),
            "population": "curated + exact/minhash duplicates + quality-excluded, clustered by MinHash",
            "minhash": fingerprint["minhash"],
        },
        "population": {
            "documents": sum(r["documents"] for r in per_size),
            "removed": sum(r["removed"] for r in per_size),
        },
        "global_removal_rate": global_rate,
        "tail_from": tail_from,
        "sizes": per_size,
        "weights": {str(k): v for k, v in compact_weights([r["size"] for r in per_size], weights).items()},
        "cluster_sizes_sha256": current_sha256(sizes_path),
        "inputs": fingerprint,
    }
    write_json_atomic(table_path, table)
    shutil.rmtree(work, ignore_errors=True)
    return table


def load_cluster_sizes(run_dir: Path) -> dict[str, int]:
    """Curated id -> cluster size before filtering, for the documents in a cluster of two or more."""
    _, _, sizes_path = _paths(Path(run_dir))
    t = pq.read_table(sizes_path, columns=["id", "cluster_size"], filters=[("cluster_size", ">", 1)])
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))
