"""A tiny synthetic run directory in the trainer's input format (``RUN/tokens``, ``RUN/shards/manifest.json``).

"Hebrew" and "English" are two first-order Markov chains over disjoint token ranges; phase k's Hebrew is
easier (fewer likely successors per token) than phase k+1's, so the curriculum has an easy-to-hard order
to learn. Files are written with megatron-core's ``IndexedDatasetBuilder``, each document ending in EOD.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VOCAB = 500
EOD = 0
HE = (10, 250)
EN = (250, 490)
BRANCHING = {1: 2, 2: 4, 3: 8}


def _chain(rng: np.random.Generator, lo: int, hi: int, branching: int) -> np.ndarray:
    return rng.integers(lo, hi, size=(hi - lo, branching))


def _docs(rng, table, lo: int, n_docs: int, length: tuple[int, int]) -> list[np.ndarray]:
    docs = []
    for _ in range(n_docs):
        n = int(rng.integers(*length))
        tok = int(rng.integers(lo, lo + len(table)))
        out = [tok]
        for _ in range(n - 1):
            tok = int(table[tok - lo, rng.integers(table.shape[1])])
            out.append(tok)
        docs.append(np.asarray([*out, EOD], dtype=np.uint16))
    return docs


def _write(prefix: Path, docs: list[np.ndarray], dtype=np.uint16) -> int:
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    prefix.parent.mkdir(parents=True, exist_ok=True)
    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
    for doc in docs:
        builder.add_document(doc.astype(dtype), [doc.size])
    builder.finalize(f"{prefix}.idx")
    return int(sum(d.size for d in docs))


def make_run(
    run: Path,
    *,
    docs_per_phase: int = 60,
    length: tuple[int, int] = (20, 120),
    seed: int = 0,
    anchor_ratio: tuple[float, float, float] = (0.3, 0.2, 0.1),
    dtype=np.uint16,
) -> Path:
    rng = np.random.default_rng(seed)
    tables = {k: _chain(rng, *HE, b) for k, b in BRANCHING.items()}
    english = _chain(rng, *EN, 4)
    phases = {}
    for k in (1, 2, 3):
        he = _docs(rng, tables[k], HE[0], docs_per_phase, length)
        ratio = anchor_ratio[k - 1]
        n_en = max(1, round(docs_per_phase * ratio / (1 - ratio))) if ratio else 0
        en = _docs(rng, english, EN[0], n_en, length)
        he_tokens = _write(run / "tokens" / f"phase-{k}" / "hebrew", he, dtype)
        en_tokens = _write(run / "tokens" / f"phase-{k}" / "anchor", en, dtype)
        phases[str(k)] = {
            "anchor_ratio": ratio,
            "hebrew": {"documents": len(he), "tokens": he_tokens},
            "anchor": {"documents": len(en), "tokens": en_tokens},
        }
    eval_he = [d for k in (1, 2, 3) for d in _docs(rng, tables[k], HE[0], 8, length)]
    _write(run / "tokens" / "eval" / "he", eval_he, dtype)
    _write(run / "tokens" / "eval" / "en", _docs(rng, english, EN[0], 24, length), dtype)
    manifest = {
        "phases": phases,
        "tokenizer": {"name": "synthetic", "vocab_size": VOCAB, "eod": EOD, "sha256": "0" * 64},
    }
    (run / "shards").mkdir(parents=True, exist_ok=True)
    (run / "shards" / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return run
