"""The ablation's paired statistics against scipy/numpy and hand-computed cases, the honesty of its sentences,
and the summary, files and report section built from run records (no training)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from train.stats import (
    bootstrap_interval,
    compare,
    holm,
    minimum_detectable_effect,
    paired_t_p,
    sentence,
    summarize,
    t_interval,
)

REQUIRED = {"metric", "order", "reference", "n", "diff_mean", "ci95", "p_value", "p_holm", "mde"}


def test_t_interval_and_p_on_a_hand_computed_case():
    # differences 1, 2, 3: mean 2, sd 1, t_{0.975,2} = 4.303, half width 4.303 / sqrt(3) = 2.484
    low, high = t_interval([1.0, 2.0, 3.0])
    assert low == pytest.approx(2 - 2.4843, abs=1e-3) and high == pytest.approx(2 + 2.4843, abs=1e-3)
    # t = 2 / (1 / sqrt(3)) = 3.464 on 2 df: two-sided p = 0.0742
    assert paired_t_p([1.0, 2.0, 3.0]) == pytest.approx(0.0742, abs=1e-3)


def test_against_scipy_on_random_pairs():
    rng = np.random.default_rng(7)
    a, b = rng.normal(3.0, 0.2, 9), rng.normal(3.05, 0.2, 9)
    diffs = list(a - b)
    assert paired_t_p(diffs) == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue, rel=1e-9)
    expected = scipy_stats.t.interval(0.95, len(diffs) - 1, loc=np.mean(diffs), scale=scipy_stats.sem(diffs))
    assert t_interval(diffs) == pytest.approx(expected, rel=1e-9)


def test_bootstrap_interval_is_seeded_and_agrees_with_scipy():
    rng = np.random.default_rng(3)
    diffs = list(rng.normal(0.1, 0.3, 40))
    ours = bootstrap_interval(diffs, seed=5)
    assert ours == bootstrap_interval(diffs, seed=5)
    assert ours[0] < np.mean(diffs) < ours[1]
    ref = scipy_stats.bootstrap((np.asarray(diffs),), np.mean, method="percentile", n_resamples=10_000, rng=1)
    assert ours == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high), abs=0.02)
    assert bootstrap_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)


def test_holm_on_a_known_set():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, None, 0.03, 0.005]) == pytest.approx([0.03, 0.06, None, 0.06, 0.02])
    assert holm([0.6, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_minimum_detectable_effect_formula():
    # n = 5, sd = 0.05: (t_{0.975,4} = 2.7764 + t_{0.8,4} = 0.9410) * 0.05 / sqrt(5) = 0.08313
    assert minimum_detectable_effect(0.05, 5) == pytest.approx(0.08313, abs=1e-4)
    assert minimum_detectable_effect(0.05, 20) < minimum_detectable_effect(0.05, 5)
    assert minimum_detectable_effect(0.05, 1) is None


def test_one_seed_gives_no_interval_and_says_so():
    c = summarize("he_loss", "reversed", "forward", [0.02])
    assert c["n"] == 1 and c["diff_mean"] == pytest.approx(0.02)
    assert c["ci95"] is None and c["ci95_bootstrap"] is None and c["p_value"] is None and c["mde"] is None
    assert "no interval is possible with one seed" in sentence(c)
    assert not {"better", "worse"} & set(sentence(c).split())


def test_sentence_reports_the_figures_and_claims_a_clear_effect():
    c = summarize("he_loss", "reversed", "forward", [0.010, 0.040, -0.020, 0.030, 0.000])
    c["p_holm"] = min(1.0, 2 * c["p_value"])
    text = sentence(c, k=2)
    assert text.startswith("reversed − forward on he_loss: +0.012 nats (95% CI −0.") and "n=5" in text
    assert "no difference detected" in text and f"{c['mde']:.3f} nats" in text
    clear = summarize("he_loss", "reversed", "forward", [0.50, 0.52, 0.49, 0.51, 0.50])
    clear["p_holm"] = clear["p_value"]
    assert sentence(clear).endswith("reversed is worse than forward on he_loss.")
    acc = summarize("he_acc", "reversed", "forward", [0.10, 0.11, 0.09, 0.10])
    acc["p_holm"] = acc["p_value"]
    assert "reversed is better than forward" in sentence(acc)


def _claims(text: str) -> bool:
    return " better than " in text or " worse than " in text


@settings(max_examples=150, deadline=None)
@given(
    diffs=st.lists(st.floats(-1, 1, allow_nan=False).map(lambda x: round(x, 3)), min_size=0, max_size=8),
    others=st.lists(st.floats(0, 1), max_size=4),
    metric=st.sampled_from(["he_loss", "en_loss", "he_acc"]),
)
def test_sentence_never_claims_an_effect_whose_interval_includes_zero(diffs, others, metric):
    runs = [{"order": "forward", "seed": s, metric: 1.0} for s in range(len(diffs))]
    runs += [{"order": "reversed", "seed": s, metric: 1.0 + d} for s, d in enumerate(diffs)]
    comparisons = compare(runs, orders=["forward", "reversed"], reference="forward", metrics=[metric])
    c = comparisons[0] if comparisons else None
    if c is None:
        assert not diffs
        return
    # Holm across more comparisons can only raise p_holm; the sentence must follow it
    c["p_holm"] = holm([c["p_value"], *others])[0] if c["p_value"] is not None else None
    text = sentence(c, k=1 + len(others))
    intervals = [c["ci95"], c["ci95_bootstrap"]]
    includes_zero = any(iv is None or iv[0] <= 0 <= iv[1] for iv in intervals)
    if includes_zero or c["p_holm"] is None or c["p_holm"] >= 0.05:
        assert not _claims(text), text
    else:
        assert _claims(text), text


def _runs(values: dict[tuple[str, int], tuple[float, float]]) -> list[dict]:
    return [{"order": o, "seed": s, "he_loss": he, "en_loss": en} for (o, s), (he, en) in values.items()]


def test_summary_pairs_by_seed_drops_incomplete_pairs_and_skips_absent_metrics():
    from train.ablate import summarize_runs

    values = {("forward", s): (3.0 + 0.1 * s, 4.0) for s in range(4)}
    values |= {("reversed", s): (3.05 + 0.1 * s + 0.01 * (s % 2), 4.2) for s in range(4) if s != 2}
    failed = [{"order": "reversed", "seed": 2, "train_dir": "x", "error": "RuntimeError: boom"}]
    result = summarize_runs(_runs(values), failed, orders=["forward", "reversed"], seeds=range(4), reference="forward")
    assert {"orders", "seeds", "runs", "table", "comparisons", "failed_runs", "reference"} <= set(result)
    by_metric = {c["metric"]: c for c in result["comparisons"]}
    assert set(by_metric) == {"he_loss", "en_loss"}  # no run reports he_acc
    he = by_metric["he_loss"]
    assert REQUIRED <= set(he) and he["n"] == 3 and he["seeds"] == [0, 1, 3] and he["seeds_dropped"] == [2]
    assert he["diff_mean"] == pytest.approx(np.mean([0.05, 0.06, 0.06]))
    assert "1 seed(s) dropped for a missing run (seed 2)" in he["sentence"]
    assert [c["p_holm"] for c in result["comparisons"]] == pytest.approx(
        holm([c["p_value"] for c in result["comparisons"]])
    )
    with_acc = _runs(values)
    for r in with_acc:
        r["he_acc"] = 0.5
    result = summarize_runs(with_acc, [], orders=["forward", "reversed"], seeds=range(4), reference="forward")
    assert {c["metric"] for c in result["comparisons"]} == {"he_loss", "en_loss", "he_acc"}


def test_one_seed_summary_says_no_interval():
    from train.ablate import summarize_runs

    runs = _runs({("forward", 0): (3.0, 4.0), ("shuffled", 0): (3.1, 4.0)})
    result = summarize_runs(runs, [], orders=["forward", "shuffled"], seeds=[0], reference="forward")
    assert all(c["ci95"] is None and c["p_value"] is None and c["p_holm"] is None for c in result["comparisons"])
    assert all("no interval is possible with one seed" in c["sentence"] for c in result["comparisons"])


@pytest.fixture
def crashing_train_run(monkeypatch):
    def train_run(run_dir, train_dir, *, model, train, recipe_name, echo=print):
        if (train.order, train.seed) == ("shuffled", 1):
            raise RuntimeError("CUDA error: an illegal memory access\nmore detail")
        train_dir.mkdir(parents=True, exist_ok=True)
        (train_dir / "metrics.jsonl").write_text(json.dumps({"kind": "train", "step": 1, "phase": 1, "loss": 5.0}))
        he = 3.0 + 0.01 * train.seed + {"forward": 0.0, "reversed": 0.1, "shuffled": 0.02}[train.order]
        return {"train_dir": str(train_dir), "final": {"he_loss": he, "en_loss": 4.0 + 0.03 * train.seed}, "evals": {}}

    import train.loop

    monkeypatch.setattr(train.loop, "train_run", train_run)


def test_ablate_reports_a_crashed_run_and_uses_the_rest(crashing_train_run, tmp_path):
    from hebatron.report import ablation_section
    from train.ablate import ablate
    from train.config import ModelConfig, TrainConfig

    out = tmp_path / "abl"
    result = ablate(tmp_path, out, seeds=[0, 1, 2], model=ModelConfig(), train=TrainConfig(), echo=lambda *_: None)
    assert result["failed_runs"] == [
        {
            "order": "shuffled",
            "schedule": "wsd",
            "seed": 1,
            "train_dir": str(out / "shuffled-seed1"),
            "error": "RuntimeError: CUDA error: an illegal memory access",
        }
    ]
    saved = json.loads((out / "ablation.json").read_text())
    assert len(saved["runs"]) == 8 and saved["reference"] == "forward"
    comparisons = {(c["order"], c["metric"]): c for c in saved["comparisons"]}
    assert set(comparisons) == {(o, m) for o in ("reversed", "shuffled") for m in ("he_loss", "en_loss")}
    assert comparisons[("shuffled", "he_loss")]["n"] == 2 and comparisons[("reversed", "he_loss")]["n"] == 3
    assert comparisons[("reversed", "he_loss")]["diff_mean"] == pytest.approx(0.1)
    assert all(REQUIRED <= set(c) for c in saved["comparisons"])
    md = (out / "ablation.md").read_text()
    assert "- shuffled, seed 1: RuntimeError: CUDA error: an illegal memory access" in md
    assert comparisons[("reversed", "en_loss")]["sentence"] in md
    with (out / "comparisons.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["order"], r["metric"], r["n"]) for r in rows][:2] == [
        ("reversed", "he_loss", "3"),
        ("shuffled", "he_loss", "2"),
    ]
    assert math.isclose(float(rows[0]["diff_mean"]), 0.1, rel_tol=1e-9)
    page = ablation_section(out)
    assert "Paired differences against forward" in page and "shuffled, seed 1: RuntimeError" in page
    assert "reversed − forward on he_loss" in page and "MDE" in page
    assert (out / "ablation.png").stat().st_size > 1000


def test_unknown_reference_and_an_old_ablation_json(tmp_path):
    from hebatron.report import ablation_section
    from train.ablate import ablate
    from train.config import ModelConfig, TrainConfig

    with pytest.raises(ValueError, match="reference order 'sideways'"):
        ablate(tmp_path, tmp_path / "a", seeds=1, reference="sideways", model=ModelConfig(), train=TrainConfig())
    old = {
        "table": [
            {
                "order": "forward",
                "he_loss_mean": 3.0,
                "he_loss_std": 0.1,
                "en_loss_mean": 4.0,
                "en_loss_std": 0.2,
                "runs": 2,
            }
        ]
    }
    (tmp_path / "ablation.json").write_text(json.dumps(old))
    assert "Paired differences" not in ablation_section(tmp_path)
