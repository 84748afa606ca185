"""ShardConfig validation: clear ValueErrors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shards.config import ShardConfig


def test_defaults() -> None:
    cfg = ShardConfig()
    assert cfg.anchor_ratio == (0.3, 0.2, 0.1)
    assert cfg.seed == 0 and cfg.allow_repeat is False and cfg.tokenizer is None and cfg.vocab_size == 16000


def test_ratio_normalized_to_floats() -> None:
    cfg = ShardConfig(anchor_ratio=[0, 0.5, 0.25], tokenizer="x/tokenizer.json")
    assert cfg.anchor_ratio == (0.0, 0.5, 0.25)
    assert cfg.tokenizer == Path("x/tokenizer.json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"anchor_ratio": (0.3, 0.2)}, "three shares"),
        ({"anchor_ratio": (0.3, 1.0, 0.1)}, "phase 2 must be in \\[0, 1\\)"),
        ({"anchor_ratio": (-0.1, 0.2, 0.1)}, "phase 1 must be in \\[0, 1\\)"),
        ({"anchor_ratio": (0.3, 0.2, float("nan"))}, "phase 3"),
        ({"anchor_ratio": ("a", 0.2, 0.1)}, "must be numbers"),
        ({"shard_rows": 0}, "shard_rows must be a positive integer"),
        ({"shard_rows": 1.5}, "shard_rows"),
        ({"vocab_size": 100}, "vocab_size must be at least 300"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"allow_repeat": "yes"}, "allow_repeat"),
        ({"tokenizer": "vocab.txt"}, "tokenizer.json .* SentencePiece"),
    ],
)
def test_invalid(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        ShardConfig(**kwargs)
