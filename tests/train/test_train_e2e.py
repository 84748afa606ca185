"""End to end through ``python -m hebatron train``: three phases, checkpoints, metrics, determinism, resumption,
no-op on a finished run, refusal of another recipe's checkpoints, a clear error without tokens, and
expert parallelism over two gloo processes with torchrun."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from tests.train.conftest import run_train

TRAIN_KEYS = {"kind", "step", "phase", "loss", "lr", "grad_norm", "tokens_per_s", "aux_loss"}
OPTIONAL_TRAIN_KEYS = {"z_loss", "mfu", "memory_gib"}  # z_loss with a router z-loss; mfu/memory on GPU
EVAL_KEYS = {"kind", "after_phase", "he_loss", "en_loss", "he_acc"}


def _records(train_dir):
    return [json.loads(line) for line in (train_dir / "metrics.jsonl").read_text().splitlines()]


def _without_timing(records):
    return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in records]


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained(synthetic_run, tiny_recipe, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "train"
    result = _ok(run_train(synthetic_run, "-o", out, "--recipe", tiny_recipe, "--summary", out.parent / "s.json"))
    return out, result, json.loads((out.parent / "s.json").read_text())


def test_three_phases_checkpoints_and_metrics(trained):
    out, result, summary = trained
    assert summary["status"] == "trained" and summary["steps"] == 9
    for k in (1, 2, 3):
        ckpt = out / "checkpoints" / f"phase-{k}"
        assert (ckpt / "hebatron.json").is_file() and (ckpt / ".metadata").is_file() and (ckpt / "common.pt").is_file()
        info = json.loads((ckpt / "hebatron.json").read_text())
        assert info["phase"] == k and info["step"] == 3 * k and info["fingerprint"]["recipe"] == "tiny-test"
    records = _records(out)
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in train] == list(range(1, 10))
    assert [r["phase"] for r in train] == [1] * 3 + [2] * 3 + [3] * 3
    for r in train:
        assert TRAIN_KEYS <= set(r) and set(r) - TRAIN_KEYS <= OPTIONAL_TRAIN_KEYS
        assert all(math.isfinite(r[k]) for k in ("loss", "lr", "grad_norm", "tokens_per_s", "aux_loss"))
        assert r["tokens_per_s"] > 0 and r["aux_loss"] > 0
    assert [set(r) for r in evals] == [EVAL_KEYS] * 3
    assert [r["after_phase"] for r in evals] == [1, 2, 3]
    assert all(math.isfinite(r["he_loss"]) and math.isfinite(r["en_loss"]) for r in evals)
    # one WSD schedule over all 9 steps: warmup from 0, the peak held, then decay (across phase boundaries)
    lrs = [r["lr"] for r in train]
    assert lrs[0] == 0.0 and max(lrs) == pytest.approx(3e-3)
    assert lrs[-1] < lrs[-2] < lrs[-3] <= max(lrs)
    assert "step     9/9 | phase 3 | loss" in result.stdout and "aux" in result.stdout


def test_same_seed_same_losses(trained, synthetic_run, tiny_recipe, tmp_path):
    out, _, _ = trained
    _ok(run_train(synthetic_run, "-o", tmp_path / "again", "--recipe", tiny_recipe))
    first = [(r.get("loss"), r.get("grad_norm"), r.get("he_loss")) for r in _records(out)]
    second = [(r.get("loss"), r.get("grad_norm"), r.get("he_loss")) for r in _records(tmp_path / "again")]
    assert first == second


def test_finished_run_is_a_no_op(trained, synthetic_run, tiny_recipe):
    out, _, _ = trained
    before = (out / "metrics.jsonl").read_bytes()
    stamp = (out / "checkpoints" / "phase-3" / "hebatron.json").stat().st_mtime_ns
    result = _ok(run_train(synthetic_run, "-o", out, "--recipe", tiny_recipe))
    assert "already trained" in result.stdout and "nothing to do" in result.stdout
    assert (out / "metrics.jsonl").read_bytes() == before
    assert (out / "checkpoints" / "phase-3" / "hebatron.json").stat().st_mtime_ns == stamp


def test_resume_after_losing_the_last_checkpoint(trained, synthetic_run, tiny_recipe, tmp_path):
    out, _, _ = trained
    crashed = tmp_path / "crashed"
    shutil.copytree(out, crashed)
    shutil.rmtree(crashed / "checkpoints" / "phase-3")
    result = _ok(run_train(synthetic_run, "-o", crashed, "--recipe", tiny_recipe))
    assert "resuming after phase 2 (step 6)" in result.stdout
    assert (crashed / "checkpoints" / "phase-3" / "hebatron.json").is_file()
    # continued from the phase-2 checkpoint exactly: the same records as the uninterrupted run, no duplicates
    assert _without_timing(_records(crashed)) == _without_timing(_records(out))


def test_checkpoint_of_another_recipe_is_refused(trained, synthetic_run, other_recipe):
    out, _, _ = trained
    result = run_train(synthetic_run, "-o", out, "--recipe", other_recipe)
    assert result.returncode == 2
    assert "checkpoints/phase-1 was written by recipe 'tiny-test'" in result.stderr
    assert "model.hidden_size: 32 -> 16" in result.stderr


def test_missing_tokens_says_what_to_run(tmp_path, tiny_recipe):
    run = tmp_path / "empty-run"
    run.mkdir()
    result = run_train(run, "-o", tmp_path / "out", "--recipe", tiny_recipe)
    assert result.returncode == 2
    assert f"{run / 'tokens'} not found" in result.stderr and "hebatron tokenize" in result.stderr
    assert "Traceback" not in result.stderr


def test_torchrun_expert_parallel_2_on_gloo(synthetic_run, tiny_recipe, tmp_path):
    out = tmp_path / "ep2"
    result = _ok(run_train(synthetic_run, "-o", out, "--recipe", tiny_recipe, "--ep", "2", torchrun=2))
    assert "2 process(es) (gloo)" in result.stdout
    records = _records(out)
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 10))
    assert [r["after_phase"] for r in records if r["kind"] == "eval"] == [1, 2, 3]
    assert all(math.isfinite(r["loss"]) for r in records if r["kind"] == "train")
    info = json.loads((out / "checkpoints" / "phase-3" / "hebatron.json").read_text())
    assert info["world_size"] == 2 and info["fingerprint"]["train"]["expert_parallel"] == 2
    # each rank wrote its own shard of the experts
    assert len(list((out / "checkpoints" / "phase-3").glob("__*_*.distcp"))) >= 2


def test_hybrid_recipe_refuses_cpu_clearly(synthetic_run, tmp_path):
    result = run_train(synthetic_run, "-o", tmp_path / "nano", "--recipe", "nemotron3-nano-he")
    assert result.returncode == 2
    assert "Triton GPU kernels" in result.stderr and "cannot be built on CPU" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("flags", [("--tp", "2"), ("--pp", "2"), ("--tp", "2", "--ep", "2")])
def test_torchrun_tensor_and_pipeline_parallel(synthetic_run, tiny_recipe, tmp_path, flags):
    out = tmp_path / "par"
    _ok(run_train(synthetic_run, "-o", out, "--recipe", tiny_recipe, *flags, torchrun=2))
    records = _records(out)
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 10))
    assert all(math.isfinite(r["he_loss"]) for r in records if r["kind"] == "eval")
