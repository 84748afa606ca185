"""How a scored run is cut into per-phase shards mixed with English anchor text."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ShardConfig"]


@dataclass(kw_only=True, slots=True)
class ShardConfig:
    """Anchor mixture, shard size, shuffling and the tokenizer that counts tokens."""

    anchor_ratio: tuple[float, float, float] = (0.3, 0.2, 0.1)
    """English anchor share of each phase's tokens (phase 1, 2, 3), each in [0, 1): continuous anchoring."""
    shard_rows: int = 20_000
    """Rows (documents) per shard file; every shard of a phase holds exactly this many but the last."""
    seed: int = 0
    heldout_anchor_share: float = 0.05
    """Share of the anchor documents (seeded, at most 1,000) kept out of every phase as held-out English for
    evaluation (`RUN/shards/eval/anchor.parquet`)."""
    """Seeds the anchor draw and the row shuffle: same input + seed, byte-identical shards."""
    allow_repeat: bool = False
    """When the anchor pool has fewer tokens than the phases need, repeat anchors (recorded per phase as
    ``repeated``) instead of failing."""
    tokenizer: Path | None = None
    """A ``tokenizer.json`` (HF tokenizers) or SentencePiece ``.model``; ``None`` trains a byte-level BPE on
    the run's Hebrew plus the anchor text (``RUN/tokenizer/tokenizer.json``)."""
    vocab_size: int = 16_000
    """Vocabulary of the trained BPE (ignored when ``tokenizer`` is given)."""
    tokenizer_sample_chars: int = 200_000_000
    """Training the BPE reads at most about this many characters of Hebrew and as many of anchor text
    (a seeded sample of documents when the inputs are larger)."""
    rehydrate: bool | str = False
    """FineWeb-2's rehydration (``curation.rehydration``): repeat each curated document by the weight of its
    cluster size before filtering. ``true`` (or ``run``): weights from this run's own removal rates per size;
    a preset name (``fineweb2-heb``, ``fineweb2-heb-3`` … ``-10``): FineWeb-2's published heb_Hebr weights.
    Off by default."""
    rehydrate_max_repetitions: int = 5
    """Most repetitions of a document when the weights come from the run itself (FineWeb-2 publishes 3..10)."""
    decontaminate: tuple[str, ...] = ()
    """Decontamination index folders (`hebatron decont-index`) or benchmark JSONL files: a curated document
    holding one of their n-grams is left out of every phase (``shards/decontaminated.parquet``, in ``excluded``)."""
    audit: tuple[str, ...] = ()
    """More indexes or benchmark files to report overlap with (manifest ``contamination``) without removing
    anything; the held-out eval sets (``eval-he``, ``eval-en``) are always audited."""

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.heldout_anchor_share) < 0.5:
            raise ValueError(f"heldout_anchor_share must be in [0, 0.5), got {self.heldout_anchor_share!r}")
        ratio = tuple(self.anchor_ratio)
        if len(ratio) != 3:
            raise ValueError(f"anchor_ratio must be three shares (phase 1, 2, 3), got {self.anchor_ratio!r}")
        try:
            ratio = tuple(float(r) for r in ratio)
        except (TypeError, ValueError):
            raise ValueError(f"anchor_ratio must be numbers, got {self.anchor_ratio!r}") from None
        for k, r in enumerate(ratio, 1):
            if not (math.isfinite(r) and 0.0 <= r < 1.0):
                raise ValueError(
                    f"anchor_ratio for phase {k} must be in [0, 1), got {r!r} "
                    "(it is the anchor share of the phase's tokens)"
                )
        self.anchor_ratio = ratio  # type: ignore[assignment]
        for name in ("shard_rows", "vocab_size", "tokenizer_sample_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.vocab_size < 300:
            raise ValueError(f"vocab_size must be at least 300 (256 bytes + merges + specials), got {self.vocab_size}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.allow_repeat, bool):
            raise ValueError(f"allow_repeat must be true or false, got {self.allow_repeat!r}")
        self._check_rehydrate()
        for name in ("decontaminate", "audit"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str | Path) for v in value):
                raise ValueError(f"{name} must be a list of index folders or benchmark files, got {value!r}")
            setattr(self, name, tuple(str(v) for v in value))
        if self.tokenizer is not None:
            self.tokenizer = Path(self.tokenizer)
            if self.tokenizer.suffix not in (".json", ".model"):
                raise ValueError(
                    f"tokenizer must be a tokenizer.json (HF tokenizers) or a SentencePiece "
                    f".model file, got {self.tokenizer}"
                )

    def _check_rehydrate(self) -> None:
        from curation.rehydration import PRESETS

        if self.rehydrate == "run":
            self.rehydrate = True
        if not isinstance(self.rehydrate, bool) and self.rehydrate not in PRESETS:
            raise ValueError(
                f"rehydrate must be true, false, run or a preset ({', '.join(PRESETS)}), got {self.rehydrate!r}"
            )
        m = self.rehydrate_max_repetitions
        if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 100:
            raise ValueError(f"rehydrate_max_repetitions must be an integer from 1 to 100, got {m!r}")
