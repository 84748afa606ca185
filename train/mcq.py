"""A held-out Hebrew multiple-choice suite: pick the original sentence over a word-order-perturbed version.

Items are made from the HTB dev and test sentences (read from the installed treebank, never trained or tuned
on): each pairs one original with a version in which two adjacent words are swapped or one word is moved
elsewhere (minimal pairs, as in BLiMP), in an order drawn from a fixed suite seed (``SUITE_SEED``, independent
of the training seed, so every run and every seed sees the same items). Sentences with fewer than
``MIN_WORDS`` words are skipped.

Why pairs, not four options: every distractor is the original plus a perturbation, so the original sits in the
middle of its distractors. A model blind to word order but whose scores still move a little with it (any
neural LM) then beats each distractor half the time, and all three only an eighth of the time: with four
options "chance" is anywhere between 1/8 and 1/4, and a weak model scores below 1/4 (measured: 0.15-0.17 for
tiny-moe). With one distractor the two options are exchangeable for such a model, and chance is exactly 1/2.

An option is scored by the model's total log-likelihood of its tokens after an end-of-document token (in
windows of ``seq_length`` tokens when it is longer). The text is encoded with a leading space, so every word
is encoded the same wherever it stands (a byte-level BPE would otherwise encode the first word apart): all
options of an item then hold the same multiset of tokens, and no length normalisation is needed. ``he_acc``
is the share of items whose original scores highest; an item whose top score is shared by ``t`` options,
the original among them, counts ``1/t`` (the expected accuracy of breaking the tie at random), so a model
that cannot tell the options apart scores chance (``1/options``), not 0.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

__all__ = [
    "SUITE_SEED",
    "MIN_WORDS",
    "Item",
    "build_items",
    "heldout_sentences",
    "accuracy",
    "scored_text",
    "windows",
    "model_scorer",
    "run_suite",
]

#: Seeds the choice and perturbation of the suite's sentences; fixed, whatever ``train.seed`` is.
SUITE_SEED = 5501
#: Sentences shorter than this are too short to perturb into distinct versions.
MIN_WORDS = 4


@dataclass(frozen=True, slots=True)
class Item:
    """One question: ``options`` (one of them the original, at ``answer``)."""

    options: tuple[str, ...]
    answer: int


def heldout_sentences() -> list[str]:
    """The HTB dev and test sentences, in treebank order."""
    from common.sources import htb_sentences

    return [s.text for split in ("dev", "test") for s in htb_sentences(split)]


def build_items(sentences: Sequence[str], *, n: int, seed: int = SUITE_SEED, options: int = 2) -> list[Item]:
    """Up to ``n`` items from ``sentences`` (drawn in an order fixed by ``seed``); the same arguments always
    give the same items."""
    rng = random.Random(seed)
    order = list(range(len(sentences)))
    rng.shuffle(order)
    items = []
    for i in order:
        if len(items) >= n:
            break
        words = sentences[i].split()
        if len(words) < MIN_WORDS:
            continue
        original = " ".join(words)
        versions = _perturbations(words, rng, options - 1)
        if len(versions) < options - 1:
            continue
        texts = [original, *versions]
        rng.shuffle(texts)
        items.append(Item(tuple(texts), texts.index(original)))
    return items


def _perturbations(words: list[str], rng: random.Random, k: int) -> list[str]:
    """``k`` distinct texts, none equal to the original: two adjacent words swapped, or one word moved."""
    original = " ".join(words)
    found: list[str] = []
    for _ in range(20 * k):
        if len(found) == k:
            break
        w = list(words)
        i = rng.randrange(len(w))
        if rng.random() < 0.5:
            i = min(i, len(w) - 2)
            w[i], w[i + 1] = w[i + 1], w[i]
        else:
            word = w.pop(i)
            w.insert(rng.randrange(len(w) + 1), word)
        text = " ".join(w)
        if text != original and text not in found:
            found.append(text)
    return found


def scored_text(text: str) -> str:
    """The text as the model scores it: after a space, so its first word is encoded like any other."""
    return " " + text


def accuracy(items: Sequence[Item], score: Callable[[list[str]], list[float]]) -> float | None:
    """Share of ``items`` whose original gets the highest ``score`` (log-likelihood), an item whose top score
    ``t`` options share, the original among them, counting ``1/t``; ``score`` takes all options of all items at
    once. None without items, or where ``score`` gives
    None (a rank without the model's last pipeline stage)."""
    if not items:
        return None
    scores = score([t for item in items for t in item.options])
    if scores is None:
        return None
    right, at = 0, 0
    for item in items:
        mine = scores[at : at + len(item.options)]
        at += len(item.options)
        top = max(mine)
        if mine[item.answer] == top:
            right += 1 / sum(s == top for s in mine)
    return right / len(items)


def run_suite(run_dir: Path, manifest: dict, n: int) -> tuple[list[Item], Callable | None, str | None]:
    """``(items, encode, note)`` for a run: ``n`` items and the run's own tokenizer (``RUN/<manifest
    tokenizer path>``, checked against the manifest's sha256). Without the tokenizer file, or with ``n`` 0,
    there are no items and ``note`` says why ``he_acc`` is not evaluated."""
    if n == 0:
        return [], None, None
    entry = manifest.get("tokenizer") or {}
    path = run_dir / str(entry.get("path", ""))
    if not entry.get("path") or not path.is_file():
        return [], None, f"no tokenizer file in the manifest ({path}): he_acc is not evaluated"
    from shards.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(path)
    if entry.get("sha256") and tokenizer.sha256 != entry["sha256"]:
        return [], None, f"{path} is not the tokenizer the manifest records (sha256): he_acc is not evaluated"
    return build_items(heldout_sentences(), n=n), tokenizer.encode_batch, None


def model_scorer(
    model, encode: Callable[[list[str]], list[list[int]]], *, eod: int, seq_length: int, micro_batch: int, device
) -> Callable[[list[str]], list[float] | None]:
    """``texts -> total log-likelihood of each`` under a Megatron GPT ``model`` (through the pipeline
    schedule, so it works under tensor, pipeline and expert parallelism; every data-parallel rank scores all
    texts). Each text follows an end-of-document token; a text longer than ``seq_length`` tokens is scored in
    consecutive windows (every token once, the context restarting at each window). Returns None on ranks
    without the last pipeline stage."""

    @torch.no_grad()
    def score(texts: list[str]) -> list[float] | None:
        from megatron.core import parallel_state
        from megatron.core.pipeline_parallel import get_forward_backward_func

        rows, owners = windows(encode([scored_text(text) for text in texts]), eod=eod, seq_length=seq_length)
        rows += [[eod, eod]] * (-len(rows) % micro_batch)  # padding sequences, dropped below
        batches = [_batch(rows[i : i + micro_batch], seq_length, device) for i in range(0, len(rows), micro_batch)]
        model.eval()
        out = get_forward_backward_func()(
            forward_step_func=_forward_step,
            data_iterator=iter(batches),
            model=[model],
            num_microbatches=len(batches),
            seq_length=seq_length,
            micro_batch_size=micro_batch,
            decoder_seq_length=seq_length,
            forward_only=True,
        )
        model.train()
        if not parallel_state.is_pipeline_last_stage():
            return None
        losses = torch.cat([o["sequence loss"].float() for o in out])
        if parallel_state.get_context_parallel_world_size() > 1:  # each rank summed its chunks of a sequence
            torch.distributed.all_reduce(losses, group=parallel_state.get_context_parallel_group())
        losses = losses.cpu()[: len(owners)]
        totals = torch.zeros(len(texts), dtype=torch.float64).index_add_(0, torch.as_tensor(owners), losses.double())
        return [-float(x) for x in totals]

    return score


def windows(encoded: list[list[int]], *, eod: int, seq_length: int) -> tuple[list[list[int]], list[int]]:
    """``(rows, owners)``: each text's ``[eod, *ids]`` in rows of at most ``seq_length + 1`` tokens that
    overlap by one, so every token of the text is predicted exactly once; ``owners[r]`` is the text of row r."""
    rows, owners = [], []
    for t, ids in enumerate(encoded):
        full = [eod, *ids]
        for start in range(0, len(full) - 1, seq_length):
            rows.append(full[start : start + seq_length + 1])
            owners.append(t)
    return rows, owners


def _batch(rows: list[list[int]], seq_length: int, device) -> dict[str, torch.Tensor]:
    tokens = torch.zeros(len(rows), seq_length, dtype=torch.long)
    labels = torch.zeros_like(tokens)
    mask = torch.zeros(len(rows), seq_length, dtype=torch.float32)
    for r, ids in enumerate(rows):
        n = len(ids) - 1
        tokens[r, :n] = torch.as_tensor(ids[:-1])
        labels[r, :n] = torch.as_tensor(ids[1:])
        mask[r, :n] = 1.0
    position_ids = torch.arange(seq_length, dtype=torch.long).expand(len(rows), -1).contiguous()
    batch = {"tokens": tokens, "labels": labels, "loss_mask": mask, "position_ids": position_ids}
    return {k: v.to(device) for k, v in batch.items()}


def _loss_func(loss_mask: torch.Tensor, output_tensor: torch.Tensor):
    per_sequence = (output_tensor.float() * loss_mask).sum(dim=1)
    tokens = loss_mask.sum().to(torch.int)
    return per_sequence.sum(), tokens, {"sequence loss": per_sequence.detach()}


def _forward_step(data_iterator, model):
    from megatron.core.utils import get_batch_on_this_cp_rank

    batch = get_batch_on_this_cp_rank(next(data_iterator))  # this context-parallel rank's chunks (all if CP=1)
    output = model(batch["tokens"], batch["position_ids"], None, labels=batch["labels"])
    return output, partial(_loss_func, batch["loss_mask"])
