"""Paths handed to tools that read them as patterns or as SQL: DuckDB, ``glob``, fsspec (and so datatrove).

DuckDB, ``glob.glob`` and fsspec's ``glob`` treat ``*``, ``?`` and ``[`` in a path as wildcards, DuckDB even in
the files of an explicit list (``read_parquet(['a*.parquet'])`` reads ``a*.parquet`` and ``ab.parquet``), and SQL
ends a string at a single quote. A run directory may be called ``it's`` or ``run[1]*``: every path that reaches
one of these tools goes through this module, once.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

__all__ = ["glob_literal", "has_glob_characters", "sql_files", "sql_literal", "sql_path"]


def has_glob_characters(path: Path | str) -> bool:
    """Whether a glob would read PATH as a pattern rather than as itself."""
    return glob.has_magic(str(path))


def glob_literal(path: Path | str) -> str:
    """PATH as a glob pattern that matches exactly PATH (``[``, ``*``, ``?`` bracketed), for ``glob``, fsspec and
    DuckDB alike."""
    return glob.escape(str(path))


def sql_literal(text: str) -> str:
    """TEXT as an SQL string literal (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def sql_path(path: Path | str) -> str:
    """A file as DuckDB must be given it: a string literal that DuckDB does not expand as a glob."""
    return sql_literal(glob_literal(path))


def sql_files(paths: Iterable[Path | str]) -> str:
    """An explicit DuckDB list of files, ``['a', 'b']``, each one read as itself."""
    return "[" + ", ".join(map(sql_path, paths)) + "]"
