"""The ``sft:`` recipe section: the bilingual set (``data``, see ``shards.sft_data``) and the fine-tuning run.

Pure Python, like ``train.config``: recipes load without torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shards.sft_config import SftDataConfig

__all__ = ["SftConfig"]


@dataclass(kw_only=True, slots=True)
class SftConfig:
    """Supervised fine-tuning from a phase checkpoint (``hebatron sft-data``, ``hebatron sft``)."""

    data: SftDataConfig = field(default_factory=SftDataConfig)
    """How pairs become the tokenized set (``sft.data``)."""
    steps: int = 40
    """Optimizer steps of fine-tuning."""
    lr: float = 3e-4
    """Peak learning rate (a fresh AdamW: the pretraining optimizer state is not carried over)."""
    min_lr: float = 3e-5
    """Learning rate at the end of the decay."""
    warmup_fraction: float = 0.1
    """Share of the steps warming up from 0; the rest decays (cosine) to min_lr."""
    micro_batch_size: int | None = None
    """Packed sequences per forward/backward; None: the pretraining run's."""
    global_batch_size: int | None = None
    """Packed sequences per optimizer step; None: the pretraining run's."""
    eval_interval: int = 0
    """Also evaluate every this many steps (0: before fine-tuning and at the end only)."""
    exact_max_tokens: int = 24
    """Held-out pairs whose response is at most this many tokens are scored by exact match of the greedy
    translation (``he2en_exact``, ``en2he_exact``)."""
    save_interval: int = 0
    """Also checkpoint every this many steps (``checkpoints/step-N``, the latest kept) to resume from."""
    log_interval: int = 1
    """Steps between log lines and metrics records."""
    seed: int = 1234
    """Seeds dropout and the RNG streams of the fine-tuning run."""

    def __post_init__(self) -> None:
        for name in ("steps", "log_interval", "exact_max_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"sft.{name} must be a positive integer, got {value!r}")
        for name in ("micro_batch_size", "global_batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"sft.{name} must be a positive integer or null, got {value!r}")
        for name in ("eval_interval", "save_interval", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"sft.{name} must be a non-negative integer, got {value!r}")
        for name in ("lr", "min_lr", "warmup_fraction"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"sft.{name} must be a non-negative number, got {value!r}")
        if self.lr <= 0 or self.min_lr > self.lr or self.warmup_fraction > 1:
            raise ValueError("sft: lr must be positive and at least min_lr; warmup_fraction at most 1")
