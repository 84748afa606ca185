"""Small file helpers shared by sharding and tokenization: hashes, atomic JSON, directory swaps, progress."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from curation.files import file_sha256, write_json_atomic

__all__ = ["file_sha256", "progress_bar", "staging_dir", "swap_into_place", "write_json_atomic"]


@contextlib.contextmanager
def staging_dir(run_dir: Path, name: str) -> Iterator[Path]:
    """A fresh ``RUN/.<name>.tmp-<pid>`` (left-overs of crashed runs are removed first), deleted on exit
    unless its contents were moved out."""
    for stale in run_dir.glob(f".{name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = run_dir / f".{name}.tmp-{os.getpid()}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def swap_into_place(new: Path, final: Path) -> None:
    """Replace directory ``final`` with the complete directory ``new`` (same file system): two renames,
    so readers see the old tree or the new one — never a half-written one (at worst, briefly, none)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Yields ``start(description, total) -> advance(n)``; a no-op when disabled."""
    if not enabled:
        yield lambda _description, _total: (lambda _n: None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, transient=True) as bar:

        def start(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield start
