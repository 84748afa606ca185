"""The phases' shares of the trainer's tokens and of the reference LM's pieces are named and shown apart."""

from __future__ import annotations

import pytest

from hebatron.tables import hebrew_shares, lm_pieces, print_shards


def _manifest(he_tokens):
    phases = {
        str(k): {
            "files": [],
            "hebrew": {"documents": 1, "tokens": t, "repeated": 0},
            "anchor": {"documents": 1, "tokens": 10, "repeated": 0},
            "anchor_ratio": 0.1,
        }
        for k, t in zip((1, 2, 3), he_tokens, strict=True)
    }
    return {"phases": phases, "tokenizer": {"name": "bpe"}}


def test_shares_of_tokens_and_of_pieces_differ_where_the_tokenizers_do():
    # balanced thirds in LM pieces, but pointed text in phase 3 takes twice the BPE tokens per piece
    cut = {"phases": {str(k): {"lm_pieces": 100} for k in (1, 2, 3)}}
    shares = hebrew_shares(_manifest([100, 100, 200]), cut)
    assert shares["1"] == pytest.approx((0.25, 1 / 3)) and shares["3"] == pytest.approx((0.5, 1 / 3))
    # cutoffs.json written before the key was named apart: its "tokens" are the LM's pieces
    old = {"phases": {str(k): {"tokens": p} for k, p in zip((1, 2, 3), (50, 30, 20), strict=True)}}
    assert [lm_pieces(p) for p in old["phases"].values()] == [50, 30, 20]
    assert hebrew_shares(_manifest([1, 1, 2]), old)["1"] == pytest.approx((0.25, 0.5))
    assert hebrew_shares(_manifest([1, 1, 2]), None)["3"] == (0.5, None)


def test_stats_table_shows_both_shares(capsys):
    from hebatron.tables import console

    console.width = 250
    print_shards(_manifest([100, 100, 200]), {"phases": {str(k): {"lm_pieces": 100} for k in (1, 2, 3)}})
    out = capsys.readouterr().out
    assert "he token share" in out and "LM piece share" in out
    assert "0.500" in out and "0.333" in out
