"""Per-phase blends realize the manifest's anchor ratio; shuffled blends all phases; clear input errors."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest

from train.config import ModelConfig, TrainConfig
from train.data import (
    MissingTokensError,
    TokenizerInfo,
    build_eval_sets,
    build_phases,
    phase_order,
    read_manifest,
)

MODEL = ModelConfig(hidden_size=32, seq_length=32)


def _counts(dataset, start: int, n: int) -> Counter:
    return Counter(dataset.dataset_index[start : start + n].tolist())


def test_phase_blend_realizes_anchor_ratio(synthetic_run):
    manifest = read_manifest(synthetic_run)
    tok = TokenizerInfo.from_manifest(manifest, synthetic_run)
    assert (tok.vocab_size, tok.eod) == (500, 0) and tok.unique_identifiers["vocab_size"] == 500
    train = TrainConfig(steps_per_phase=25, global_batch_size=4, micro_batch_size=2)
    slots = build_phases(synthetic_run, manifest, tok, model=MODEL, train=train)
    assert [s.phase for s in slots] == [1, 2, 3]
    for slot, ratio in zip(slots, (0.3, 0.2, 0.1), strict=True):
        assert len(slot.dataset) == 100 and slot.offset == 0
        assert _counts(slot.dataset, 0, 100) == {0: round(100 * (1 - ratio)), 1: round(100 * ratio)}
        sample = slot.dataset[0]
        assert sample["tokens"].shape == (32,) and sample["labels"].shape == (32,)
        assert np.array_equal(sample["tokens"][1:].numpy(), sample["labels"][:-1].numpy())


def test_shuffled_is_one_blend_of_all_phases(synthetic_run):
    manifest = read_manifest(synthetic_run)
    tok = TokenizerInfo.from_manifest(manifest, synthetic_run)
    train = TrainConfig(steps_per_phase=25, global_batch_size=4, micro_batch_size=2, order="shuffled")
    slots = build_phases(synthetic_run, manifest, tok, model=MODEL, train=train)
    assert [(s.phase, s.offset) for s in slots] == [(1, 0), (2, 100), (3, 200)]
    assert len({id(s.dataset) for s in slots}) == 1
    counts = _counts(slots[0].dataset, 0, 300)
    # hebrew_k = 100 (1 - r_k), anchor_k = 100 r_k: the curriculum's tokens, without its order
    assert [counts[i] for i in range(6)] == [70, 30, 80, 20, 90, 10]
    # each slot mixes all phases (no curriculum)
    assert len(_counts(slots[0].dataset, 0, 100)) >= 5


def test_reversed_order():
    assert phase_order("reversed") == [3, 2, 1]
    assert phase_order("forward") == phase_order("shuffled") == [1, 2, 3]


def test_eval_sets(synthetic_run):
    manifest = read_manifest(synthetic_run)
    tok = TokenizerInfo.from_manifest(manifest, synthetic_run)
    sets, notes = build_eval_sets(synthetic_run, tok, model=MODEL, train=TrainConfig())
    assert set(sets) == {"he", "en"} and notes == []
    he, en = sets["he"][0]["tokens"], sets["en"][0]["tokens"]
    assert he[he > 0].max() < 250 <= en[en > 0].min()  # synthetic Hebrew and English token ranges


def test_missing_tokens_names_the_path(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(MissingTokensError, match=f"{run / 'tokens'} not found.*hebatron tokenize"):
        read_manifest(run)


def test_missing_token_file_is_named(synthetic_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    (run / "tokens" / "phase-2" / "anchor.idx").unlink()
    manifest = read_manifest(run)
    tok = TokenizerInfo.from_manifest(manifest, run)
    with pytest.raises(MissingTokensError, match=r"phase-2/anchor\.idx not found"):
        build_phases(run, manifest, tok, model=MODEL, train=TrainConfig())


def test_bad_manifest_tokenizer(synthetic_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    path = run / "shards" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["tokenizer"]["eod"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(MissingTokensError, match="'vocab_size' and 'eod'"):
        TokenizerInfo.from_manifest(read_manifest(run), path)


def test_missing_english_eval_set_is_skipped_with_a_note(synthetic_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    for suffix in (".bin", ".idx"):
        (run / "tokens" / "eval" / f"en{suffix}").unlink()
    manifest = read_manifest(run)
    sets, notes = build_eval_sets(run, TokenizerInfo.from_manifest(manifest, run), model=MODEL, train=TrainConfig())
    assert set(sets) == {"he"} and len(sets["he"]) > 0
    assert notes == [f"no held-out set {run / 'tokens' / 'eval' / 'en'}.bin: en_loss is not evaluated"]
