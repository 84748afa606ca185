"""``train.save_interval``: a run killed right after a step checkpoint inside a phase resumes from it (data
position, optimizer, scheduler and RNG restored) with exactly the losses of an uninterrupted run, and without
duplicate records in metrics.jsonl; the step checkpoint is gone once its phase is checkpointed."""

from __future__ import annotations

import json

import pytest

from tests.train.conftest import TINY_RECIPE, run_train
from train.config import TrainConfig
from train.loop import EXIT_AFTER_STEP


def _records(train_dir):
    return [json.loads(line) for line in (train_dir / "metrics.jsonl").read_text().splitlines()]


def _numbers(records):
    return [
        (r["kind"], r.get("step"), r.get("loss"), r.get("grad_norm"), r.get("lr"), r.get("he_loss")) for r in records
    ]


def test_resume_inside_a_phase_gives_the_same_losses(synthetic_run, tmp_path, monkeypatch):
    recipe = tmp_path / "tiny-save.yaml"
    text = TINY_RECIPE.format(name="tiny-save", hidden=32).replace("steps_per_phase: 3", "steps_per_phase: 2")
    recipe.write_text(text + "  save_interval: 3\n")
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    result = run_train(synthetic_run, "-o", whole, "--recipe", recipe, "--save-interval", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "checkpoint at step" not in result.stdout
    assert (
        "device cpu (gloo) | layer spec local | attention DotProductAttention | experts SequentialMLP" in result.stdout
    )

    monkeypatch.setenv(EXIT_AFTER_STEP, "3")  # step 3: the first step of phase 2, checkpointed, then killed
    killed = run_train(synthetic_run, "-o", cut, "--recipe", recipe)
    assert killed.returncode == 75, killed.stderr[-3000:]
    info = json.loads((cut / "checkpoints" / "step-3" / "hebatron.json").read_text())
    assert (info["phase"], info["slot"], info["step"], info["step_in_phase"]) == (2, 1, 3, 1)
    assert not (cut / "checkpoints" / "phase-2").exists()
    assert [r["step"] for r in _records(cut) if r["kind"] == "train"] == [1, 2, 3]

    monkeypatch.delenv(EXIT_AFTER_STEP)
    resumed = run_train(synthetic_run, "-o", cut, "--recipe", recipe)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming inside phase 2 (step 3)" in resumed.stdout
    assert "step     3/6" not in resumed.stdout  # step 3 is not trained again
    records = _records(cut)
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert [r["after_phase"] for r in records if r["kind"] == "eval"] == [1, 2, 3]
    assert [r["phase"] for r in records if r["kind"] == "data"] == [1, 2, 3]
    assert _numbers(records) == _numbers(_records(whole))
    assert not list((cut / "checkpoints").glob("step-*"))


def test_save_interval_is_validated():
    with pytest.raises(ValueError, match="save_interval"):
        TrainConfig(save_interval=-1)
