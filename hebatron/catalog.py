"""DuckDB views over a run's files: `curated`, `excluded`, `stats` (and more as later stages write them).

Views read the Parquet and JSON files in place; nothing is copied. `open_catalog(RUN)` returns an
in-memory connection with the views registered; `hebatron sql RUN "SELECT ..."` runs a query over them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from common.errors import HebatronError


class CatalogError(HebatronError, RuntimeError):
    """A run without the files a query needs, or a query DuckDB refuses."""


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def view_sources(run_dir: Path) -> dict[str, str]:
    """view name -> the SELECT that defines it, for the files this run has."""
    views: dict[str, str] = {}
    for name in ("curated", "excluded"):
        folder = run_dir / name
        if folder.is_dir() and any(folder.glob("*.parquet")):
            views[name] = f"SELECT * FROM read_parquet({_sql_str(folder / '*.parquet')}, union_by_name=true)"
    if any(run_dir.glob("shards/phase-*/part-*.parquet")):
        views["shards"] = (
            f"SELECT * FROM read_parquet({_sql_str(run_dir / 'shards' / 'phase-*' / 'part-*.parquet')},"
            " union_by_name=true)"
        )
    stats = run_dir / "stats.json"
    if stats.is_file():
        views["stats"] = (
            f"SELECT unnest(funnel, recursive := true) FROM read_json({_sql_str(stats)}, maximum_object_size=67108864)"
        )
        views["drop_reasons"] = (
            f"SELECT unnest(drop_reasons, recursive := true) FROM read_json({_sql_str(stats)},"
            " maximum_object_size=67108864)"
        )
    steps = run_dir / "step_stats.json"
    if steps.is_file() and steps.stat().st_size > 2:
        views["step_stats"] = f"SELECT * FROM read_json({_sql_str(steps)})"
    return views


def open_catalog(run_dir: Path) -> duckdb.DuckDBPyConnection:
    if not run_dir.is_dir():
        raise CatalogError(f"run directory not found: {run_dir}")
    views = view_sources(run_dir)
    if not views:
        raise CatalogError(f"{run_dir} has no curated data yet; run `hebatron curate INPUT -o {run_dir}` first")
    con = duckdb.connect()
    for name, select in views.items():
        con.execute(f"CREATE VIEW {name} AS {select}")
    return con


def query(run_dir: Path, sql: str) -> tuple[list[str], list[tuple]]:
    con = open_catalog(run_dir)
    try:
        rel = con.sql(sql)
    except duckdb.Error as e:
        raise CatalogError(
            f"query failed: {str(e).splitlines()[0]} (views: {', '.join(view_sources(run_dir))})"
        ) from None
    if rel is None:
        return [], []
    return list(rel.columns), rel.fetchall()
