"""``build_sft_set``: bilingual pairs → the supervised fine-tuning set in ``RUN/sft/``.

Pairs (the user's JSONL files and, with ``builtin``, the installed translators' catalogs; see
``shards.sft_pairs``) are checked, then exact duplicates (the same English or the same Hebrew, after case and
whitespace folding) and near-duplicates (MinHash LSH over character 5-grams of both sides, Jaccard ≥
``near_dup_threshold``) are removed, the first one seen kept. ``eval_pairs`` of the rest, chosen by a seeded
hash (the same pairs whatever order the inputs come in), are held out; a training pair that shares a side
with an eval pair, is a near-duplicate of one, or holds one side of one whole (three words or more: "Cannot open
the file" in "Cannot open the file: permission denied") is removed (``eval_overlap``).

Each training pair becomes two samples, one per direction, from the recipe's templates: the prompt (the
template filled with one side) and the response (the other side, then the end-of-document token). A sample is
``prompt + response`` tokens with a loss mask of 0 on the prompt and 1 on the response. Samples longer than a
packed sequence (``seq_length + 1`` tokens) are dropped (``too_long``). Samples are packed greedily, in a
seeded shuffled order, into sequences of at most ``seq_length + 1`` tokens; in Megatron's indexed format a
packed sequence is one document and each sample one sequence of it, so the boundaries stay in the ``.idx``.

Writes ``RUN/sft/train.{bin,idx}`` (tokens) and ``train-mask.{bin,idx}`` (the loss mask, uint8, the same
lengths), ``eval.jsonl`` (per held-out pair and direction: the prompt's and the response's token ids),
``sft.json`` (what train reads: tokenizer, pack length, counts) and ``stats.json`` (pairs read, kept and
dropped per reason and source). Built in a staging folder and moved into place; a re-run with the same inputs,
settings and tokenizer returns the existing summary.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
from loguru import logger

from common.errors import HebatronError
from common.files import file_sha256, run_lock, staging_dir, swap_into_place, write_json_atomic
from shards.sft_config import DIRECTIONS, SftDataConfig, read_sft_summary
from shards.sft_pairs import Pair, builtin_pairs, read_pairs_file
from shards.tokenizer import TextTokenizer, load_tokenizer

__all__ = ["DIRECTIONS", "SftDataConfig", "SftDataError", "build_sft_set", "read_sft_summary"]


class SftDataError(HebatronError, ValueError):
    """The SFT inputs cannot be used (no tokenizer, no pairs left); the message says what to do."""


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _key(text: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{_fold(text)}".encode()).hexdigest()


def _minhash(pair: Pair):
    from datasketch import MinHash

    text = f"{_fold(pair.en)} | {_fold(pair.he)}"
    m = MinHash(num_perm=64, seed=1)
    m.update_batch([text[i : i + 5].encode() for i in range(max(1, len(text) - 4))])
    return m


def _dedup(pairs: list[Pair], threshold: float, dropped: Counter) -> tuple[list[Pair], list]:
    """Pairs without exact (either side) and near duplicates, in input order; and their MinHashes."""
    from datasketch import MinHashLSH

    seen: set[str] = set()
    lsh = MinHashLSH(threshold=threshold, num_perm=64)
    kept, hashes = [], []
    for pair in pairs:
        sides = (f"en:{_fold(pair.en)}", f"he:{_fold(pair.he)}")
        if any(s in seen for s in sides):
            dropped["duplicate"] += 1
            continue
        m = _minhash(pair)
        if lsh.query(m):
            dropped["near_duplicate"] += 1
            continue
        seen.update(sides)
        lsh.insert(str(len(kept)), m)
        kept.append(pair)
        hashes.append(m)
    return kept, hashes


def _split(pairs: list[Pair], hashes: list, config: SftDataConfig, dropped: Counter) -> tuple[list[Pair], list[Pair]]:
    """(train, eval): the ``eval_pairs`` pairs of smallest seeded hash held out; overlapping train pairs removed."""
    from datasketch import MinHashLSH

    order = sorted(range(len(pairs)), key=lambda i: _key(pairs[i].en, config.seed))
    held = set(order[: config.eval_pairs])
    eval_set = [pairs[i] for i in sorted(held)]
    sides = {f"en:{_fold(p.en)}" for p in eval_set} | {f"he:{_fold(p.he)}" for p in eval_set}
    lsh = MinHashLSH(threshold=config.near_dup_threshold, num_perm=64)
    for i in held:
        lsh.insert(str(i), hashes[i])
    texts = [(_fold(p.en), _fold(p.he)) for p in eval_set]
    train = []
    for i, pair in enumerate(pairs):
        if i in held:
            continue
        en, he = _fold(pair.en), _fold(pair.he)
        if (
            f"en:{en}" in sides
            or f"he:{he}" in sides
            or lsh.query(hashes[i])
            or any(_contains(en, e) or _contains(he, h) for e, h in texts)
        ):
            dropped["eval_overlap"] += 1
            continue
        train.append(pair)
    return train, eval_set


def _contains(a: str, b: str) -> bool:
    """One text holds the other whole (a UI string and a longer message built around it), 3 words or more."""
    short, long = sorted((a, b), key=len)
    return len(short.split()) >= 3 and short in long


def _samples(pairs: list[Pair], tok: TextTokenizer, config: SftDataConfig) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, response ids + end of document) per pair and direction, in that order."""
    prompts, responses = [], []
    for pair in pairs:
        prompts += [config.templates["he2en"].format(he=pair.he), config.templates["en2he"].format(en=pair.en)]
        responses += [" " + pair.en, " " + pair.he]
    p_ids, r_ids = tok.encode_batch(prompts), tok.encode_batch(responses)
    return [(p, [*r, tok.eod_id]) for p, r in zip(p_ids, r_ids, strict=True)]


def _pack(samples: list[tuple[list[int], list[int]]], pack_length: int, seed: int) -> list[list[int]]:
    """Sample indices grouped greedily into sequences of at most ``pack_length`` tokens, in a seeded order."""
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    packs, current, used = [], [], 0
    for i in order:
        n = len(samples[i][0]) + len(samples[i][1])
        if used + n > pack_length and current:
            packs.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    return packs + ([current] if current else [])


def _write_train(prefix: Path, samples, packs, dtype) -> dict:
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    tokens = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
    masks = IndexedDatasetBuilder(f"{prefix}-mask.bin", dtype=np.uint8)
    total = response = 0
    for pack in packs:
        ids, mask, lengths = [], [], []
        for i in pack:
            prompt, answer = samples[i]
            ids += prompt + answer
            mask += [0] * len(prompt) + [1] * len(answer)
            lengths.append(len(prompt) + len(answer))
        tokens.add_document(np.asarray(ids, dtype=dtype), lengths)
        masks.add_document(np.asarray(mask, dtype=np.uint8), lengths)
        total += len(ids)
        response += sum(mask)
    tokens.finalize(f"{prefix}.idx")
    masks.finalize(f"{prefix}-mask.idx")
    return {"sequences": len(packs), "samples": sum(map(len, packs)), "tokens": total, "response_tokens": response}


def _run_tokenizer(run_dir: Path) -> TextTokenizer:
    path = run_dir / "shards" / "manifest.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))["tokenizer"]
        return load_tokenizer(run_dir / entry["path"])
    except (OSError, ValueError, KeyError, TypeError):
        found = sorted((run_dir / "tokenizer").glob("tokenizer.*")) if (run_dir / "tokenizer").is_dir() else []
        if not found:
            raise SftDataError(
                f"{run_dir}: no tokenizer (RUN/tokenizer/ or the shard manifest's); run `hebatron shard` first"
            ) from None
        return load_tokenizer(found[0])


def _fingerprint(inputs: list[Path], builtin: list[str], config: SftDataConfig, tok: TextTokenizer, pack: int) -> str:
    body = {
        "inputs": [(str(p), file_sha256(p)) for p in inputs],
        "builtin": [(c, file_sha256(c)) for c in builtin],
        "config": asdict(config),
        "tokenizer": tok.sha256,
        "pack_length": pack,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _read_inputs(inputs: list[Path], builtin: bool, min_words: int) -> tuple[list[Pair], dict, list[str]]:
    pairs: list[Pair] = []
    sources: dict[str, dict] = {}
    catalogs: list[str] = []
    if builtin:
        found, dropped, catalogs = builtin_pairs(min_words=min_words)
        pairs += found
        sources["builtin"] = {"read": len(found) + sum(dropped.values()), "dropped": dict(dropped)}
    for path in inputs:
        if not path.is_file():
            raise SftDataError(f"{path}: no such pairs file (JSONL with he/en or messages records)")
        dropped, read = Counter(), 0
        for pair, reason in read_pairs_file(path):
            read += 1
            if pair is None:
                dropped[reason] += 1
            else:
                pairs.append(pair)
        sources[str(path)] = {"read": read, "dropped": dict(dropped)}
        if dropped:
            logger.warning(f"{path}: {sum(dropped.values())} of {read} records dropped: {dict(dropped)}")
    return pairs, sources, catalogs


def build_sft_set(
    inputs: list[Path], run_dir: Path, *, builtin: bool = False, config: SftDataConfig, seq_length: int
) -> dict:
    """Write ``RUN/sft/`` (see the module docstring); returns ``stats.json``'s contents."""
    run_dir = Path(run_dir).resolve()
    inputs = [Path(p).resolve() for p in inputs]
    if not inputs and not builtin:
        raise SftDataError("no pairs: give JSONL pairs files, or --builtin for the installed catalogs")
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir):
        tok = _run_tokenizer(run_dir)
        pack_length = seq_length + 1
        pairs, sources, catalogs = _read_inputs(inputs, builtin, config.min_words)
        fingerprint = _fingerprint(inputs, catalogs, config, tok, pack_length)
        done = read_sft_summary(run_dir)
        if done is not None and done.get("fingerprint") == fingerprint:
            logger.info(f"{run_dir / 'sft'}: already up to date")
            return json.loads((run_dir / "sft" / "stats.json").read_text(encoding="utf-8"))
        dropped: Counter = Counter()
        unique, hashes = _dedup(pairs, config.near_dup_threshold, dropped)
        train, held = _split(unique, hashes, config, dropped)
        samples = _samples(train, tok, config)
        fitting = [s for s in samples if len(s[0]) + len(s[1]) <= pack_length]
        dropped["too_long"] += len(samples) - len(fitting)  # samples, not pairs: one direction may fit
        if not fitting:
            raise SftDataError(f"no training samples left of {len(pairs)} pairs (dropped: {dict(dropped)})")
        from megatron.core.datasets.indexed_dataset import DType

        dtype = DType.optimal_dtype(tok.vocab_size)
        with staging_dir(run_dir, "sft") as staging:
            counts = _write_train(staging / "train", fitting, _pack(fitting, pack_length, config.seed), dtype)
            eval_rows = [
                {"direction": DIRECTIONS[i % 2], "prompt": prompt, "response": response}
                for i, (prompt, response) in enumerate(_samples(held, tok, config))
            ]
            with open(staging / "eval.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(row) + "\n" for row in eval_rows)
            stats = {
                "pairs_read": sum(s["read"] for s in sources.values()),
                "pairs_valid": len(pairs),
                "pairs_train": len(train),
                "pairs_eval": len(held),
                "dropped": dict(sorted((dropped + _source_drops(sources)).items())),
                "sources": sources,
                "catalogs": len(catalogs),
                **counts,
            }
            summary = {
                "fingerprint": fingerprint,
                "tokenizer": {"name": tok.name, "vocab_size": tok.vocab_size, "eod": tok.eod_id, "sha256": tok.sha256},
                "pack_length": pack_length,
                "dtype": np.dtype(dtype).name,
                "templates": config.templates,
                "train": {"prefix": "train", "mask_prefix": "train-mask", **counts},
                "eval": {"path": "eval.jsonl", "pairs": len(held), "samples": len(eval_rows)},
            }
            write_json_atomic(staging / "stats.json", stats)
            write_json_atomic(staging / "sft.json", summary)
            swap_into_place(staging, run_dir / "sft")
    return stats


def _source_drops(sources: dict) -> Counter:
    total: Counter = Counter()
    for s in sources.values():
        total.update(s["dropped"])
    return total
