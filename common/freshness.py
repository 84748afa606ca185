"""What each stage read, and refusing to run a later stage on inputs that changed since.

Each stage, when it finishes, records the sha256 of the files its outputs were made from in
``RUN/.stages/<stage>.json``: score the curated files it scored (as it left them), shard the scored files and
``cutoffs.json``, tokenize the manifest. Before a stage runs, ``check_fresh`` re-hashes what
every earlier stage recorded; a file that changed means that stage's outputs are stale, and the command stops
with one line naming the stage to re-run. (Re-scoring with other percentiles after sharding, say, rewrites
the phases; tokenizing the old shards then would train on the old phases.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from common.errors import StaleInputError
from common.files import file_sha256, write_json_atomic

#: The stages whose outputs later stages read, in pipeline order.
STAGES = ("curate", "score", "shard", "tokenize", "train")
#: Stages that rewrite their input in place (score adds columns to the curated files). Later stages read those
#: files themselves, so a change to them is new input for the later stage, not a stale output: their records
#: are kept (the stage uses its own to know it is done) but not checked by later stages.
IN_PLACE = frozenset({"score"})

_cache: dict[tuple[str, int, int], str] = {}


def current_sha256(path: Path) -> str | None:
    """PATH's sha256 as it is now (None when it does not exist), hashed once per size and mtime: a stage
    that hashes its inputs for its own plan and then records them reads each file once."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _cache:
        _cache[key] = file_sha256(path)
    return _cache[key]


def _record_path(run_dir: Path, stage: str) -> Path:
    return run_dir / ".stages" / f"{stage}.json"


def record_inputs(run_dir: Path, stage: str, files: Iterable[Path]) -> dict[str, str]:
    """Record that STAGE's outputs were made from FILES (paths under RUN), as they are now."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    run_dir = Path(run_dir)
    reads = {}
    for f in sorted(set(map(Path, files))):
        sha = current_sha256(f)
        if sha is None:
            raise FileNotFoundError(f"{f}: cannot record a file that does not exist")
        reads[str(f.relative_to(run_dir))] = sha
    _record_path(run_dir, stage).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(_record_path(run_dir, stage), {"stage": stage, "reads": reads})
    return reads


def recorded_inputs(run_dir: Path, stage: str) -> dict[str, str] | None:
    """What STAGE recorded (path under RUN -> sha256), or None when it has no readable record."""
    try:
        return json.loads(_record_path(Path(run_dir), stage).read_text(encoding="utf-8"))["reads"]
    except (OSError, ValueError, KeyError):
        return None


def check_fresh(run_dir: Path, before: str, *, command: str | None = None) -> None:
    """Raise ``StaleInputError`` when a stage earlier than BEFORE recorded inputs that have changed since.
    The message names the earliest stale stage: the one to re-run (and everything after it)."""
    run_dir = Path(run_dir)
    for stage in STAGES[: STAGES.index(before)]:
        if stage in IN_PLACE:
            continue
        reads = recorded_inputs(run_dir, stage)
        if reads is None:
            continue  # a run written before records existed, or this stage never ran
        changed = [name for name, sha in reads.items() if current_sha256(run_dir / name) != sha]
        if changed:
            later = STAGES[STAGES.index(stage) + 1 : STAGES.index(before)]
            then = f" (then {', '.join(later)})" if later else ""
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            raise StaleInputError(
                f"{run_dir}: {shown} changed after `hebatron {stage}` read {'them' if len(changed) > 1 else 'it'}, "
                f"so its outputs are stale; re-run `hebatron {stage} {run_dir}`{then} before "
                f"`hebatron {command or before}`"
            )
