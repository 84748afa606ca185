"""Epoch accounting: the proportional step split, the per-phase ``data`` records (once each, also after a
resumption), the warning above ``train.max_epochs_warning`` and the choice pinned by the fingerprint."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.train.conftest import TINY_RECIPE, run_train
from train.config import ModelConfig, TrainConfig, config_fingerprint
from train.epochs import data_record, epoch_warning, phase_steps, split_steps

TOKENIZER = {"name": "t", "vocab_size": 500, "eod": 0, "sha256": "0"}


def test_split_is_proportional_and_preserves_the_total():
    assert split_steps({1: 100, 2: 200, 3: 300}, 60) == {1: 10, 2: 20, 3: 30}
    # quotas 15/37/48 % of 20 steps = 3.0, 7.4, 9.6: the one step left goes to the largest fraction (phase 3)
    assert split_steps({1: 15, 2: 37, 3: 48}, 20) == {1: 3, 2: 7, 3: 10}
    # equal quotas 3.33 each: the remainder goes to the lower phase numbers
    assert split_steps({1: 5, 2: 5, 3: 5}, 10) == {1: 4, 2: 3, 3: 3}
    for tokens in ({1: 1, 2: 10**6, 3: 10**6}, {1: 0, 2: 0, 3: 7}, {1: 3, 2: 1, 3: 999}, {1: 17, 2: 29, 3: 31}):
        for total in (3, 4, 7, 30, 301):
            steps = split_steps(tokens, total)
            assert sum(steps.values()) == total and min(steps.values()) >= 1
            quota = {k: total * t / sum(tokens.values()) for k, t in tokens.items()}
            if min(quota.values()) >= 1:  # no minimum to honour: each phase within one step of its quota
                assert all(abs(steps[k] - quota[k]) < 1 for k in tokens), (tokens, total, steps)
    # the minimum of one step: taken from the phase most over its quota
    assert split_steps({1: 1, 2: 10**6, 3: 10**6}, 3) == {1: 1, 2: 1, 3: 1}
    assert split_steps({1: 1, 2: 10**6, 3: 10**6}, 4) == {1: 1, 2: 2, 3: 1}
    assert split_steps({1: 0, 2: 0, 3: 10}, 4) == {1: 1, 2: 1, 3: 2}


def test_split_refuses_what_cannot_be_split():
    with pytest.raises(ValueError, match="each of the 3 phases"):
        split_steps({1: 1, 2: 1, 3: 1}, 2)
    with pytest.raises(ValueError, match="no tokens"):
        split_steps({1: 0, 2: 0, 3: 0}, 9)


def test_equal_and_proportional_modes():
    tokens = {1: 100, 2: 300, 3: 600}
    assert phase_steps("equal", 7, tokens) == {1: 7, 2: 7, 3: 7}
    assert phase_steps("proportional", 10, tokens) == {1: 3, 2: 9, 3: 18}
    with pytest.raises(ValueError, match="tokens_per_phase"):
        phase_steps("bytes", 7, tokens)


def test_record_arithmetic_and_warning_threshold():
    r = data_record(2, steps=10, global_batch_size=8, seq_length=128, tokens_available=2048)
    assert r == {
        "kind": "data",
        "phase": 2,
        "steps": 10,
        "tokens_trained": 10240,
        "tokens_available": 2048,
        "epochs": 5.0,
    }
    warning = epoch_warning(r, 4.0)
    assert warning is not None and "phase 2" in warning and "5.00 epochs" in warning
    assert "--tokens-per-phase proportional" in warning
    assert epoch_warning(r, 5.0) is None  # at the threshold: no warning
    assert epoch_warning(r, 6.0) is None


def test_config_validates_and_fingerprints_the_choice():
    for bad in ({"tokens_per_phase": "tokens"}, {"max_epochs_warning": 0}, {"max_epochs_warning": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig(**bad)
    model = ModelConfig()

    def sha(**kw):
        return config_fingerprint("r", model, TrainConfig(**kw), TOKENIZER)

    equal, proportional = sha(), sha(tokens_per_phase="proportional")
    assert equal["sha256"] != proportional["sha256"]
    assert "tokens_per_phase" not in equal["train"]  # runs checkpointed before the option still resume
    assert proportional["train"]["tokens_per_phase"] == "proportional"
    assert sha(max_epochs_warning=1.5)["sha256"] == equal["sha256"]  # a warning changes nothing computed


def _data(train_dir):
    lines = (train_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "data"]


def test_data_records_once_per_phase_and_after_resumption(synthetic_run, tmp_path):
    recipe = tmp_path / "tiny-epochs.yaml"
    recipe.write_text(TINY_RECIPE.format(name="tiny-epochs", hidden=16) + "  max_epochs_warning: 0.05\n")
    out = tmp_path / "train"
    result = run_train(synthetic_run, "-o", out, "--recipe", recipe, "--tokens-per-phase", "proportional")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    manifest = json.loads((synthetic_run / "shards" / "manifest.json").read_text())
    held = {int(k): p["hebrew"]["tokens"] + p["anchor"]["tokens"] for k, p in manifest["phases"].items()}
    steps = split_steps(held, 9)
    records = _data(out)
    assert [r["phase"] for r in records] == [1, 2, 3]
    for r in records:
        k = r["phase"]
        assert r["steps"] == steps[k] and r["tokens_trained"] == steps[k] * 4 * 32
        assert r["tokens_available"] == held[k] and r["epochs"] == pytest.approx(r["tokens_trained"] / held[k])
        marker = json.loads((out / "checkpoints" / f"phase-{k}" / "hebatron.json").read_text())
        assert marker["data"] == {key: v for key, v in r.items() if key != "kind"}
        # the warning names each phase (epochs ~0.2 here, above the recipe's 0.05)
        assert f"phase {k} trains {r['epochs']:.2f} epochs" in result.stderr
    trained = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"]
    assert [sum(1 for r in trained if r["phase"] == k) for k in (1, 2, 3)] == [steps[1], steps[2], steps[3]]

    # phase 3 is lost after its records were written, and phase 1's data record with it: the resumption trains
    # phase 3 again and leaves exactly one data record per phase
    shutil.rmtree(out / "checkpoints" / "phase-3")
    lines = (out / "metrics.jsonl").read_text().splitlines()
    kept = [line for line in lines if not (json.loads(line)["kind"] == "data" and json.loads(line)["phase"] == 1)]
    (out / "metrics.jsonl").write_text("".join(line + "\n" for line in kept))
    result = run_train(synthetic_run, "-o", out, "--recipe", recipe, "--tokens-per-phase", "proportional")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "resuming after phase 2" in result.stdout
    assert sorted(r["phase"] for r in _data(out)) == [1, 2, 3]
    assert sorted(map(json.dumps, _data(out))) == sorted(map(json.dumps, records))

    # another choice of steps per phase is refused, naming the option
    result = run_train(synthetic_run, "-o", out, "--recipe", recipe, "--tokens-per-phase", "equal")
    assert result.returncode == 2 and "tokens_per_phase" in result.stderr + result.stdout


@pytest.mark.parametrize("order", ["forward", "reversed", "shuffled"])
def test_slots_take_their_phase_steps(synthetic_run, order):
    from collections import Counter

    from train.data import TokenizerInfo, build_phases, phase_steps, phase_tokens, read_manifest

    manifest = read_manifest(synthetic_run)
    tok = TokenizerInfo.from_manifest(manifest, synthetic_run)
    train = TrainConfig(steps_per_phase=25, global_batch_size=4, micro_batch_size=2, order=order)
    held = {int(k): p["hebrew"]["tokens"] + p["anchor"]["tokens"] for k, p in manifest["phases"].items()}
    assert phase_tokens(synthetic_run, manifest) == held
    assert phase_steps(TrainConfig(tokens_per_phase="proportional"), held) == split_steps(held, 60)
    steps = {1: 10, 2: 20, 3: 45}
    slots = build_phases(synthetic_run, manifest, tok, model=ModelConfig(seq_length=32), train=train, steps=steps)
    assert {s.phase: s.steps for s in slots} == steps
    if order != "shuffled":
        assert [s.phase for s in slots] == ([3, 2, 1] if order == "reversed" else [1, 2, 3])
        assert all(len(s.dataset) == 4 * steps[s.phase] and s.offset == 0 for s in slots)
        return
    # one blend: slots cut at the step counts, each phase's data weighted by its share of the steps
    assert [(s.phase, s.offset) for s in slots] == [(1, 0), (2, 40), (3, 120)]
    dataset = slots[0].dataset
    assert len(dataset) == 300
    by_part = Counter(dataset.dataset_index[:300].tolist())  # parts: hebrew, anchor of phase 1, 2, 3
    for k in (1, 2, 3):
        assert abs(by_part[2 * k - 2] + by_part[2 * k - 1] - 4 * steps[k]) <= 1
