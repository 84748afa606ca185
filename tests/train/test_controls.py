"""Controls for what the curriculum order is confounded with: a fixed English share in every phase
(``anchor_share: fixed``) and an evaluation that does not depend on the training seed (``eval_seed``,
``eval_iters: all``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.train.conftest import TINY_RECIPE, run_train
from train.config import ModelConfig, TrainConfig, config_fingerprint
from train.data import TokenizerInfo, anchor_ratios, build_eval_sets, build_phases, phase_blend, read_manifest

TOKENIZER = {"name": "t", "vocab_size": 500, "eod": 0, "sha256": "0"}


def _manifest_with(run, ratios):
    manifest = read_manifest(run)
    for k, r in zip((1, 2, 3), ratios, strict=True):
        manifest["phases"][str(k)]["anchor_ratio"] = r
    return manifest


def test_fixed_share_is_the_mean_of_the_phases_shares(synthetic_run):
    manifest = _manifest_with(synthetic_run, (0.3, 0.2, 0.1))
    assert anchor_ratios(synthetic_run, manifest) == {1: 0.3, 2: 0.2, 3: 0.1}
    fixed = anchor_ratios(synthetic_run, manifest, "fixed")
    assert fixed == pytest.approx({1: 0.2, 2: 0.2, 3: 0.2})
    anchors = {k: manifest["phases"][str(k)]["anchor"]["tokens"] for k in (1, 2, 3)}
    for k in (1, 2, 3):
        blend = phase_blend(synthetic_run, manifest, k, "fixed")
        assert blend[0][0].endswith(f"phase-{k}/hebrew") and blend[0][1] == pytest.approx(0.8)
        # the English of every phase: all three phases' anchor documents, pooled by their tokens
        assert [p.rsplit("/", 2)[-2] for p, _ in blend[1:]] == ["phase-1", "phase-2", "phase-3"]
        assert [w for _, w in blend[1:]] == pytest.approx([0.2 * t / sum(anchors.values()) for t in anchors.values()])
    assert [w for _, w in phase_blend(synthetic_run, manifest, 3)] == pytest.approx([0.9, 0.1])
    with pytest.raises(ValueError, match="anchor_share"):
        TrainConfig(anchor_share="mean")


@pytest.mark.parametrize("order", ["forward", "reversed"])
def test_fixed_share_keeps_the_english_share_whatever_the_order(synthetic_run, order):
    manifest = _manifest_with(synthetic_run, (0.3, 0.2, 0.1))
    tok = TokenizerInfo.from_manifest(manifest, synthetic_run)
    model = ModelConfig(seq_length=32)
    train = TrainConfig(steps_per_phase=50, global_batch_size=4, micro_batch_size=2, order=order)
    slots = build_phases(synthetic_run, manifest, tok, model=model, train=train)
    # part 0 of each phase's blend is its Hebrew, the others its anchor: the share of samples drawn from them
    phase = [float(np.mean(s.dataset.dataset_index[: len(s.dataset)] >= 1)) for s in slots]
    assert phase == pytest.approx([0.3, 0.2, 0.1] if order == "forward" else [0.1, 0.2, 0.3], abs=0.02)
    train = TrainConfig(**{**_fields(train), "anchor_share": "fixed"})
    slots = build_phases(synthetic_run, manifest, tok, model=model, train=train)
    fixed = [float(np.mean([s.dataset.part(i)[0] == "en" for i in range(200)])) for s in slots]
    assert fixed == pytest.approx([0.2, 0.2, 0.2], abs=0.01)


def _run_stream(run, manifest, order, steps=None, steps_per_phase=20):
    """(English sequences in the order the run trains on them, Hebrew sequences of each phase slot, the
    stream's index of each English sample)."""
    tok = TokenizerInfo.from_manifest(manifest, run)
    train = TrainConfig(steps_per_phase=steps_per_phase, global_batch_size=4, micro_batch_size=2, order=order)
    train = TrainConfig(**{**_fields(train), "anchor_share": "fixed"})
    slots = build_phases(run, manifest, tok, model=ModelConfig(seq_length=32), train=train, steps=steps)
    english, hebrew, parts = [], {}, []
    for slot in slots:
        for i in range(slot.offset, slot.offset + slot.steps * 4):
            kind, j = slot.dataset.part(i)
            tokens = tuple(np.asarray(slot.dataset[i]["tokens"]).tolist())
            if kind == "en":
                english.append(tokens)
                parts.append(j)
            else:
                hebrew.setdefault(slot.phase, []).append(tokens)
    return english, hebrew, parts


def test_fixed_share_gives_every_order_the_same_english_stream(synthetic_run):
    """Under a fixed share the English is one stream consumed in run order: forward, reversed and shuffled train
    on the same English sequences in the same order, each drawn once, so English differences between orders
    are the order's, not the draw's. Unequal phase sizes (proportional steps) change nothing of it."""
    manifest = _manifest_with(synthetic_run, (0.3, 0.2, 0.1))
    for steps in (None, {1: 10, 2: 30, 3: 20}):
        streams = {o: _run_stream(synthetic_run, manifest, o, steps) for o in ("forward", "reversed", "shuffled")}
        english = streams["forward"][0]
        assert len(english) == 48  # 20% of 3 x 20 steps x 4 sequences (or of 60 unequal steps)
        for order in ("reversed", "shuffled"):
            assert streams[order][0] == english
        # English sample j of the stream is drawn once, in order
        assert streams["forward"][2] == list(range(len(english)))
        # the Hebrew of a phase slot is its phase's, the same sequences in forward and reversed
        fwd, rev = streams["forward"][1], streams["reversed"][1]
        assert {k: sorted(v) for k, v in fwd.items()} == {k: sorted(v) for k, v in rev.items()}
        assert not set(fwd[1]) & set(fwd[3])


def test_shuffled_fixed_share_draws_each_english_sample_once(synthetic_run):
    """The shuffled order draws its Hebrew from one blend of the three phases and its English from the run's
    one stream, so no English sequence is drawn twice while unseen ones remain."""
    manifest = _manifest_with(synthetic_run, (0.3, 0.2, 0.1))
    english, _, parts = _run_stream(synthetic_run, manifest, "shuffled", steps_per_phase=8)
    assert parts == list(range(len(parts))) and len(parts) == pytest.approx(0.2 * 96, abs=1)
    pool = sum(manifest["phases"][str(k)]["anchor"]["tokens"] for k in (1, 2, 3))
    assert pool > 33 * len(parts)  # the pool holds more sequences than the run draws
    assert len(set(english)) == len(english)


def _fields(config):
    import dataclasses

    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def _eval_tokens(run, **train_kw):
    manifest = read_manifest(run)
    tok = TokenizerInfo.from_manifest(manifest, run)
    sets, _ = build_eval_sets(run, tok, model=ModelConfig(seq_length=32), train=TrainConfig(**train_kw))
    he = sets["he"]
    return [tuple(np.asarray(he[i]["tokens"]).tolist()) for i in range(len(he))]


def test_evaluation_does_not_depend_on_the_training_seed(synthetic_run):
    a, b = _eval_tokens(synthetic_run, seed=1), _eval_tokens(synthetic_run, seed=2)
    assert a == b  # the same sequences in the same order: any prefix (eval_iters) is the same text
    other = _eval_tokens(synthetic_run, seed=1, eval_seed=7)
    # another eval seed: the documents in another order (so cut into other sequences), as many of them
    assert other != a and len(other) == len(a)
    with pytest.raises(ValueError, match="eval_iters"):
        TrainConfig(eval_iters="most")


def test_fingerprint_pins_the_anchor_share_but_not_the_eval_seed():
    model = ModelConfig()

    def sha(**kw):
        return config_fingerprint("r", model, TrainConfig(**kw), TOKENIZER)

    default = sha()
    assert "anchor_share" not in default["train"]  # runs checkpointed before the option still resume
    assert sha(anchor_share="fixed")["sha256"] != default["sha256"]
    assert sha(eval_seed=9)["sha256"] == default["sha256"]


def test_a_fixed_share_run_records_its_share_and_evaluates_every_sequence(synthetic_run, tmp_path):
    recipe = tmp_path / "tiny-controls.yaml"
    recipe.write_text(TINY_RECIPE.format(name="tiny-controls", hidden=16).replace("eval_iters: 2", "eval_iters: all"))
    out = tmp_path / "train"
    result = run_train(synthetic_run, "-o", out, "--recipe", recipe, "--order", "reversed", "--anchor-share", "fixed")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    manifest = read_manifest(synthetic_run)
    mean = sum(manifest["phases"][str(k)]["anchor_ratio"] for k in (1, 2, 3)) / 3
    data = [r for r in records if r["kind"] == "data"]
    assert [r["phase"] for r in data] == [3, 2, 1]
    assert [r["anchor_ratio"] for r in data] == pytest.approx([mean] * 3)
    evals = [r for r in records if r["kind"] == "eval"]
    assert len(evals) == 3 and all(r["he_loss"] is not None for r in evals)

    bad = run_train(synthetic_run, "-o", tmp_path / "bad", "--recipe", recipe, "--eval-iters", "many")
    assert bad.returncode == 2 and "--eval-iters" in bad.stderr + bad.stdout


def test_eval_iters_all_takes_every_sequence(monkeypatch):
    from types import SimpleNamespace

    from train import loop, step

    seen = {}
    monkeypatch.setattr(step, "evaluate", lambda ddp, data, *, samples, **kw: seen.setdefault(len(seen), samples))
    world = SimpleNamespace(data_parallel_size=1, data_parallel_rank=0, device="cpu")
    sets = {"he": list(range(103)), "en": list(range(9))}
    for iters, expected in (("all", [102, 8]), (2, [8, 8]), (100, [102, 8])):
        seen.clear()
        train = TrainConfig(global_batch_size=4, micro_batch_size=2, eval_iters=iters)
        loop._evaluate(None, sets, ModelConfig(seq_length=32), train, world)
        assert list(seen.values()) == expected  # whole micro-batches: 103 → 102, 9 → 8
