"""DuckDB views over a run's files: `curated`, `excluded`, `clusters`, `stats`, `drop_reasons`, `step_stats`,
`shards`, `contamination`, `token_ranges`, `lineage` (``hebatron.lineage``).

Views read the Parquet files in place; nothing is copied. The files are the ones the stages recorded writing
(``common.freshness``; a run from before records: the folder's files), each handed to DuckDB as itself
(``common.paths``), so a run directory called ``it's`` or ``run[1]*`` reads like any other. A view exists as
soon as its stage has run, empty with the stage's columns when there are no rows (nothing excluded, say).
The JSON files (the funnel, datatrove's step counters) are read and checked here, so a damaged one is one line
naming it. `open_catalog(RUN)` returns an in-memory connection with the views registered; `hebatron sql RUN
"SELECT ..."` runs a query over them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from common.errors import HebatronError
from common.freshness import recorded_files, recorded_outputs, rerun_advice
from common.layout import MissingStageOutput, read_json, read_manifest
from common.paths import sql_files


class CatalogError(HebatronError, RuntimeError):
    """A run without the files a query needs, or a query DuckDB refuses."""


#: Columns of the views built from stats.json and step_stats.json when they have no rows.
_JSON_COLUMNS = {
    "stats": {
        "step": pa.string(),
        "documents_in": pa.int64(),
        "documents_out": pa.int64(),
        "dropped": pa.int64(),
        "characters_in": pa.int64(),
        "characters_out": pa.int64(),
    },
    "drop_reasons": {"filter_reason": pa.string(), "documents": pa.int64(), "characters": pa.int64()},
    "step_stats": {
        "stage": pa.string(),
        "order": pa.int64(),
        "step": pa.string(),
        "seconds": pa.float64(),
        "counters": pa.string(),
    },
}


def _empty_schema(view: str) -> pa.Schema:
    """The columns of a Parquet view without files: the schema its stage writes."""
    if view == "shards":
        from shards.spill import SHARD_SCHEMA

        return SHARD_SCHEMA
    from curation.output import CURATED_SCHEMA, EXCLUDED_SCHEMA

    return CURATED_SCHEMA if view == "curated" else EXCLUDED_SCHEMA


def _folder_files(run_dir: Path, folder: str) -> list[Path] | None:
    """The Parquet files of RUN/FOLDER that the stages recorded writing (each must exist), or the folder's files
    for a run without records; None when the stage has not run."""
    files = recorded_files(run_dir, folder, reader=None, hashes=False)
    if files is None:
        if not (run_dir / folder).is_dir():
            return None
        files = sorted((run_dir / folder).glob("*.parquet"))
    return [f for f in files if f.suffix == ".parquet"]


def _shard_files(run_dir: Path) -> list[Path] | None:
    """The shard files the manifest lists; None before `hebatron shard`."""
    if not (run_dir / "shards" / "manifest.json").is_file():
        return None
    manifest = read_manifest(run_dir)
    files = [run_dir / "shards" / f["path"] for _, phase in sorted(manifest["phases"].items()) for f in phase["files"]]
    for path in files:
        if not path.is_file():
            raise MissingStageOutput(
                f"{path} is missing (the manifest lists it); re-run `hebatron shard {run_dir} --anchor ANCHOR...`"
            )
    return files


def shard_extras(run_dir: Path) -> dict:
    """The files beside the shards that views read: ``contamination`` (the audit's rows), ``decontaminated`` (rows
    for ``excluded``) from the manifest, and ``lineage`` (tokenize's token ranges, from tokens.json)."""
    extra: dict = {}
    if (run_dir / "shards" / "manifest.json").is_file():
        entry = read_manifest(run_dir).get("contamination") or {}
        if "path" in entry:
            extra["contamination"] = run_dir / "shards" / entry["path"]
        if "decontaminated" in entry:
            extra["decontaminated"] = run_dir / "shards" / entry["decontaminated"]["path"]
    tokens = run_dir / "tokens" / "tokens.json"
    if tokens.is_file():
        summary = read_json(tokens, rerun=f"re-run `hebatron tokenize {run_dir}`")
        files = [run_dir / "tokens" / p["lineage"] for p in summary.get("phases", {}).values() if p.get("lineage")]
        if files:
            extra["lineage"] = files
    for name, value in extra.items():
        for path in value if isinstance(value, list) else [value]:
            if not path.is_file():
                stage = "tokenize" if name == "lineage" else "shard"
                raise MissingStageOutput(f"{path} is missing; re-run `hebatron {stage} {run_dir}`")
    return extra


def _rows(rows: list[dict], view: str) -> pa.Table:
    columns = _JSON_COLUMNS[view]
    if not rows:
        return pa.schema(list(columns.items())).empty_table()
    return pa.Table.from_pylist(rows)


def _stats_rerun(run_dir: Path) -> str:
    """What rewrites stats.json and step_stats.json: the last stage that wrote them."""
    writer = "score" if "stats.json" in (recorded_outputs(run_dir, "score") or {}) else "curate"
    return rerun_advice(run_dir, writer, None)


def read_funnel(run_dir: Path) -> dict:
    """RUN/stats.json, checked: ``MissingStageOutput`` or ``DamagedFileError`` naming it, and what rewrites it."""
    path = Path(run_dir) / "stats.json"
    rerun = _stats_rerun(Path(run_dir))
    funnel = read_json(path, rerun=rerun, missing=f"run `hebatron curate INPUT... -o {run_dir}` first")
    if not isinstance(funnel, dict) or not {"funnel", "drop_reasons"} <= funnel.keys():
        raise CatalogError(f"{path}: not a funnel (no 'funnel' and 'drop_reasons'); {rerun}")
    return funnel


def _json_views(run_dir: Path) -> dict[str, pa.Table]:
    views: dict[str, pa.Table] = {}
    if (run_dir / "stats.json").is_file():
        funnel = read_funnel(run_dir)
        views["stats"] = _rows(funnel["funnel"], "stats")
        views["drop_reasons"] = _rows(funnel["drop_reasons"], "drop_reasons")
    steps = run_dir / "step_stats.json"
    if steps.is_file():
        views["step_stats"] = _rows(read_json(steps, rerun=_stats_rerun(run_dir)), "step_stats")
    return views


def view_sources(run_dir: Path) -> dict[str, str | pa.Table]:
    """view name -> the SELECT that defines it (over the run's Parquet files) or the table it shows (read from
    the run's JSON files), for the stages this run has been through."""
    run_dir = Path(run_dir)
    views: dict[str, str | pa.Table] = {}
    found = {name: _folder_files(run_dir, name) for name in ("curated", "excluded")}
    found["shards"] = _shard_files(run_dir)
    extra = shard_extras(run_dir)
    if found["excluded"] is not None and "decontaminated" in extra:  # documents shard left out of every phase
        found["excluded"] = [*found["excluded"], extra["decontaminated"]]
    for name, files in found.items():
        if files is None:
            continue
        if files:
            views[name] = f"SELECT * FROM read_parquet({sql_files(files)}, union_by_name=true)"
        else:
            views[name] = _empty_schema(name).empty_table()
    if "curated" in views and "excluded" not in views:  # curate publishes both folders
        views["excluded"] = _empty_schema("excluded").empty_table()
    if "contamination" in extra:
        views["contamination"] = f"SELECT * FROM read_parquet({sql_files([extra['contamination']])})"
    if "lineage" in extra:
        views["token_ranges"] = f"SELECT * FROM read_parquet({sql_files(extra['lineage'])}, union_by_name=true)"
    views.update(_json_views(run_dir))
    return views


#: One row per MinHash cluster: the document kept (in `curated`) and the members dropped as its near-duplicates
#: (rows of `excluded` with the same `minhash_cluster_id`, each with its reason). `size` counts the rows found;
#: the kept row's `minhash_cluster_size` also counts exact copies removed before MinHash.
CLUSTERS_VIEW = """
WITH members AS (
    SELECT minhash_cluster_id AS cluster_id, id, url, minhash_cluster_size, NULL::VARCHAR AS filter_reason
    FROM curated WHERE minhash_cluster_id IS NOT NULL
    UNION ALL
    SELECT minhash_cluster_id, id, url, NULL, filter_reason FROM excluded WHERE minhash_cluster_id IS NOT NULL
)
SELECT
    cluster_id,
    count(*) AS size,
    any_value(id) FILTER (WHERE filter_reason IS NULL) AS kept_id,
    any_value(url) FILTER (WHERE filter_reason IS NULL) AS kept_url,
    any_value(minhash_cluster_size) FILTER (WHERE filter_reason IS NULL) AS minhash_cluster_size,
    coalesce(
        list({'id': id, 'url': url, 'filter_reason': filter_reason} ORDER BY id)
            FILTER (WHERE filter_reason IS NOT NULL),
        []
    ) AS members
FROM members
GROUP BY cluster_id
"""


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    return list(con.sql(f"SELECT * FROM {view} LIMIT 0").columns)


def _connect(views: dict[str, str | pa.Table], run_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, source in views.items():
        if isinstance(source, str):
            con.execute(f"CREATE VIEW {name} AS {source}")
        else:
            con.register(name, source)
    if {"curated", "excluded"} <= views.keys() and all(
        "minhash_cluster_id" in _columns(con, v) for v in ("curated", "excluded")
    ):  # runs curated before cluster ids were kept have no such column, and no clusters view
        con.execute(f"CREATE VIEW clusters AS {CLUSTERS_VIEW}")
    if run_dir is not None and {"curated", "excluded"} <= views.keys() and "source" in _columns(con, "curated"):
        from hebatron.lineage import input_files, lineage_sql, shard_rows_sql

        con.register("input_files", input_files(run_dir))
        files = _shard_files(run_dir) if "shards" in views else None
        if files:
            con.execute(f"CREATE VIEW shard_rows AS {shard_rows_sql(files)}")
        con.execute(f"CREATE VIEW lineage AS {lineage_sql(files, 'token_ranges' in views)}")
    return con


def open_catalog(run_dir: Path) -> duckdb.DuckDBPyConnection:
    return _connect(_views(Path(run_dir)), Path(run_dir))


def _views(run_dir: Path) -> dict[str, str | pa.Table]:
    if not run_dir.is_dir():
        raise CatalogError(f"run directory not found: {run_dir}")
    views = view_sources(run_dir)
    if not views:
        raise CatalogError(f"{run_dir} has no curated data yet; run `hebatron curate INPUT -o {run_dir}` first")
    return views


def query(run_dir: Path, sql: str) -> tuple[list[str], list[tuple]]:
    views = _views(Path(run_dir))
    con = _connect(views, Path(run_dir))
    try:
        rel = con.sql(sql)
        return ([], []) if rel is None else (list(rel.columns), rel.fetchall())
    except duckdb.Error as e:
        raise CatalogError(f"query failed: {str(e).splitlines()[0]} (views: {', '.join(views)})") from None
