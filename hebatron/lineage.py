"""The `lineage` view and `hebatron trace RUN ID`: where a document came from and where it went.

One row per curated or excluded document and per shard row: the source file and the record's position in it
(JSONL line from 1, Parquet row from 0, WARC byte offset; ``source`` as curate stored it, ``source_path`` the full
path or URL curate planned), the input's own id, its URL, its MinHash cluster, its
fate (``curated``, ``excluded`` with the reason, or ``anchor``), and for a row of a shard its phase, role, shard
file and row, and — once tokenized — the ``.bin`` prefix, document number, first token and token count.
A rehydrated copy (``ID#r2`` …) is its own shard row with the source of ``ID``; an anchor row
(``anchor:FILE:RECORD``) has its file and record number as source and position. A curated document that shard
left out (decontamination) is a curated row without a phase and an excluded row with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from common.paths import sql_files

_DOC_COLUMNS = "id, source, position, source_id, url, minhash_cluster_id, minhash_cluster_size"


def input_files(run_dir: Path) -> pa.Table:
    """The inputs curate read, as it planned them (``RUN/.work/plan.json``: full paths or URLs); ``source`` in
    the rows is each one's name under their common folder, which ``source_path`` in the lineage resolves."""
    plan = Path(run_dir) / ".work" / "plan.json"
    try:
        inputs = [str(i) for i in json.loads(plan.read_text(encoding="utf-8")).get("inputs", [])]
    except (OSError, ValueError, AttributeError):
        inputs = []
    return pa.table({"source_path": pa.array(inputs, pa.string())})


def lineage_sql(shard_files: list[Path] | None, tokenized: bool) -> str:
    docs = (
        f"SELECT {_DOC_COLUMNS}, NULL::VARCHAR AS filter_reason, 'curated' AS outcome FROM curated "
        f"UNION ALL SELECT {_DOC_COLUMNS}, filter_reason, 'excluded' FROM excluded"
    )
    # the full path or URL of the input file: the planned input whose path ends with the row's source
    docs = (
        f"SELECT d.*, (SELECT min(i.source_path) FROM input_files i WHERE i.source_path = d.source "
        f"OR ends_with(i.source_path, '/' || d.source)) AS source_path FROM ({docs}) d"
    )
    if tokenized:
        placed = (
            "SELECT t.id AS row_id, t.phase, s.role, t.shard, t.shard_row, t.prefix, t.document, t.first_token, "
            "t.tokens FROM token_ranges t JOIN shard_rows s ON s.shard = t.shard AND s.shard_row = t.shard_row"
        )
    else:
        placed = (
            "SELECT id AS row_id, phase, role, shard, shard_row, NULL::VARCHAR AS prefix, NULL::BIGINT AS document, "
            "NULL::BIGINT AS first_token, NULL::BIGINT AS tokens FROM shard_rows"
        )
    if not shard_files:
        return f"""
        SELECT id, NULL::VARCHAR AS row_id, outcome, filter_reason, source, source_path, position, source_id, url,
               minhash_cluster_id, minhash_cluster_size, NULL::TINYINT AS phase, NULL::VARCHAR AS role,
               NULL::VARCHAR AS shard, NULL::BIGINT AS shard_row, NULL::VARCHAR AS prefix, NULL::BIGINT AS document,
               NULL::BIGINT AS first_token, NULL::BIGINT AS tokens
        FROM ({docs})"""
    return f"""
    WITH docs AS ({docs}),
    placed AS ({placed}),
    matched AS (
        SELECT p.*, coalesce(d1.id, d2.id) AS doc_id
        FROM placed p
        LEFT JOIN (SELECT id FROM docs WHERE outcome = 'curated') d1 ON d1.id = p.row_id
        LEFT JOIN (SELECT id FROM docs WHERE outcome = 'curated') d2
               ON d1.id IS NULL AND d2.id = regexp_replace(p.row_id, '#r[0-9]+$', '')
    )
    SELECT
        coalesce(d.id, CASE WHEN m.role = 'anchor' THEN regexp_replace(m.row_id, '#r[0-9]+$', '') END) AS id,
        m.row_id,
        coalesce(d.outcome, CASE WHEN m.role = 'anchor' THEN 'anchor' END) AS outcome,
        d.filter_reason,
        coalesce(d.source, regexp_extract(m.row_id, '^anchor:(.*):([0-9]+)(#r[0-9]+)?$', 1)) AS source,
        d.source_path,
        coalesce(d.position, TRY_CAST(regexp_extract(m.row_id, '^anchor:(.*):([0-9]+)(#r[0-9]+)?$', 2) AS BIGINT))
            AS position,
        d.source_id, d.url, d.minhash_cluster_id, d.minhash_cluster_size,
        m.phase, m.role, m.shard, m.shard_row, m.prefix, m.document, m.first_token, m.tokens
    FROM matched m
    LEFT JOIN (SELECT * FROM docs WHERE outcome = 'curated') d ON d.id = m.doc_id
    UNION ALL
    SELECT d.id, NULL, d.outcome, d.filter_reason, d.source, d.source_path, d.position, d.source_id, d.url,
           d.minhash_cluster_id,
           d.minhash_cluster_size, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM docs d
    WHERE d.outcome = 'excluded' OR d.id NOT IN (SELECT doc_id FROM matched WHERE doc_id IS NOT NULL)
    """


def shard_rows_sql(shard_files: list[Path]) -> str:
    """Every shard row with its file (``phase-k/part-N.parquet``, as the manifest names it) and row in it."""
    return (
        "SELECT id, phase, role, regexp_extract(filename, '(phase-[0-9]+/[^/]+)$', 1) AS shard, "
        f"file_row_number AS shard_row FROM read_parquet({sql_files(shard_files)}, filename = true, "
        "file_row_number = true, union_by_name = true)"
    )


def trace(run: Path, doc_id: str) -> list[dict]:
    """The lineage rows of DOC_ID (a curated or excluded id, a shard row id, or an input's own id)."""
    from hebatron.catalog import open_catalog

    con = open_catalog(run)
    rel = con.execute(
        "SELECT * FROM lineage WHERE id = $1 OR row_id = $1 OR source_id = $1 "
        "ORDER BY outcome, phase NULLS FIRST, row_id",
        {"1": doc_id},
    )
    cols = [c[0] for c in rel.description]
    rows = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
    views = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    for row in rows:
        row["path"] = _path(row)
        if "contamination" in views and row["row_id"] is not None:
            hits = con.execute(
                "SELECT task, matched_ngram FROM contamination WHERE id = $1 ORDER BY task", {"1": row["row_id"]}
            ).fetchall()
            row["contamination"] = [f"{t}: {g}" for t, g in hits]
        if "clusters" in views and row["minhash_cluster_id"] is not None and row["outcome"] == "curated":
            members = con.execute(
                "SELECT members FROM clusters WHERE cluster_id = $1", {"1": row["minhash_cluster_id"]}
            ).fetchall()
            row["cluster_members_dropped"] = [m["id"] for m in members[0][0]] if members else []
    con.close()
    return rows


def _path(row: dict) -> str:
    """The stages the document went through, in one line."""
    if row["outcome"] == "excluded":
        return f"curate: excluded ({row['filter_reason']})"
    steps = [
        "anchor pool" if row["outcome"] == "anchor" else f"curate: kept (cluster of {row['minhash_cluster_size']})"
    ]
    if row["phase"] is None:
        return steps[0] + " → in no phase"
    if row["outcome"] != "anchor":
        steps.append(f"score: phase {row['phase']}")
    steps.append(f"shard: {row['shard']} row {row['shard_row']}")
    if row["prefix"] is not None:
        end = row["first_token"] + row["tokens"]
        steps.append(f"tokenize: {row['prefix']} document {row['document']}, tokens [{row['first_token']}, {end})")
    return " → ".join(steps)
