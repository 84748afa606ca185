"""The anchor draw and the shuffle: which anchor documents go to which phase, and where every row lands.

Pure functions over token counts (no text), so they are cheap to test.

**Anchor target.** A phase with ``H`` Hebrew tokens and anchor share ``r`` needs ``T = round(r / (1 - r) * H)``
anchor tokens, so that ``T / (H + T) = r``. Token counts include the end-of-document token every document
gets in the Megatron files, so the manifest, the ``.bin`` files and the blend all count the same thing.

**Draw.** The anchor pool is put in a seeded random order once. Phases draw in order 1, 2, 3, each walking
the not-yet-used documents in that order and taking every document that still fits into the remaining gap
(documents too large for the gap stay in the pool for the next phase), until the gap is within ``slack``
(a twentieth of the ±0.02 tolerance, in tokens). If documents run out first, the one document whose size is
closest to the gap is taken when that brings the total closer. Documents are therefore drawn without
replacement across phases. When the pool is exhausted and ``allow_repeat`` is set, a new round of the whole
pool (a new seeded order) is appended and drawing goes on; copies from round ``c`` are marked ``copy = c``
and counted as ``repeated``. Without ``allow_repeat`` an exhausted pool is an error that says how many tokens
are missing. Every phase is checked against the tolerance at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.errors import HebatronError

__all__ = [
    "RATIO_TOLERANCE",
    "AnchorPoolTooSmall",
    "MixError",
    "PhaseDraw",
    "anchor_target",
    "draw_anchors",
    "shuffle_positions",
]

RATIO_TOLERANCE = 0.02


class MixError(HebatronError, ValueError):
    """The anchor mixture cannot be realized as configured."""


class AnchorPoolTooSmall(MixError):
    def __init__(self, message: str, missing_tokens: int) -> None:
        super().__init__(message)
        self.missing_tokens = missing_tokens


@dataclass(slots=True)
class PhaseDraw:
    phase: int
    target: int
    """Anchor tokens the ratio asks for."""
    anchors: list[int]
    """Pool indices in draw order."""
    copies: list[int]
    """1 for a document's first use, c for its use in repeat round c."""
    tokens: int

    @property
    def repeated(self) -> int:
        return sum(1 for c in self.copies if c > 1)


def anchor_target(hebrew_tokens: int, ratio: float) -> int:
    return round(ratio / (1.0 - ratio) * hebrew_tokens) if ratio > 0 else 0


def _order(n: int, seed: int, round_: int) -> list[int]:
    return np.random.default_rng([seed, 0xA7C, round_]).permutation(n).tolist()


def draw_anchors(
    pool_tokens: np.ndarray, hebrew_tokens: Sequence[int], ratios: Sequence[float], *, seed: int, allow_repeat: bool
) -> list[PhaseDraw]:
    """Draw anchor documents for each phase (see the module docstring). ``pool_tokens[i]``: tokens of
    pool document ``i``; ``hebrew_tokens[k]``, ``ratios[k]``: phase ``k + 1``. Raises ``AnchorPoolTooSmall``
    (with ``missing_tokens``) or ``MixError``."""
    tokens = np.asarray(pool_tokens, dtype=np.int64)
    n = len(tokens)
    rounds = 1
    queue: list[tuple[int, int]] = [(i, 1) for i in _order(n, seed, 1)]  # (pool index, copy), unused so far
    draws: list[PhaseDraw] = []
    missing = 0
    for k, (hebrew, ratio) in enumerate(zip(hebrew_tokens, ratios, strict=True), 1):
        target = anchor_target(int(hebrew), float(ratio))
        slack = int(RATIO_TOLERANCE / 20 * (hebrew + target))
        draw = PhaseDraw(k, target, [], [], 0)
        gap = target
        while True:
            rest: list[tuple[int, int]] = []
            for item in queue:
                t = int(tokens[item[0]])
                if gap > slack and t <= gap:
                    draw.anchors.append(item[0])
                    draw.copies.append(item[1])
                    gap -= t
                else:
                    rest.append(item)
            queue = rest
            if gap <= slack or not allow_repeat or n == 0 or int(tokens.min()) > gap:
                break
            rounds += 1  # pool exhausted for this gap: a new round of every document
            queue += [(i, rounds) for i in _order(n, seed, rounds)]
        if gap > slack and queue:  # nothing fits any more: one document past the gap, if that is closer
            best = min(range(len(queue)), key=lambda j: (abs(int(tokens[queue[j][0]]) - gap), j))
            t = int(tokens[queue[best][0]])
            if abs(t - gap) < gap:
                draw.anchors.append(queue[best][0])
                draw.copies.append(queue[best][1])
                gap -= t
                del queue[best]
        draw.tokens = target - gap
        if gap > slack and not allow_repeat and not queue:
            missing += gap
        draws.append(draw)

    if missing:
        need = sum(d.target for d in draws)
        raise AnchorPoolTooSmall(
            f"anchor pool too small: the phases need {need:,} anchor tokens "
            f"({', '.join(f'phase {d.phase}: {d.target:,}' for d in draws)}) but the anchor files hold "
            f"{int(tokens.sum()):,}; {missing:,} tokens missing. Add anchor text, lower the anchor ratio, "
            "or allow repeats (allow_repeat / --allow-repeat)",
            missing,
        )
    for d, hebrew, ratio in zip(draws, hebrew_tokens, ratios, strict=True):
        total = hebrew + d.tokens
        realized = d.tokens / total if total else 0.0
        if hebrew and abs(realized - ratio) > RATIO_TOLERANCE:
            raise MixError(
                f"phase {d.phase}: anchor share {realized:.4f} is more than {RATIO_TOLERANCE} from "
                f"{ratio} ({d.tokens:,} of the {d.target:,} anchor tokens wanted): the anchor "
                "documents are too large for this phase's size; give smaller anchor documents"
            )
    return draws


def shuffle_positions(n_rows: int, seed: int, phase: int) -> np.ndarray:
    """``positions[row]``: where row ``row`` of a phase lands in its shuffled output (a seeded permutation)."""
    order = np.random.default_rng([seed, 0x5A4D, phase]).permutation(n_rows)
    positions = np.empty(n_rows, dtype=np.int64)
    positions[order] = np.arange(n_rows, dtype=np.int64)
    return positions
