"""Epoch accounting: how many of a phase's tokens the trainer sees, and how many steps each phase gets.

A phase holds ``tokens_available`` tokens: the Hebrew plus the anchor tokens of ``RUN/tokens/phase-k/`` that
its blend draws from (the trainer's BPE tokens, end-of-document tokens included; a role the blend leaves out,
such as an anchor with ratio 0, is not counted). These are not the reference LM's SentencePiece pieces that
``hebatron shard`` balances the phases in. A phase trains ``tokens_trained = steps x global_batch_size x
seq_length`` tokens (the predicted positions: each sample reads ``seq_length + 1`` tokens and predicts
``seq_length``), Hebrew and anchor together, in the blend's shares. ``epochs = tokens_trained /
tokens_available``: above 1, Megatron repeats the phase's data. Under ``shuffled`` order a slot draws from all
three phases, but the blend weights phase k by its share of the steps, so phase k's data is trained the same
``tokens_trained`` over the whole run; its record is written after the slot labelled k.

``equal`` gives every phase ``steps_per_phase`` steps; ``proportional`` divides the same total among the
phases in proportion to their ``tokens_available`` (``split_steps``). Pure Python: testable without torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["split_steps", "phase_steps", "data_record", "epoch_warning"]


def split_steps(tokens: Mapping[int, int], total: int) -> dict[int, int]:
    """``total`` steps divided among the phases in proportion to ``tokens`` (phase -> tokens it holds).

    Every phase gets at least 1 step and the steps sum to ``total`` exactly. Rounding is by largest remainder:
    each phase first gets the whole part of its quota ``total x tokens / sum(tokens)`` (at least 1); the steps
    left go one each to the phases with the largest remaining fraction; steps over (from the minimum of 1) are
    taken one each from the phases whose count most exceeds their quota, never below 1. Ties go to the lower
    phase number. Raises ``ValueError`` when ``total`` is below the number of phases or no phase holds tokens.
    """
    phases = sorted(tokens)
    if total < len(phases):
        raise ValueError(f"{total} steps cannot give each of the {len(phases)} phases a step")
    if any(t < 0 for t in tokens.values()) or sum(tokens.values()) <= 0:
        raise ValueError(f"the phases hold no tokens to divide {total} steps by: {dict(tokens)}")
    whole = sum(tokens.values())
    quota = {k: total * tokens[k] / whole for k in phases}
    steps = {k: max(1, math.floor(quota[k])) for k in phases}
    while (left := total - sum(steps.values())) != 0:
        if left > 0:
            k = max(phases, key=lambda p: (quota[p] - steps[p], -p))
            steps[k] += 1
        else:
            k = max((p for p in phases if steps[p] > 1), key=lambda p: (steps[p] - quota[p], -p))
            steps[k] -= 1
    return steps


def phase_steps(mode: str, steps_per_phase: int, tokens: Mapping[int, int]) -> dict[int, int]:
    """Steps per phase under ``train.tokens_per_phase`` (``equal`` or ``proportional``)."""
    if mode == "equal":
        return {k: steps_per_phase for k in sorted(tokens)}
    if mode == "proportional":
        return split_steps(tokens, len(tokens) * steps_per_phase)
    raise ValueError(f"tokens_per_phase must be 'equal' or 'proportional', got {mode!r}")


def data_record(
    phase: int,
    *,
    steps: int,
    global_batch_size: int,
    seq_length: int,
    tokens_available: int,
    anchor_ratio: float | None = None,
) -> dict:
    """The ``{"kind": "data", ...}`` record of one phase (see the module docstring for what is counted);
    ``anchor_ratio``: the English share the phase's blend draws."""
    trained = steps * global_batch_size * seq_length
    record = {
        "kind": "data",
        "phase": phase,
        "steps": steps,
        "tokens_trained": trained,
        "tokens_available": tokens_available,
        "epochs": trained / tokens_available if tokens_available else None,
    }
    return record if anchor_ratio is None else record | {"anchor_ratio": anchor_ratio}


def epoch_warning(record: dict, threshold: float) -> str | None:
    """The one-line warning for a phase whose data repeats more than ``threshold`` times, else None."""
    epochs = record.get("epochs")
    if epochs is None or epochs <= threshold:
        return None
    return (
        f"phase {record['phase']} trains {epochs:.2f} epochs of its data ({record['tokens_trained']:,} tokens "
        f"trained, {record['tokens_available']:,} held), above train.max_epochs_warning {threshold:g}: use "
        f"--tokens-per-phase proportional, fewer steps, or more data"
    )
