"""Throughput of sharding (tokenizer training, token counting, anchor draw, shuffle, Parquet) and of
tokenization to Megatron files, on the scored sample crawl.

    .venv/bin/python benchmarks/bench_sharding.py [--n-news 300] [--replicate 1] [--repeat 3] [--run RUN]

Builds the sample crawl, curates and scores it (or takes a scored ``--run``), optionally replicates the curated
documents ``--replicate`` times (new ids) to time a bigger input, and writes the English anchor set from the
standard library (with ``--replicate`` > 1 the anchors repeat: ``allow_repeat``). Each stage runs ``--repeat``
times on a fresh copy of the run and the best time is kept. Prints a markdown table: the header, then one row.

Columns:
  docs, tokens          rows and tokens (end-of-document included) in the shards
  shard (train BPE) s   ``shard_run`` with the default: train the byte-level BPE, then shard
  shard docs/s, tok/s   ``shard_run`` with that tokenizer given (no training)
  tokenize docs/s, tok/s  ``tokenize_run`` (shards → .bin/.idx)
  he / en tok/word      the trained tokenizer's tokens per whitespace word, Hebrew and English
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shards import ShardConfig, load_tokenizer, shard_run, tokenize_run, write_sample_anchors


def scored_run(work: Path, n_news: int) -> Path:
    from curation.run import curate
    from difficulty.run import score_run
    from hebatron.sample_crawl import build_sample_crawl

    crawl = build_sample_crawl(work / "crawl", n_news=n_news, seed=0)
    run = work / "run"
    curate([crawl.warc_path], run)
    score_run(run, progress=False)
    return run


def replicate(run: Path, k: int) -> None:
    for path in sorted((run / "curated").glob("*.parquet")):
        table = pq.read_table(path)
        copies = [
            table.set_column(0, "id", pc.binary_join_element_wise(table.column("id"), f"~{i}", "")) for i in range(1, k)
        ]
        pq.write_table(pa.concat_tables([table, *copies]), path)


def best(fn: Callable[[Path], object], base: Path, work: Path, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for i in range(repeat):
        run = work / f"copy-{i}"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base, run)
        started = time.perf_counter()
        result = fn(run)
        times.append(time.perf_counter() - started)
    return min(times), result


def tokens_per_word(tok, texts: list[str]) -> float:
    return sum(map(len, tok.encode_batch(texts))) / max(sum(len(t.split()) for t in texts), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-news", type=int, default=300)
    parser.add_argument("--replicate", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--run", type=Path, help="a scored run to use instead of building the sample crawl")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sharding-") as tmp:
        work = Path(tmp)
        base = work / "base"
        shutil.copytree(
            args.run or scored_run(work, args.n_news),
            base,
            ignore=shutil.ignore_patterns("shards", "tokens", "tokenizer", ".shards.*", ".tokens.*"),
        )
        if args.replicate > 1:
            replicate(base, args.replicate)
        anchors = write_sample_anchors(work / "anchors" / "pydoc-topics.jsonl")
        config = ShardConfig(allow_repeat=args.replicate > 1)

        t_train, manifest = best(lambda run: shard_run(run, [anchors], config, progress=False), base, work, args.repeat)
        trained = work / "tokenizer.json"
        shutil.copyfile(work / "copy-0" / "tokenizer" / "tokenizer.json", trained)
        given = ShardConfig(allow_repeat=config.allow_repeat, tokenizer=trained)
        t_shard, _ = best(lambda run: shard_run(run, [anchors], given, progress=False), base, work, args.repeat)
        sharded = work / "copy-0"
        import megatron.core.datasets.indexed_dataset  # noqa: F401  (import time is not tokenization time)

        t_tok = min(_timed(lambda: _retokenize(sharded)) for _ in range(args.repeat))

        phases = manifest["phases"].values()
        docs = sum(p[r]["documents"] for p in phases for r in ("hebrew", "anchor"))
        tokens = sum(p[r]["tokens"] for p in phases for r in ("hebrew", "anchor"))
        tok = load_tokenizer(trained)
        hebrew = [
            t for f in sorted((base / "curated").glob("*.parquet")) for t in pq.read_table(f).column("text").to_pylist()
        ]
        english = [json.loads(line)["text"] for line in anchors.read_text(encoding="utf-8").splitlines()]
        ratios = "/".join(f"{p['anchor_ratio']:.3f}" for p in phases)

    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or "?",
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = [
        "CPU",
        "docs",
        "tokens",
        "anchor ratio 1/2/3",
        "shard (train BPE) s",
        "shard docs/s",
        "shard tok/s",
        "tokenize docs/s",
        "tokenize tok/s",
        "he tok/word",
        "en tok/word",
    ]
    row = [
        f"{cpu} (load {load:.1f})",
        f"{docs:,}",
        f"{tokens:,}",
        ratios,
        f"{t_train:.2f}",
        f"{docs / t_shard:,.0f}",
        f"{tokens / t_shard:,.0f}",
        f"{docs / t_tok:,.0f}",
        f"{tokens / t_tok:,.0f}",
        f"{tokens_per_word(tok, hebrew):.2f}",
        f"{tokens_per_word(tok, english):.2f}",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print("| " + " | ".join(row) + " |")


def _retokenize(run: Path) -> None:
    shutil.rmtree(run / "tokens", ignore_errors=True)
    tokenize_run(run, progress=False)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
