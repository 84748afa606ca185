"""What each stage read and wrote, and refusing to run a stage on inputs that are not what was written.

Each stage, when it finishes, records in ``RUN/.stages/<stage>.json`` the sha256 of

- what it wrote (``writes``): curate the published ``curated/*.parquet``, ``excluded/*.parquet`` and ``stats.json``;
  score the curated files it rewrote in place, its ``excluded/perplexity-*.parquet``, ``cutoffs.json`` and
  ``stats.json``; shard ``shards/manifest.json`` (which lists every shard file with its sha256), the held-out
  anchors and the tokenizer; tokenize ``tokens/tokens.json`` and the token files;
- what its outputs were made from (``reads``): shard the scored curated files and ``cutoffs.json``, tokenize the
  manifest.

A stage reads exactly the files the records say were written (``recorded_files``), each one checked: a file
that is gone is ``MissingStageOutput``, one whose bytes changed is ``StaleInputError``, both one line naming the
file and the stage to re-run. (A curated file deleted after curate would otherwise leave score and shard
working on part of the corpus without a word.) A run written before records existed has none to go by: its
files are found by listing the folder, as they were then.

Before a stage runs, ``check_fresh`` re-hashes what every earlier stage read; a file that changed means that
stage's outputs are stale, and the command stops with one line naming the stage to re-run. (Re-scoring with
other percentiles after sharding, say, rewrites the phases; tokenizing the old shards then would train on the
old phases.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from common.errors import StaleInputError
from common.files import file_sha256, write_json_atomic
from common.layout import MissingStageOutput

#: The stages whose outputs later stages read, in pipeline order.
STAGES = ("curate", "score", "shard", "tokenize", "train")
#: Stages that rewrite their input in place (score adds columns to the curated files). Later stages read those
#: files themselves, so a change to them is new input for the later stage, not a stale output: what such a stage
#: read is not checked by later stages, and what it wrote is the last word on those files (``recorded_files``
#: checks them against its sha256, not the first writer's).
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


def _hashes(run_dir: Path, files: Iterable[Path]) -> dict[str, str]:
    out = {}
    for f in sorted(set(map(Path, files))):
        sha = current_sha256(f)
        if sha is None:
            raise FileNotFoundError(f"{f}: cannot record a file that does not exist")
        out[str(f.relative_to(run_dir))] = sha
    return out


def record_stage(run_dir: Path, stage: str, *, reads: Iterable[Path] = (), writes: Iterable[Path] = ()) -> dict:
    """Record that STAGE made its outputs WRITES (paths under RUN) from READS, as they are now."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    run_dir = Path(run_dir)
    record = {"stage": stage, "reads": _hashes(run_dir, reads), "writes": _hashes(run_dir, writes)}
    _record_path(run_dir, stage).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(_record_path(run_dir, stage), record)
    return record


def _record(run_dir: Path, stage: str) -> dict | None:
    try:
        record = json.loads(_record_path(Path(run_dir), stage).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("reads"), dict) else None


def recorded_inputs(run_dir: Path, stage: str) -> dict[str, str] | None:
    """What STAGE read (path under RUN -> sha256), or None when it has no readable record."""
    record = _record(run_dir, stage)
    return None if record is None else record["reads"]


def recorded_outputs(run_dir: Path, stage: str) -> dict[str, str] | None:
    """What STAGE wrote (path under RUN -> sha256), or None when it has no readable record of it. (A record
    written before outputs were recorded has none, except an in-place stage's, whose ``reads`` were the files
    as it left them.)"""
    record = _record(run_dir, stage)
    if record is None:
        return None
    if "writes" not in record:
        return record["reads"] if stage in IN_PLACE else None
    return record["writes"] if isinstance(record["writes"], dict) else None


def rerun_advice(run_dir: Path, stage: str, reader: str | None) -> str:
    """What to run again: STAGE, then every stage after it up to READER (curate: into a new run directory, as a
    finished curation is not redone)."""
    end = STAGES.index(reader) if reader in STAGES else STAGES.index(stage) + 1
    later = STAGES[STAGES.index(stage) + 1 : end]
    then = f" (then {', '.join(later)})" if later else ""
    if stage == "curate":
        return f"curate again into a new run directory (`hebatron curate INPUT... -o NEW_RUN`){then}"
    return f"re-run `hebatron {stage} {run_dir}`{then}"


def recorded_files(run_dir: Path, under: str, *, reader: str | None, hashes: bool = True) -> list[Path] | None:
    """The files at or under RUN/UNDER (a folder or a file, relative to RUN) that the stage records say were
    written, sorted, each one checked: it must exist (``MissingStageOutput``) and, with HASHES, have the
    sha256 of its last writer (``StaleInputError``). The message names the file and the stage to re-run before
    READER (the stage or command about to read them). None when no record names a file there (a run from
    before records, or a stage that has not run): the caller lists the folder instead."""
    run_dir = Path(run_dir)
    under = under.strip("/")
    writers: dict[str, list[tuple[str, str]]] = {}
    for stage in STAGES:
        for name, sha in (recorded_outputs(run_dir, stage) or {}).items():
            if name == under or name.startswith(f"{under}/"):
                writers.setdefault(name, []).append((stage, sha))
    if not writers:
        return None
    files = []
    for name, wrote in sorted(writers.items()):
        path = run_dir / name
        if not path.is_file():
            creator = wrote[0][0]
            raise MissingStageOutput(
                f"{path} is missing (`hebatron {creator}` wrote it); {rerun_advice(run_dir, creator, reader)}"
                + (f" before `hebatron {reader}`" if reader else "")
            )
        if hashes and current_sha256(path) != wrote[-1][1]:
            # a stage re-reading a file it rewrote in place cannot mend it: the stage before it wrote it first
            last = wrote[-1][0] if wrote[-1][0] != reader or len(wrote) == 1 else wrote[-2][0]
            raise StaleInputError(
                f"{path} changed after `hebatron {wrote[-1][0]}` wrote it; {rerun_advice(run_dir, last, reader)}"
                + (f" before `hebatron {reader}`" if reader else "")
            )
        files.append(path)
    return files


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
