"""`hebatron run RECIPE -o RUN`: every stage in order, as the recipe's `run` section says.

sample-crawl (when the inputs are `sample`) → curate → score (train-lm first when the recipe names a corpus)
→ shard → tokenize → train → (with `run.sft`: sft-data on the built-in pairs → sft) → report. It calls exactly
the functions the single commands call, with the recipe's sections; each of them owns its resume check
(finished work is skipped), so running the same command again continues where the last one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hebatron.recipes import Recipe

SAMPLE = "sample"


@dataclass(kw_only=True, slots=True)
class RunConfig:
    inputs: list[str] = field(default_factory=lambda: [SAMPLE])
    """Crawl files or folders; `sample` builds the built-in sample crawl into RUN/crawl/."""
    sample_news: int = 300
    """Size of the built-in sample crawl (news articles; the other kinds scale with it)."""
    anchors: list[str] = field(default_factory=lambda: [SAMPLE])
    """English anchor files or folders; `sample` writes English prose from the standard library's docs."""
    reference_corpus: list[str] = field(default_factory=list)
    """Text to train the reference LM on (RUN/lm/); empty: the default HTB model."""
    workers: int = 1
    """Curation worker processes."""
    train: bool = True
    """Train the model through the phases (RUN/train/)."""
    sft: bool = False
    """After training, build RUN/sft/ from the built-in pairs and fine-tune from the last phase (RUN/sft-train/)."""
    report: bool = True
    """Write RUN/report.html at the end."""

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("run.inputs must name at least one crawl file or folder, or 'sample'")
        if self.workers < 1:
            raise ValueError(f"run.workers must be >= 1, got {self.workers}")


def _paths(items: list[str], sample: Callable[[], Path]) -> list[Path]:
    return [sample() if item == SAMPLE else Path(item) for item in items]


def run_recipe(recipe: Recipe, run_dir: Path, *, say: Callable[[str], None] = print) -> dict:
    """Runs every stage of RECIPE into RUN_DIR; returns what each stage reported."""
    from curation.run import curate
    from difficulty.run import score_run
    from hebatron.sample_crawl import build_sample_crawl
    from shards import shard_run, tokenize_run, write_sample_anchors

    cfg = recipe.run
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    out: dict = {}
    t0 = time.perf_counter()

    def stage(name: str) -> None:
        say(f"[{time.perf_counter() - t0:6.1f}s] {name}")

    def sample_crawl() -> Path:
        target = run_dir / "crawl"
        if not (target / "crawl.warc.gz").is_file():
            stage(f"sample-crawl → {target}")
            build_sample_crawl(target, n_news=cfg.sample_news, progress=True)
        return target / "crawl.warc.gz"

    def sample_anchors() -> Path:
        target = run_dir / "anchors" / "pydoc-topics.jsonl"
        if not target.is_file():
            write_sample_anchors(target)
        return target

    inputs = _paths(cfg.inputs, sample_crawl)
    stage(f"curate {len(inputs)} input(s)")
    out["curate"] = curate(inputs, run_dir, recipe.curation, workers=cfg.workers, progress=cfg.workers == 1)

    lm_dir = recipe.difficulty.lm_dir
    if cfg.reference_corpus and lm_dir is None:
        from difficulty.lm import train_reference_lm

        lm_dir = run_dir / "lm"
        if not (lm_dir / "model.json").is_file():
            stage(f"train-lm → {lm_dir}")
            train_reference_lm([Path(p) for p in cfg.reference_corpus], lm_dir)
    stage("score")
    out["score"] = score_run(
        run_dir, lm_dir=lm_dir, config=recipe.difficulty, workers=cfg.workers, progress=True, echo=stage
    )

    stage("shard")
    anchors = _paths(cfg.anchors, sample_anchors)
    out["shard"] = shard_run(run_dir, anchors, recipe.shards, recipe_name=recipe.name, progress=True)
    stage("tokenize")
    out["tokenize"] = tokenize_run(run_dir, progress=True)

    if cfg.train:
        from train.loop import train_run

        stage(f"train ({recipe.name}: {recipe.train.steps_per_phase} steps per phase, order {recipe.train.order})")
        out["train"] = train_run(
            run_dir, run_dir / "train", model=recipe.model, train=recipe.train, recipe_name=recipe.name, echo=say
        )
    sft_dir = None
    if cfg.sft and cfg.train:
        from shards.sft_data import build_sft_set
        from train.sft import sft_run

        stage("sft-data (built-in pairs)")
        out["sft-data"] = build_sft_set(
            [], run_dir, builtin=True, config=recipe.sft.data, seq_length=recipe.model.seq_length
        )
        stage(f"sft ({recipe.sft.steps} steps)")
        sft_dir = run_dir / "sft-train"
        out["sft"] = sft_run(run_dir, sft_dir, from_dir=run_dir / "train", config=recipe.sft, echo=say)
    if cfg.report:
        from hebatron.report import write_report

        out["report"] = write_report(run_dir, train_dirs=[run_dir / "train"], sft_dir=sft_dir)
        stage(f"report → {out['report']}")
    return out
