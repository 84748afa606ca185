"""The learning-rate schedule of a run (``train.lr_schedule``), as Megatron's ``OptimizerParamScheduler``.

- ``wsd``: one warmup-stable-decay schedule over all the steps of all phases (warmup and decay are
  ``warmup_fraction`` and ``decay_fraction`` of the total), so the decay falls on whichever phase comes last.
- ``wsd-per-phase``: each phase runs the same shape over its own steps: it warms up again from 0, holds the
  peak and decays to ``min_lr`` by its end.
- ``constant``: the warmup of ``wsd``, then the peak rate to the end (no decay).

``lr_at`` is the rate as a pure function of the scheduler's step count; ``build_scheduler`` the scheduler the
training loop steps (for ``wsd`` and ``constant`` Megatron's own, for ``wsd-per-phase`` Megatron's with
``get_lr`` taken from ``lr_at``). As in Megatron, the optimizer step numbered ``s`` (from 1) uses the rate of
step count ``s - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from train.config import TrainConfig

__all__ = ["build_scheduler", "lr_at", "segments"]


def segments(train: TrainConfig, phase_steps: Sequence[int]) -> list[int]:
    """The stretches of steps that each run one schedule: all the steps at once, or each phase's own
    (``phase_steps``: the steps of each phase, in training order)."""
    if train.lr_schedule == "wsd-per-phase":
        return [int(n) for n in phase_steps]
    return [int(sum(phase_steps))]


def lr_at(train: TrainConfig, num_steps: int, phase_steps: Sequence[int]) -> float:
    """The learning rate after ``num_steps`` scheduler steps (Megatron's formulas: linear warmup from 0,
    then the peak, then ``train.decay_style`` down to ``min_lr``)."""
    spans = segments(train, phase_steps)
    local, total = num_steps, spans[-1]
    for span in spans:
        if local < span:
            total = span
            break
        local -= span
    else:
        local += spans[-1]  # past the end: the last stretch's end
    warmup, decay = train.wsd_steps(total)
    if warmup > 0 and local <= warmup:
        return train.lr * local / warmup
    if train.lr_schedule == "constant":
        return train.lr
    if local > total:
        return train.min_lr
    anneal_start = total - decay
    if local <= anneal_start:
        return train.lr
    ratio = (local - anneal_start) / decay
    coeff = {
        "linear": lambda r: 1.0 - r,
        "cosine": lambda r: 0.5 * (math.cos(math.pi * r) + 1.0),
        "exponential": lambda r: 2.0 * math.pow(0.5, r) - 1.0,
        "minus_sqrt": lambda r: 1.0 - math.sqrt(r),
    }[train.decay_style](ratio)
    return train.min_lr + coeff * (train.lr - train.min_lr)


def build_scheduler(optimizer, train: TrainConfig, phase_steps: Sequence[int]):
    """The scheduler for ``optimizer`` (anything with ``param_groups``) under ``train.lr_schedule``, over
    ``phase_steps`` (the steps of each phase, in training order)."""
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

    total = int(sum(phase_steps))
    warmup, decay = train.wsd_steps(total)
    style = {"wsd": "WSD", "constant": "constant", "wsd-per-phase": "WSD"}[train.lr_schedule]
    cls = OptimizerParamScheduler
    if train.lr_schedule == "wsd-per-phase":

        class PerPhaseScheduler(OptimizerParamScheduler):
            """Megatron's scheduler, its rate restarted in each phase (``lr_at``)."""

            def get_lr(self, param_group: dict) -> float:
                return lr_at(train, self.num_steps, phase_steps)

        cls = PerPhaseScheduler
    return cls(
        optimizer,
        init_lr=0.0,
        max_lr=train.lr,
        min_lr=train.min_lr,
        lr_warmup_steps=warmup,
        lr_decay_steps=total,
        lr_decay_style=style,
        wsd_decay_steps=decay,
        lr_wsd_decay_style=train.decay_style,
        start_wd=train.weight_decay,
        end_wd=train.weight_decay,
        wd_incr_steps=total,
        wd_incr_style="constant",
    )
