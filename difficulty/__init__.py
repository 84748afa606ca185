"""Difficulty: rate every curated document by a reference LM's perplexity and cut the run into phases 1..3.

CCNet's method (Wenzek et al. 2020): text normalized as CCNet does, SentencePiece pieces, a KenLM 5-gram
(modified Kneser-Ney) trained on clean prose, document perplexity ``10^(-Σ log10 p / Σ (pieces + 1))``;
phases cut at token-weighted percentiles of the run's own perplexities, phase 1 = lowest ("easy").

    from difficulty import DifficultyConfig, score_run
    score_run(Path("RUN"), config=DifficultyConfig(percentiles=(33, 66)))

Modules: ``normalize`` (text normalization), ``corpus`` (training inputs, the HTB treebank), ``lm`` (train and
locate reference LMs), ``scorer`` (``KenLMScorer``), ``step`` (the datatrove ``PerplexityScorer`` filter),
``phases`` (cut-offs, ``DifficultyConfig``), ``pipeline`` (scoring as datatrove stages: score, cut-offs, phases,
publish), ``run`` (``score_run``: the resume check and the executor).
Names are imported lazily: ``import difficulty`` does not load datatrove, KenLM or pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "normalize_line": "difficulty.normalize",
    "normalize_lines": "difficulty.normalize",
    "htb_sentences": "difficulty.corpus",
    "LMFiles": "difficulty.lm",
    "LMTrainingError": "difficulty.lm",
    "default_reference_lm": "difficulty.lm",
    "resolve_lm": "difficulty.lm",
    "train_reference_lm": "difficulty.lm",
    "DocScore": "difficulty.scorer",
    "DocumentScorer": "difficulty.scorer",
    "KenLMScorer": "difficulty.scorer",
    "UnscorableDocument": "difficulty.scorer",
    "PerplexityScorer": "difficulty.step",
    "CCNET_HEBREW_CUTOFFS": "difficulty.phases",
    "Cutoffs": "difficulty.phases",
    "DifficultyConfig": "difficulty.phases",
    "assign_phase": "difficulty.phases",
    "assign_phases": "difficulty.phases",
    "compute_cutoffs": "difficulty.phases",
    "CuratedSchemaError": "difficulty.run",
    "RunNotCuratedError": "difficulty.run",
    "ScoringError": "difficulty.run",
    "score_run": "difficulty.run",
}

__all__ = [
    "CCNET_HEBREW_CUTOFFS",
    "CuratedSchemaError",
    "Cutoffs",
    "DifficultyConfig",
    "DocScore",
    "DocumentScorer",
    "KenLMScorer",
    "LMFiles",
    "LMTrainingError",
    "PerplexityScorer",
    "RunNotCuratedError",
    "ScoringError",
    "UnscorableDocument",
    "assign_phase",
    "assign_phases",
    "compute_cutoffs",
    "default_reference_lm",
    "htb_sentences",
    "normalize_line",
    "normalize_lines",
    "resolve_lm",
    "score_run",
    "train_reference_lm",
]

if TYPE_CHECKING:
    from difficulty.corpus import htb_sentences
    from difficulty.lm import LMFiles, LMTrainingError, default_reference_lm, resolve_lm, train_reference_lm
    from difficulty.normalize import normalize_line, normalize_lines
    from difficulty.phases import (
        CCNET_HEBREW_CUTOFFS,
        Cutoffs,
        DifficultyConfig,
        assign_phase,
        assign_phases,
        compute_cutoffs,
    )
    from difficulty.run import CuratedSchemaError, RunNotCuratedError, ScoringError, score_run
    from difficulty.scorer import DocScore, DocumentScorer, KenLMScorer, UnscorableDocument
    from difficulty.step import PerplexityScorer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'difficulty' has no attribute {name!r}")
