"""The run directory's layout, the curriculum's phases and orders, and the shard manifest.

RUN/curated/*.parquet  RUN/excluded/*.parquet  RUN/stats.json  RUN/step_stats.json   (curate)
RUN/cutoffs.json  (+ perplexity, phase columns in curated)                          (score)
RUN/shards/phase-k/part-*.parquet  RUN/shards/manifest.json  RUN/tokenizer/          (shard)
RUN/tokens/phase-k/{hebrew,anchor}.{bin,idx}  RUN/tokens/eval/  RUN/tokens/tokens.json (tokenize)
RUN/.work/  datatrove's intermediate files and completion markers; RUN/.stages/ what each stage read
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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


def read_manifest(run_dir: Path) -> dict:
    """RUN/shards/manifest.json; ``MissingStageOutput`` (naming ``hebatron shard``) when it is missing or
    not JSON."""
    path = RunLayout(Path(run_dir)).manifest
    if not path.is_file():
        raise MissingStageOutput(f"{path} not found: run `hebatron shard {run_dir} --anchor ANCHOR...` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise MissingStageOutput(f"{path}: not valid JSON ({e}); re-run `hebatron shard {run_dir}`") from None
