"""The run directory's layout, the curriculum's phases and orders, and reading a run's JSON files (the manifest).

RUN/curated/*.parquet  RUN/excluded/*.parquet  RUN/stats.json  RUN/step_stats.json   (curate)
RUN/cutoffs.json  (+ perplexity, phase columns in curated)                          (score)
RUN/shards/phase-k/part-*.parquet  RUN/shards/manifest.json  RUN/tokenizer/          (shard)
RUN/tokens/phase-k/{hebrew,anchor}.{bin,idx}  RUN/tokens/eval/  RUN/tokens/tokens.json (tokenize)
RUN/.work/  datatrove's intermediate files and completion markers; RUN/.stages/ what each stage read and wrote
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from common.errors import HebatronError

PHASES: tuple[int, ...] = (1, 2, 3)
"""The curriculum phases, easy (1) to hard (3)."""
Order = Literal["forward", "reversed", "shuffled"]
ORDERS: tuple[Order, ...] = ("forward", "reversed", "shuffled")
"""Curriculum orders: 1→2→3, 3→2→1, and one blend of all phases (no curriculum)."""
ROLES = ("hebrew", "anchor")
"""Row roles in the shards."""
BATCH_ROWS = 1024
"""Rows per Parquet batch when a stage streams a file."""


class MissingStageOutput(HebatronError, FileNotFoundError):
    """A stage's input is missing: the message names the file and the command that writes it."""


class DamagedFileError(HebatronError, ValueError):
    """A run file that is cut short or otherwise unreadable: the message names it and says what rewrites it."""


def ablation_label(record: dict) -> str:
    """An ablation row's, comparison's or run's order, with its learning-rate schedule when that is not the
    default ``wsd`` (a record without ``schedule`` ran under ``wsd``)."""
    schedule = record.get("schedule", "wsd")
    return record["order"] if schedule == "wsd" else f"{record['order']} ({schedule})"


def phase_order(order: str) -> list[int]:
    """The phases in training order (the ``shuffled`` slots keep the labels 1, 2, 3)."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose from {', '.join(ORDERS)}")
    return list(reversed(PHASES)) if order == "reversed" else list(PHASES)


@dataclass(frozen=True, slots=True)
class RunLayout:
    """Where a run keeps its files."""

    root: Path

    @property
    def work(self) -> Path:
        return self.root / ".work"

    @property
    def curated(self) -> Path:
        return self.root / "curated"

    @property
    def excluded(self) -> Path:
        return self.root / "excluded"

    @property
    def stats(self) -> Path:
        return self.root / "stats.json"

    @property
    def cutoffs(self) -> Path:
        return self.root / "cutoffs.json"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    @property
    def manifest(self) -> Path:
        return self.root / "shards" / "manifest.json"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    @property
    def tokens_summary(self) -> Path:
        return self.root / "tokens" / "tokens.json"

    def path(self, *parts: str) -> str:
        """A path under RUN/.work/, as the string datatrove takes."""
        return str(self.work.joinpath(*parts))

    def curated_files(self) -> list[Path]:
        return sorted(self.curated.glob("*.parquet")) if self.curated.is_dir() else []

    def excluded_files(self) -> list[Path]:
        return sorted(self.excluded.glob("*.parquet")) if self.excluded.is_dir() else []

    def curate_outputs(self) -> list[Path]:
        """What a finished ``curate`` published: the curated and excluded files and the funnel."""
        return [*self.curated_files(), *self.excluded_files(), *([self.stats] if self.stats.is_file() else [])]


def _where(e: json.JSONDecodeError) -> str:
    return f"{e.msg} (line {e.lineno}, column {e.colno})"


def read_json(path: Path, *, rerun: str, missing: str | None = None) -> Any:
    """A run's JSON file. ``MissingStageOutput`` when it does not exist (MISSING, or RERUN, says what writes it);
    ``DamagedFileError`` naming the file when it is cut short or not JSON, and RERUN (``re-run `hebatron shard
    RUN```, say) saying what writes it again."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise MissingStageOutput(f"{path} not found: {missing or rerun}") from None
    except UnicodeDecodeError as e:
        raise DamagedFileError(f"{path}: damaged (not UTF-8 at byte {e.start}); {rerun}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DamagedFileError(f"{path}: cut short or damaged (not valid JSON: {_where(e)}); {rerun}") from None


def read_jsonl(path: Path, *, rerun: str) -> tuple[list[dict], bool]:
    """The records of a JSON-lines file that is appended to, and whether its last line was cut short. A last
    line without its newline that is not JSON is a write cut short (or one still under way): it is left out
    and reported, not an error. Any other line that is not a JSON object is ``DamagedFileError`` naming the file
    and the line, with RERUN saying what to do. A missing file has no records."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], False
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            records.append(_jsonl_record(path, number, line, rerun))
    if not tail.strip():
        return records, False
    try:
        records.append(_jsonl_record(path, len(lines) + 1, tail, rerun))
    except DamagedFileError:
        return records, True
    return records, False


def _jsonl_record(path: Path, number: int, line: bytes, rerun: str) -> dict:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        why = f"{e.msg} (column {e.colno})" if isinstance(e, json.JSONDecodeError) else "not UTF-8"
        raise DamagedFileError(f"{path}: line {number} is damaged (not valid JSON: {why}); {rerun}") from None
    if not isinstance(record, dict):
        raise DamagedFileError(f"{path}: line {number} is not a JSON object; {rerun}")
    return record


def read_manifest(run_dir: Path) -> dict:
    """RUN/shards/manifest.json; ``MissingStageOutput`` (naming ``hebatron shard``) when it is missing,
    ``DamagedFileError`` when it is cut short or not JSON."""
    return read_json(
        RunLayout(Path(run_dir)).manifest,
        rerun=f"re-run `hebatron shard {run_dir} --anchor ANCHOR...`",
        missing=f"run `hebatron shard {run_dir} --anchor ANCHOR...` first",
    )
