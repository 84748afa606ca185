"""Progress bars for long work (rich), one helper for every stage."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

Advance = Callable[[int], None]
Start = Callable[[str, int], Advance]


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Start]:
    """Yields ``start(description, total) -> advance(n)``; a no-op when disabled."""
    if not enabled:
        yield lambda _description, _total: (lambda _n: None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:

        def start(description: str, total: int) -> Advance:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield start
