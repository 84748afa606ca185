"""Decontamination index size and filter throughput, for an index of about a million n-grams.

    .venv/bin/python benchmarks/bench_decont.py [--ngrams 1000000] [--docs 2000] [--repeat 3]

The benchmark text is synthetic Hebrew: records of 120 words drawn by frequency from ``wordfreq``'s Hebrew list
(seeded), enough records for ``--ngrams`` distinct 12-grams. The documents filtered are real news: HTB train
sentences, 10 to a document, cycled up to ``--docs``; every tenth document has one benchmark record planted in it
(so the filter finds something, as it would on a contaminated crawl).

Measured, one process, one thread, best of ``--repeat``:
  build        ``build_index`` (read JSONL, canonical words, hash, write datatrove's ``*.index.hashes``)
  index        bytes on disk; resident bytes of the loaded index (``DecontIndex``: one sorted uint64 array +
               a task number per hash) and of datatrove's own ``NGramsDecontFilter`` index (a dict hash → task)
  load         seconds to load the index, each way
  filter       documents/s and words/s: ``DecontFilter.filter`` (ours) and datatrove's ``NGramsDecontFilter.filter``
               given the same canonical tokenizer (the baseline), on the same documents; plus
               ``canonical_words`` alone, the share of the time the Hebrew normalization takes.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def traced(fn):
    tracemalloc.start()
    out = fn()
    _, peak = tracemalloc.get_traced_memory()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return out, size, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ngrams", type=int, default=1_000_000)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from datatrove.data import Document
    from datatrove.pipeline.decont import NGramsDecontFilter
    from wordfreq import top_n_list, word_frequency

    from common.sources import htb_train_sentences
    from curation.decont.canon import CanonicalTokenizer, canonical_words
    from curation.decont.index import DecontIndex, build_index, decont_config
    from curation.decont.steps import DecontFilter

    rng = np.random.default_rng(16)
    vocab = top_n_list("he", 50_000)
    p = np.array([word_frequency(w, "he") for w in vocab])
    p /= p.sum()
    words_per_record = 120
    n_records = -(-args.ngrams // (words_per_record - 11))
    drawn = rng.choice(len(vocab), size=(n_records, words_per_record), p=p)
    records = [" ".join(vocab[j] for j in row) for row in drawn]

    sents = [s.text for s in htb_train_sentences()]
    docs = [" ".join(sents[(i * 10 + j) % len(sents)] for j in range(10)) for i in range(args.docs)]
    for i in range(0, len(docs), 10):
        docs[i] = docs[i] + " " + records[i % len(records)]
    n_words = sum(len(d.split()) for d in docs)

    with tempfile.TemporaryDirectory() as tmp:
        bench = Path(tmp) / "synthetic_he.jsonl"
        bench.write_text("".join(json.dumps({"text": r}, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        index_dir = Path(tmp) / "index"
        t_build, meta = best(lambda: build_index([bench], index_dir), 1)
        disk = sum(f.stat().st_size for f in index_dir.iterdir())
        n = meta["tasks"]["synthetic_he"]["ngrams"]

        t0 = time.perf_counter()
        ours, ours_bytes, _ = traced(lambda: DecontIndex.load(index_dir))
        t_load_ours = time.perf_counter() - t0
        ours_filter = DecontFilter([str(index_dir)])
        ours_filter._index = ours

        base = NGramsDecontFilter(str(index_dir), config=decont_config())
        base.tokenizer = CanonicalTokenizer()
        t0 = time.perf_counter()
        _, base_bytes, _ = traced(base.load_index_hashes)
        t_load_base = time.perf_counter() - t0

        def run(step):
            return sum(1 for d in docs if step.filter(Document(text=d, id="x")) is not True)

        t_ours, hits_ours = best(lambda: run(ours_filter), args.repeat)
        t_base, hits_base = best(lambda: run(base), args.repeat)
        t_canon, _ = best(lambda: [canonical_words(d) for d in docs], args.repeat)

    load = os.getloadavg()[0]
    rows = [
        ("index n-grams", f"{n:,}"),
        ("benchmark records (120 words)", f"{n_records:,}"),
        ("build_index, s", f"{t_build:.1f}"),
        ("index on disk, MB", f"{disk / 1e6:.1f}"),
        ("loaded, ours (sorted uint64 + task), MB", f"{ours_bytes / 1e6:.1f}"),
        ("loaded, datatrove dict, MB", f"{base_bytes / 1e6:.1f}"),
        ("load, ours / datatrove, s", f"{t_load_ours:.2f} / {t_load_base:.2f}"),
        ("documents / words filtered", f"{len(docs):,} / {n_words:,}"),
        ("contaminated found, ours / datatrove", f"{hits_ours} / {hits_base}"),
        ("filter docs/s, ours", f"{len(docs) / t_ours:,.0f}"),
        ("filter docs/s, datatrove (baseline)", f"{len(docs) / t_base:,.0f}"),
        ("filter words/s, ours / datatrove", f"{n_words / t_ours:,.0f} / {n_words / t_base:,.0f}"),
        ("speed ratio ours : datatrove", f"{t_base / t_ours:.2f}"),
        ("canonical_words share of our filter time", f"{t_canon / t_ours:.0%}"),
        ("load average at the end", f"{load:.1f}"),
    ]
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
