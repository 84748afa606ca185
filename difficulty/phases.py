"""Perplexity cut-offs and the easy-to-hard phases they define.

Phase 1 holds the lowest perplexities (text most like the reference LM's clean news prose: "easy"),
phase 3 the highest:

    phase 1:        perplexity <= low
    phase 2:  low < perplexity <= high
    phase 3: high < perplexity

The cut-offs are either fixed values (e.g. CCNet's Hebrew p33/p66, calibrated for CCNet's Wikipedia LM) or —
the default — percentiles of the run's own perplexities, weighted by tokens: with 33/66, about a third of the
run's tokens fall in each phase, whatever the reference LM's absolute scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "CCNET_HEBREW_CUTOFFS",
    "Cutoffs",
    "DifficultyConfig",
    "Weighting",
    "assign_phase",
    "assign_phases",
    "compute_cutoffs",
    "weighted_percentiles",
]

#: CCNet's Hebrew perplexity percentiles p33 / p66 (``cc_net/data/cutoff.csv``). Only meaningful with CCNet's
#: own ``he.sp.model`` + ``he.arpa.bin``; a model trained here has a different scale.
CCNET_HEBREW_CUTOFFS: tuple[float, float] = (1320.0, 1830.0)

Weighting = Literal["tokens", "characters", "documents"]


@dataclass(kw_only=True, slots=True)
class DifficultyConfig:
    """How documents are scored and cut into phases."""

    percentiles: tuple[float, float] = (33.0, 66.0)
    """Weighted percentiles (0–100, increasing) of the run's perplexities cutting phases 1|2 and 2|3."""
    cutoffs: tuple[float, float] | None = None
    """Fixed perplexity cut-offs (low, high) instead of percentiles, e.g. ``CCNET_HEBREW_CUTOFFS``."""
    weight: Weighting = "tokens"
    """What the percentiles count: SentencePiece tokens (pieces + 1 per line, the perplexity's own
    denominator), characters, or documents."""
    lm_dir: Path | None = None
    """Reference-LM directory; ``None`` = the default model built from the HTB treebank's train split."""
    max_chars: int = 1_000_000
    """Longer documents are not scored (excluded as ``perplexity:too_long``)."""

    def __post_init__(self) -> None:
        if len(self.percentiles) != 2:
            raise ValueError(f"percentiles must be two numbers (low, high), got {self.percentiles!r}")
        low, high = (float(p) for p in self.percentiles)
        if not (0.0 < low < high < 100.0):
            raise ValueError(f"percentiles must satisfy 0 < low < high < 100, got {self.percentiles!r}")
        self.percentiles = (low, high)
        if self.cutoffs is not None:
            if len(self.cutoffs) != 2:
                raise ValueError(f"cutoffs must be two perplexities (low, high), got {self.cutoffs!r}")
            c_low, c_high = (float(c) for c in self.cutoffs)
            if not (math.isfinite(c_low) and math.isfinite(c_high) and 0.0 < c_low < c_high):
                raise ValueError(f"cutoffs must be finite and satisfy 0 < low < high, got {self.cutoffs!r}")
            self.cutoffs = (c_low, c_high)
        if self.weight not in ("tokens", "characters", "documents"):
            raise ValueError(f"weight must be 'tokens', 'characters' or 'documents', got {self.weight!r}")
        if not isinstance(self.max_chars, int) or self.max_chars <= 0:
            raise ValueError(f"max_chars must be a positive integer, got {self.max_chars!r}")
        if self.lm_dir is not None:
            self.lm_dir = Path(self.lm_dir)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """The two perplexity boundaries and how they were obtained."""

    low: float
    high: float
    method: Literal["percentiles", "fixed"]
    percentiles: tuple[float, float] | None = None
    weight: Weighting | None = None

    def as_dict(self) -> dict:
        return {
            "low": self.low,
            "high": self.high,
            "method": self.method,
            "percentiles": list(self.percentiles) if self.percentiles else None,
            "weight": self.weight,
        }


def weighted_percentiles(values: np.ndarray, weights: np.ndarray, percentiles: tuple[float, ...]) -> list[float]:
    """For each ``q``: the smallest value ``v`` such that items with value ``<= v`` carry at least ``q`` %
    of the total weight (the inverted weighted CDF; with unit weights, numpy's ``inverted_cdf``)."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if values.shape != weights.shape or values.ndim != 1:
        raise ValueError(f"values and weights must be 1-D and the same length ({values.shape} vs {weights.shape})")
    if values.size == 0:
        raise ValueError("cannot take percentiles of no values")
    if not np.all(np.isfinite(values)) or np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("values must be finite and weights finite and non-negative")
    total = weights.sum()
    if total <= 0:
        raise ValueError("the weights sum to zero")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    out = []
    for q in percentiles:
        idx = int(np.searchsorted(cum, total * q / 100.0, side="left"))
        out.append(float(values[order[min(idx, len(order) - 1)]]))
    return out


def compute_cutoffs(perplexities: np.ndarray, weights: np.ndarray | None, config: DifficultyConfig) -> Cutoffs:
    """Fixed ``config.cutoffs``, else the ``config.percentiles`` of ``perplexities`` under ``weights``."""
    if config.cutoffs is not None:
        return Cutoffs(low=config.cutoffs[0], high=config.cutoffs[1], method="fixed")
    perplexities = np.asarray(perplexities, dtype=np.float64)
    if weights is None:
        weights = np.ones_like(perplexities)
    low, high = weighted_percentiles(perplexities, weights, config.percentiles)
    return Cutoffs(low=low, high=high, method="percentiles", percentiles=config.percentiles, weight=config.weight)


def assign_phase(perplexity: float, cutoffs: Cutoffs | tuple[float, float]) -> Literal[1, 2, 3]:
    """1 (easy) if ``perplexity <= low``, 2 if ``<= high``, else 3 (hard)."""
    low, high = (cutoffs.low, cutoffs.high) if isinstance(cutoffs, Cutoffs) else cutoffs
    if not math.isfinite(perplexity):
        raise ValueError(f"perplexity must be a finite number, got {perplexity!r}")
    if perplexity <= low:
        return 1
    return 2 if perplexity <= high else 3


def assign_phases(perplexities: np.ndarray, cutoffs: Cutoffs | tuple[float, float]) -> np.ndarray:
    """``assign_phase`` over an array; returns ``int8`` phases 1..3."""
    low, high = (cutoffs.low, cutoffs.high) if isinstance(cutoffs, Cutoffs) else cutoffs
    p = np.asarray(perplexities, dtype=np.float64)
    if not np.all(np.isfinite(p)):
        raise ValueError("perplexities must all be finite")
    return np.where(p <= low, 1, np.where(p <= high, 2, 3)).astype(np.int8)
