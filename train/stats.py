"""Paired comparisons for the curriculum ablation: each seed gives every order the same initialization and
the same eval subset, so the unit of evidence is the per-seed difference ``order − reference``.

For the differences of one comparison: their mean, a 95% t interval and a seeded percentile bootstrap
interval, a two-sided paired t-test p-value, the minimum detectable effect for the seeds given and the σ
observed (two-sided α = 0.05, power 0.8), and Holm's correction across all comparisons of one ablation.
With fewer than two pairs there is no interval and no p-value. The sentence written for a comparison names
a direction only when both intervals exclude 0 and the Holm-corrected p-value is below α.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
    "ALPHA",
    "HIGHER_IS_BETTER",
    "bootstrap_interval",
    "compare",
    "holm",
    "minimum_detectable_effect",
    "paired_differences",
    "paired_t_p",
    "sentence",
    "summarize",
    "t_interval",
]

ALPHA = 0.05
POWER = 0.8
BOOTSTRAP_RESAMPLES = 10_000
HIGHER_IS_BETTER = {"he_loss": False, "en_loss": False, "he_acc": True}
UNITS = {"he_loss": " nats", "en_loss": " nats", "he_acc": " accuracy"}


def t_interval(diffs: Sequence[float], level: float = 1 - ALPHA) -> tuple[float, float] | None:
    """The t interval of the mean of ``diffs``; None with fewer than two values."""
    n = len(diffs)
    if n < 2:
        return None
    mean, sd = float(np.mean(diffs)), float(np.std(diffs, ddof=1))
    half = float(scipy_stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def bootstrap_interval(
    diffs: Sequence[float], level: float = 1 - ALPHA, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the mean of ``diffs`` (resampled with replacement, seeded)."""
    values = np.asarray(diffs, dtype=float)
    if len(values) < 2:
        return None
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return (float(low), float(high))


def paired_t_p(diffs: Sequence[float]) -> float | None:
    """The two-sided p-value of a paired t-test (mean difference 0). Identical differences give 1 when they
    are all 0 and 0 otherwise; fewer than two values give None."""
    n = len(diffs)
    if n < 2:
        return None
    mean, sd = float(np.mean(diffs)), float(np.std(diffs, ddof=1))
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    t = mean / (sd / math.sqrt(n))
    return float(2 * scipy_stats.t.sf(abs(t), n - 1))


def minimum_detectable_effect(sd: float, n: int, *, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """(t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n: the smallest true mean difference a paired t-test on ``n``
    pairs with this σ detects with probability ``power``. None with fewer than two pairs."""
    if n < 2:
        return None
    df = n - 1
    return float((scipy_stats.t.ppf(1 - alpha / 2, df) + scipy_stats.t.ppf(power, df)) * sd / math.sqrt(n))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of ``p_values`` (None entries stay None and do not count)."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def paired_differences(
    runs: Sequence[dict], metric: str, order: str, reference: str
) -> tuple[list[int], list[float], list[int]]:
    """Seeds with both runs, their differences ``order − reference`` on ``metric``, and the seeds dropped
    because one member of the pair is missing (crashed, or without the metric)."""
    by_key = {(r["order"], r["seed"]): r.get(metric) for r in runs}
    all_seeds = sorted({r["seed"] for r in runs if r["order"] in (order, reference)})
    seeds, diffs, dropped = [], [], []
    for seed in all_seeds:
        a, b = by_key.get((order, seed)), by_key.get((reference, seed))
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            dropped.append(seed)
        else:
            seeds.append(seed)
            diffs.append(float(a) - float(b))
    return seeds, diffs, dropped


def summarize(metric: str, order: str, reference: str, diffs: Sequence[float], *, seed: int = 0) -> dict:
    """One comparison's statistics (``p_holm`` is filled in by ``compare``, across comparisons)."""
    n = len(diffs)
    sd = float(np.std(diffs, ddof=1)) if n > 1 else None
    return {
        "metric": metric,
        "order": order,
        "reference": reference,
        "n": n,
        "diff_mean": float(np.mean(diffs)) if n else None,
        "diff_sd": sd,
        "ci95": _pair(t_interval(diffs)),
        "ci95_bootstrap": _pair(bootstrap_interval(diffs, seed=seed)),
        "p_value": paired_t_p(diffs),
        "p_holm": None,
        "mde": minimum_detectable_effect(sd, n) if sd is not None else None,
    }


def compare(
    runs: Sequence[dict], *, orders: Sequence[str], reference: str, metrics: Sequence[str], seed: int = 0
) -> list[dict]:
    """Every order other than ``reference`` against it, on every metric some run reports; Holm across all of
    them. Each comparison carries the seeds used, the seeds dropped and its sentence."""
    comparisons = []
    for metric in metrics:
        if not any(r.get(metric) is not None for r in runs):
            continue
        for order in orders:
            if order == reference:
                continue
            seeds, diffs, dropped = paired_differences(runs, metric, order, reference)
            comparison = summarize(metric, order, reference, diffs, seed=seed)
            comparison["seeds"] = seeds
            comparison["seeds_dropped"] = dropped
            comparisons.append(comparison)
    for comparison, adjusted in zip(comparisons, holm([c["p_value"] for c in comparisons]), strict=True):
        comparison["p_holm"] = adjusted
        comparison["sentence"] = sentence(comparison, k=len(comparisons))
    return comparisons


def sentence(c: dict, *, k: int = 1) -> str:
    """One plain sentence for a comparison. It names a direction (better/worse) only when the t and the
    bootstrap interval both exclude 0 and the Holm-corrected p-value is below α."""
    metric, unit = c["metric"], UNITS.get(c["metric"], "")
    head = f"{c['order']} − {c['reference']} on {metric}"
    dropped = c.get("seeds_dropped") or []
    dropped_note = f"; {len(dropped)} seed(s) dropped for a missing run ({_seeds(dropped)})" if dropped else ""
    if c["n"] == 0:
        return f"{head}: no seed has both runs, so there is nothing to compare{dropped_note}."
    if c["n"] < 2:
        return (
            f"{head}: {_signed(c['diff_mean'])}{unit} (n=1){dropped_note}; "
            "no interval is possible with one seed, so no difference can be claimed."
        )
    low, high = c["ci95"]
    figures = (
        f"{_signed(c['diff_mean'])}{unit} (95% CI {_signed(low)} to {_signed(high)}, "
        f"p={_p(c['p_value'])}, Holm {_p(c['p_holm'])}, n={c['n']}){dropped_note}"
    )
    mde = f"the smallest effect these seeds could detect is {c['mde']:.3f}{unit}"
    if not _excludes_zero(c):
        return f"{head}: {figures}; no difference detected; {mde}."
    if c["p_holm"] is None or c["p_holm"] >= ALPHA:
        return (
            f"{head}: {figures}; the interval excludes 0 but the difference does not survive Holm's "
            f"correction across {k} comparisons, so no difference is claimed; {mde}."
        )
    higher_is_better = HIGHER_IS_BETTER.get(metric, False)
    better = (c["diff_mean"] > 0) == higher_is_better
    return f"{head}: {figures}; {c['order']} is {'better' if better else 'worse'} than {c['reference']} on {metric}."


def _excludes_zero(c: dict) -> bool:
    intervals = [c.get("ci95"), c.get("ci95_bootstrap")]
    return all(iv is not None and (iv[0] > 0 or iv[1] < 0) for iv in intervals)


def _pair(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


def _signed(x: float) -> str:
    return f"{x:+.3f}".replace("-", "−")


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.2g}" if p < 0.01 else f"{p:.2f}"


def _seeds(seeds: Sequence[int]) -> str:
    return "seed " + ", ".join(str(s) for s in seeds)
