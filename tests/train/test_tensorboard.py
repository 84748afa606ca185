"""``--tensorboard DIR``: every number of every metrics.jsonl record as a TensorBoard scalar at its step; a one-line
error where the tensorboard package is missing (as on this project's CPU machines)."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from tests.train.conftest import run_train
from train.epochs import data_record
from train.metrics import MetricsLog, read_metrics
from train.tensorboard import scalars

HAVE_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def test_every_record_written_reaches_the_sink_as_scalars(tmp_path):
    got = []
    log = MetricsLog(tmp_path / "metrics.jsonl", enabled=True, keep_until_step=0, keep_phases=set(), sink=got.append)
    common = dict(total=4, phase=1, lr=1e-3, grad_norm=0.5, tokens_per_s=900.0, aux_loss=1.01, z_loss=None)
    log.train(step=1, loss=6.2, mfu=0.31, memory_gib=12.5, **common)
    log.train(step=2, loss=6.0, mfu=None, memory_gib=None, **common)
    log.data(data_record(1, steps=2, global_batch_size=4, seq_length=32, tokens_available=100, anchor_ratio=0.3))
    log.eval(after_phase=1, he_loss=5.5, en_loss=5.9, he_acc=None)
    assert got == read_metrics(tmp_path / "metrics.jsonl") and len(got) == 4
    first = scalars(got[0])
    assert first["train/loss"] == pytest.approx(6.2) and first["train/mfu"] == pytest.approx(0.31)
    assert first["train/memory_gib"] == 12.5 and first["train/tokens_per_s"] == 900.0
    assert "train/step" not in first and "train/phase" not in first and "train/z_loss" not in first
    assert "train/mfu" not in scalars(got[1])
    assert scalars(got[2])["data/epochs"] == pytest.approx(got[2]["epochs"])
    assert scalars(got[3]) == {"eval/he_loss": 5.5, "eval/en_loss": 5.9}  # he_acc None: no scalar


@pytest.mark.skipif(HAVE_TENSORBOARD, reason="tensorboard is installed")
def test_missing_tensorboard_is_one_line(synthetic_run, tiny_recipe, tmp_path):
    result = run_train(synthetic_run, "-o", tmp_path / "t", "--recipe", tiny_recipe, "--tensorboard", tmp_path / "tb")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: --tensorboard needs the tensorboard package") and len(lines) == 1
    assert not (tmp_path / "t" / "metrics.jsonl").exists()


@pytest.mark.skipif(not HAVE_TENSORBOARD, reason="needs the tensorboard package (not installed here)")
def test_event_file_holds_the_metrics(synthetic_run, tiny_recipe, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, board = tmp_path / "t", tmp_path / "tb"
    result = run_train(synthetic_run, "-o", out, "--recipe", tiny_recipe, "--tensorboard", board)
    assert result.returncode == 0, result.stderr[-3000:]
    events = EventAccumulator(str(board))
    events.Reload()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    for field in ("loss", "lr", "grad_norm", "tokens_per_s", "aux_loss"):
        logged = [(e.step, e.value) for e in events.Scalars(f"train/{field}")]
        assert [s for s, _ in logged] == [r["step"] for r in train]
        values = [v for _, v in logged]
        assert all(math.isclose(v, r[field], rel_tol=1e-6, abs_tol=1e-9) for v, r in zip(values, train, strict=True))
    evals = [r for r in records if r["kind"] == "eval"]
    assert [e.value for e in events.Scalars("eval/he_loss")] == pytest.approx([r["he_loss"] for r in evals])
    assert [e.step for e in events.Scalars("eval/he_loss")] == [3, 6, 9]
    assert len(events.Scalars("data/epochs")) == 3
