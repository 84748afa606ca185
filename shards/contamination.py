"""The contamination audit of a run's shards, and decontamination at shard time.

**Audit** (always): every row of every phase — Hebrew and anchor — is checked for n-gram overlap
(``curation.decont``: 12 canonical words) with the held-out sets the trainer evaluates on — ``eval-he`` (HTB
dev+test, ``common.sources.heldout_hebrew_documents``, what ``tokens/eval/he`` holds) and ``eval-en`` (the anchors
held out of every phase, ``shards/eval/anchor.parquet``) — and with every index or benchmark file given with
``audit`` or ``decontaminate``. One row per (document, task) it overlaps goes to ``shards/contamination.parquet``
(the ``contamination`` view); the manifest's ``contamination`` entry has, per phase and task, the documents and
tokens (end-of-document token included) that overlap it.

**Decontamination** (``decontaminate``): before anything is counted, a curated document overlapping one of those
indexes is left out of every phase; it is written, with all its curated columns, ``filter_reason``
``decontamination:<task>`` and ``matched_ngram``, to ``shards/decontaminated.parquet``, which the catalog's
``excluded`` view includes. (The curated files are not rewritten: ``curate`` owns them.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.files import file_sha256
from common.layout import BATCH_ROWS
from curation.decont.index import DecontIndex, open_indexes
from curation.decont.steps import REASON

EVAL_TASKS = {"eval-he": "HTB treebank dev+test (tokens/eval/he)", "eval-en": "held-out anchors (tokens/eval/en)"}
AUDIT_FILE, REMOVED_FILE = "contamination.parquet", "decontaminated.parquet"
AUDIT_SCHEMA = pa.schema(
    [
        ("phase", pa.int8()),
        ("task", pa.string()),
        ("id", pa.string()),
        ("role", pa.string()),
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("tokens", pa.int64()),
        ("matched_ngram", pa.string()),
    ]
)


def fingerprint(specs: tuple[str, ...]) -> list[list[str]]:
    """What the plan records of the indexes given: each path with the sha256 of its files (a rebuilt index
    re-shards)."""
    out = []
    for spec in specs:
        path = Path(spec)
        files = sorted(path.glob("*")) if path.is_dir() else [path]
        digest = hashlib.sha256()
        for f in files:
            if f.is_file():
                digest.update(f.name.encode() + file_sha256(f).encode())
        out.append([spec, digest.hexdigest()])
    return out


def decontaminate(
    files: list[Path], index: DecontIndex, removed_path: Path, advance
) -> tuple[list[np.ndarray], dict[str, int]]:
    """Per curated file, a mask of the documents that overlap INDEX; those rows are written to REMOVED_PATH with
    their reason and n-gram. Returns (masks, documents removed per task)."""
    masks, counts, tables = [], {}, []
    for path in files:
        mask = []
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            texts = batch.column("text").to_pylist()
            found = [index.matches(t or "") for t in texts]
            hit = np.fromiter((bool(f) for f in found), bool, len(found))
            mask.append(hit)
            if hit.any():
                rows = pa.Table.from_batches([batch]).filter(pa.array(hit))
                tasks = [min(f) for f in found if f]
                for t in tasks:
                    counts[t] = counts.get(t, 0) + 1
                rows = rows.append_column("filter_reason", pa.array([f"{REASON}:{t}" for t in tasks], pa.string()))
                ngram = [f[t] for f, t in zip((f for f in found if f), tasks, strict=True)]
                tables.append(rows.append_column("matched_ngram", pa.array(ngram, pa.string())))
            advance(batch.num_rows)
        masks.append(np.concatenate(mask) if mask else np.zeros(0, bool))
    if tables:
        pq.write_table(pa.concat_tables(tables, promote_options="default"), removed_path, compression="zstd")
    else:
        from curation.output import EXCLUDED_SCHEMA

        pq.write_table(EXCLUDED_SCHEMA.empty_table(), removed_path, compression="zstd")
    return masks, dict(sorted(counts.items()))


def audit_index(held_anchor_texts: list[str], specs: tuple[str, ...]) -> DecontIndex:
    """The eval sets the trainer uses, plus the indexes in SPECS."""
    from common.sources import heldout_hebrew_documents

    parts = [DecontIndex.from_texts("eval-he", heldout_hebrew_documents())]
    if held_anchor_texts:
        parts.append(DecontIndex.from_texts("eval-en", held_anchor_texts))
    if specs:
        parts.append(open_indexes(specs))
    return DecontIndex.merge(parts)


def audit(out: Path, phases: dict[str, dict], index: DecontIndex, count_tokens, advance) -> dict:
    """Scan the shards under OUT (the manifest's ``phases``); write OUT/contamination.parquet and return the
    manifest's ``contamination`` entry. COUNT_TOKENS(texts) gives each text's tokens (+1 end of document)."""
    rows: dict[str, list] = {name: [] for name in AUDIT_SCHEMA.names}
    per_phase: dict[str, dict] = {}
    for k, phase in sorted(phases.items()):
        summary = {t: {"documents": 0, "tokens": 0, "hebrew_documents": 0, "anchor_documents": 0} for t in index.tasks}
        for f in phase["files"]:
            table = pq.read_table(out / f["path"], columns=["id", "text", "role"])
            ids, texts, roles = (table.column(c).to_pylist() for c in ("id", "text", "role"))
            hits = [(i, m) for i, m in enumerate(map(index.matches, texts)) if m]
            tokens = count_tokens([texts[i] for i, _ in hits]) if hits else []
            for (i, found), n in zip(hits, tokens, strict=True):
                for task, ngram in sorted(found.items()):
                    s = summary[task]
                    s["documents"] += 1
                    s["tokens"] += int(n)
                    s[f"{roles[i]}_documents"] += 1
                    for name, value in zip(
                        AUDIT_SCHEMA.names, (int(k), task, ids[i], roles[i], f["path"], i, int(n), ngram), strict=True
                    ):
                        rows[name].append(value)
            advance(len(texts))
        per_phase[k] = summary
    pq.write_table(pa.table(rows, schema=AUDIT_SCHEMA), out / AUDIT_FILE, compression="zstd")
    return {
        "path": AUDIT_FILE,
        "n_grams": index.n_grams,
        "tasks": {
            t: {"ngrams": index.sizes[t], "source": EVAL_TASKS.get(t) or ", ".join(index.sources.get(t, []))}
            for t in index.tasks
        },
        "phases": per_phase,
    }
