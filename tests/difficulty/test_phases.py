"""Cut-offs (weighted percentiles or fixed values), phase assignment, and config validation."""

from __future__ import annotations

import numpy as np
import pytest

from difficulty.phases import (
    CCNET_HEBREW_CUTOFFS,
    Cutoffs,
    DifficultyConfig,
    assign_phase,
    assign_phases,
    compute_cutoffs,
    weighted_percentiles,
)


def test_unit_weights_match_numpy_inverted_cdf() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(6, 0.5, size=1001)
    for q in (1, 10, 33, 50, 66, 90, 99):
        expected = np.percentile(values, q, method="inverted_cdf")
        assert weighted_percentiles(values, np.ones_like(values), (q,)) == [expected]


def test_weights_move_the_cut() -> None:
    # one long document (weight 8) among short ones: by weight, it alone is past the 50th percentile
    values = np.array([100.0, 200.0, 300.0, 400.0, 500.0])
    weights = np.array([1.0, 1.0, 1.0, 8.0, 1.0])
    assert weighted_percentiles(values, weights, (25, 50, 75, 95)) == [300.0, 400.0, 400.0, 500.0]
    assert weighted_percentiles(values, np.ones(5), (50,)) == [300.0]


def test_token_weighted_thirds() -> None:
    # 300 documents, perplexity 1..300, each with 10 tokens: the 33/66 cut puts 99/99/102 in the phases
    ppl = np.arange(1, 301, dtype=float)
    cut = compute_cutoffs(ppl, np.full(300, 10), DifficultyConfig())
    assert (cut.low, cut.high, cut.method, cut.weight) == (99.0, 198.0, "percentiles", "tokens")
    assert np.bincount(assign_phases(ppl, cut))[1:].tolist() == [99, 99, 102]


def test_fixed_cutoffs_ignore_the_data() -> None:
    config = DifficultyConfig(cutoffs=CCNET_HEBREW_CUTOFFS)
    cut = compute_cutoffs(np.array([5.0, 6.0]), None, config)
    assert cut == Cutoffs(low=1320.0, high=1830.0, method="fixed")
    assert [assign_phase(p, cut) for p in (900, 1320, 1320.5, 1830, 2630)] == [1, 1, 2, 2, 3]


def test_assign_phase_boundaries_and_array_agree() -> None:
    ppl = np.array([1.0, 10.0, 10.000001, 20.0, 20.5, 1e9])
    phases = assign_phases(ppl, (10.0, 20.0))
    assert phases.dtype == np.int8
    assert phases.tolist() == [assign_phase(p, (10.0, 20.0)) for p in ppl] == [1, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="finite"):
        assign_phase(float("nan"), (10.0, 20.0))
    with pytest.raises(ValueError, match="finite"):
        assign_phases(np.array([1.0, np.inf]), (10.0, 20.0))


def test_percentiles_need_data() -> None:
    with pytest.raises(ValueError, match="no values"):
        weighted_percentiles(np.array([]), np.array([]), (33,))
    with pytest.raises(ValueError, match="sum to zero"):
        weighted_percentiles(np.array([1.0]), np.array([0.0]), (33,))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percentiles": (66, 33)}, "0 < low < high < 100"),
        ({"percentiles": (0, 50)}, "0 < low < high < 100"),
        ({"percentiles": (33, 100)}, "0 < low < high < 100"),
        ({"percentiles": (33,)}, "two numbers"),
        ({"cutoffs": (1830, 1320)}, "0 < low < high"),
        ({"cutoffs": (-1, 5)}, "0 < low < high"),
        ({"cutoffs": (1, float("inf"))}, "finite"),
        ({"weight": "bytes"}, "weight must be"),
        ({"max_chars": 0}, "max_chars"),
    ],
)
def test_config_validation(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        DifficultyConfig(**kwargs)


def test_config_normalizes_types() -> None:
    config = DifficultyConfig(percentiles=[30, 60], cutoffs=[1280, 1710], lm_dir="models/he")
    assert config.percentiles == (30.0, 60.0) and config.cutoffs == (1280.0, 1710.0)
    assert str(config.lm_dir) == "models/he"
    with pytest.raises(TypeError):
        DifficultyConfig((33, 66))  # keyword-only
