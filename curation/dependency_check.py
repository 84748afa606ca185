"""datatrove's dependency check, answered by name instead of by reading every installed distribution.

datatrove checks a step's optional dependencies whenever the step is created, and again whenever it is unpickled
in a worker: `_is_distribution_available(name)` parses the metadata of every installed distribution to find the
one called NAME (≈ 0.25 s with ~230 installed, once per name and process: ≈ 1 s of each curation process's start).
`use_fast_check()` puts a lookup of that distribution by name (`importlib.metadata.distribution`) in front of it,
which gives the same answer where the name is found; where it is not, datatrove's own scan decides.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache

from datatrove.utils import _import_utils

_scan = _import_utils._is_distribution_available


@lru_cache
def _is_distribution_available(distribution_name: str) -> bool | None:
    try:
        metadata = importlib.metadata.distribution(distribution_name).metadata
    except importlib.metadata.PackageNotFoundError:
        metadata = None
    name = metadata.get("Name") if metadata is not None else None
    if name and name.lower() == distribution_name:
        return True
    return _scan(distribution_name)  # the full scan: another spelling, or not installed


def use_fast_check() -> None:
    """Makes datatrove's dependency check look the distribution up by name (for this process and its forks)."""
    _import_utils._is_distribution_available = _is_distribution_available
