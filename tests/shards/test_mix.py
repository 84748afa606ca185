"""The anchor draw on synthetic token counts: ratio, no replacement, repeats, pool too small."""

from __future__ import annotations

import numpy as np
import pytest

from shards.mix import RATIO_TOLERANCE, AnchorPoolTooSmall, MixError, anchor_target, draw_anchors, shuffle_positions

HEBREW = [50_000, 48_000, 61_000]
RATIOS = (0.3, 0.2, 0.1)


def _pool(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 900, size=n)


def _ratio(draw, hebrew: int) -> float:
    return draw.tokens / (draw.tokens + hebrew)


def test_ratio_and_without_replacement() -> None:
    pool = _pool(1000)
    draws = draw_anchors(pool, HEBREW, RATIOS, seed=0, allow_repeat=False)
    for d, h, r in zip(draws, HEBREW, RATIOS, strict=True):
        assert d.tokens == int(pool[d.anchors].sum())
        assert abs(_ratio(d, h) - r) <= RATIO_TOLERANCE / 10
        assert d.repeated == 0 and set(d.copies) == {1}
    used = [i for d in draws for i in d.anchors]
    assert len(used) == len(set(used))


def test_deterministic_by_seed() -> None:
    pool = _pool(1000)
    a = draw_anchors(pool, HEBREW, RATIOS, seed=3, allow_repeat=False)
    b = draw_anchors(pool, HEBREW, RATIOS, seed=3, allow_repeat=False)
    c = draw_anchors(pool, HEBREW, RATIOS, seed=4, allow_repeat=False)
    assert [d.anchors for d in a] == [d.anchors for d in b]
    assert [d.anchors for d in a] != [d.anchors for d in c]


def test_pool_too_small_says_how_many_tokens_are_missing() -> None:
    pool = _pool(40)
    need = sum(anchor_target(h, r) for h, r in zip(HEBREW, RATIOS, strict=True))
    with pytest.raises(AnchorPoolTooSmall, match="tokens missing") as exc:
        draw_anchors(pool, HEBREW, RATIOS, seed=0, allow_repeat=False)
    assert exc.value.missing_tokens == need - int(pool.sum())
    assert f"{need - int(pool.sum()):,} tokens missing" in str(exc.value)


def test_allow_repeat_marks_copies() -> None:
    pool = _pool(40)
    draws = draw_anchors(pool, HEBREW, RATIOS, seed=0, allow_repeat=True)
    for d, h, r in zip(draws, HEBREW, RATIOS, strict=True):
        assert abs(_ratio(d, h) - r) <= RATIO_TOLERANCE
    assert sum(d.repeated for d in draws) > 0
    uses = [(i, c) for d in draws for i, c in zip(d.anchors, d.copies, strict=True)]
    assert len(uses) == len(set(uses)), "a (document, copy) pair is used once"
    # every document is used once before any is repeated
    first_round = {i for i, c in uses if c == 1}
    assert first_round == set(range(len(pool)))


def test_zero_ratio_and_empty_phase() -> None:
    draws = draw_anchors(_pool(100), [1000, 0, 5000], (0.0, 0.3, 0.1), seed=0, allow_repeat=False)
    assert draws[0].anchors == [] and draws[1].anchors == []
    assert draws[2].tokens > 0


def test_documents_too_large_for_the_phase() -> None:
    with pytest.raises(MixError, match="too large"):
        draw_anchors(np.full(100, 10_000), [1000, 1000, 1000], RATIOS, seed=0, allow_repeat=False)


def test_shuffle_positions_is_a_permutation() -> None:
    pos = shuffle_positions(1000, seed=0, phase=1)
    assert sorted(pos.tolist()) == list(range(1000))
    assert not np.array_equal(pos, np.arange(1000))
    assert np.array_equal(pos, shuffle_positions(1000, seed=0, phase=1))
    assert not np.array_equal(pos, shuffle_positions(1000, seed=0, phase=2))
