"""The SFT set of ``hebatron sft-data`` (``RUN/sft/``) as the samples the trainer's step functions take.

A training item is one packed sequence: its samples' tokens, each sample's positions counted from 0, an
attention mask that keeps every sample to itself (causal within the sample, nothing across a boundary: the
packing does not let one pair see another) and a loss mask that is 1 only where the label is a response token
(the prompt is never a target). Items are ``pack_length - 1`` tokens long, padded with the end-of-document
token (loss mask 0, a padding segment of its own). Indexing wraps around: a run longer than one epoch
repeats the packed sequences in the same order.

An evaluation item is one held-out sample alone, in the same layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from common.errors import HebatronError
from shards.sft_config import DIRECTIONS, read_sft_summary

__all__ = ["MissingSftSet", "PackedSft", "EvalSamples", "load_sft_set", "layout_row"]


class MissingSftSet(HebatronError, FileNotFoundError):
    """The run has no SFT set (run ``hebatron sft-data``), or it is incomplete."""


def layout_row(segments: list[tuple[list[int], list[int]]], length: int, eod: int) -> dict[str, torch.Tensor]:
    """``segments`` (token ids, loss mask per token) packed into one item of ``length`` inputs."""
    ids, mask, seg, pos = [], [], [], []
    for k, (tokens, m) in enumerate(segments):
        ids += tokens
        mask += m
        seg += [k] * len(tokens)
        pos += range(len(tokens))
    pad = length + 1 - len(ids)
    if pad < 0:
        raise ValueError(f"a packed sequence of {len(ids)} tokens does not fit {length + 1}")
    ids += [eod] * pad
    mask += [0] * pad
    seg += [len(segments)] * pad
    pos += range(pad)
    seg_t = torch.as_tensor(seg[:-1])
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    allowed = causal & (seg_t[:, None] == seg_t[None, :])
    return {
        "tokens": torch.as_tensor(ids[:-1], dtype=torch.long),
        "labels": torch.as_tensor(ids[1:], dtype=torch.long),
        "loss_mask": torch.as_tensor(mask[1:], dtype=torch.float32),
        "position_ids": torch.as_tensor(pos[:-1], dtype=torch.long),
        "attention_mask": (~allowed).unsqueeze(0),  # Megatron's convention: True = masked out
    }


class PackedSft:
    """``RUN/sft/train`` and ``train-mask``: item i is packed sequence ``i mod len``."""

    def __init__(self, folder: Path, summary: dict, seq_length: int) -> None:
        from megatron.core.datasets.indexed_dataset import IndexedDataset

        self.tokens = IndexedDataset(str(folder / summary["train"]["prefix"]))
        self.masks = IndexedDataset(str(folder / summary["train"]["mask_prefix"]))
        self.bounds = np.asarray(self.tokens.document_indices)
        if len(self.masks) != len(self.tokens):
            raise MissingSftSet(f"{folder}: train and train-mask hold different samples; re-run `hebatron sft-data`")
        self.seq_length, self.eod = seq_length, int(summary["tokenizer"]["eod"])
        if int(summary["pack_length"]) > seq_length + 1:
            raise MissingSftSet(
                f"{folder}: sequences were packed to {summary['pack_length']} tokens but the model takes "
                f"{seq_length + 1}; re-run `hebatron sft-data` with this model's recipe"
            )

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i %= len(self)
        segments = [
            (self.tokens[s].astype(np.int64).tolist(), self.masks[s].astype(np.int64).tolist())
            for s in range(int(self.bounds[i]), int(self.bounds[i + 1]))
        ]
        return layout_row(segments, self.seq_length, self.eod)


class EvalSamples:
    """One direction's held-out samples that fit one sequence, each alone in an item (wrapping around)."""

    def __init__(self, rows: list[dict], seq_length: int, eod: int) -> None:
        self.rows = [r for r in rows if len(r["prompt"]) + len(r["response"]) <= seq_length + 1]
        self.seq_length, self.eod = seq_length, eod

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        r = self.rows[i % len(self.rows)]
        return layout_row(
            [(r["prompt"] + r["response"], [0] * len(r["prompt"]) + [1] * len(r["response"]))],
            self.seq_length,
            self.eod,
        )


def load_sft_set(run_dir: Path, seq_length: int) -> tuple[dict, PackedSft, dict[str, EvalSamples]]:
    """(``sft.json``, the training set, the evaluation samples per direction) of ``RUN/sft/``."""
    summary = read_sft_summary(run_dir)
    folder = Path(run_dir) / "sft"
    if summary is None:
        raise MissingSftSet(f"{folder / 'sft.json'} not found: run `hebatron sft-data PAIRS... -o {run_dir}` first")
    try:
        lines = (folder / summary["eval"]["path"]).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError, KeyError) as e:
        raise MissingSftSet(f"{folder}: the held-out pairs cannot be read ({e}); re-run `hebatron sft-data`") from None
    eod = int(summary["tokenizer"]["eod"])
    evals = {d: EvalSamples([r for r in rows if r.get("direction") == d], seq_length, eod) for d in DIRECTIONS}
    return summary, PackedSft(folder, summary, seq_length), evals
