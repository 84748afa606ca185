"""The documented curriculum ablation: small-moe on the demo run, orders × learning-rate schedules × seeds.

    .venv/bin/python benchmarks/ablation_curriculum.py [--run RUN] [--out DIR] [--seeds 5] [--workers 2]
        [--orders forward,reversed,shuffled] [--schedules wsd,constant] [--anchor-share fixed]

Without ``--run`` it builds the demo (``hebatron run demo``: the sample crawl through every stage) in
``DIR/run``. Every (schedule, order, seed) is one ``hebatron train`` run in ``DIR/`` under the name
``hebatron ablate`` gives it, ``--workers`` at a time with one thread each (on 2 cores, two one-thread runs
finish sooner than one two-thread run after the other); then ``hebatron ablate`` over the same grid finds
every run finished and writes ``ablation.json``, ``ablation.md``, ``comparisons.csv`` and the plot. A run
already finished is not trained again, so an interrupted benchmark resumes.

Printed beside the ablation, as what its numbers are measured against:
  unigram he_loss   the cross-entropy of the held-out Hebrew set under the unigram distribution of the
                    training phases' Hebrew tokens (add-one smoothed): a model at this level has learned token
                    frequencies, not language
  bigram he_acc     the multiple-choice suite scored by an interpolated bigram count model of the same tokens:
                    what local word order alone gives on it (chance is 0.5)
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="a tokenized run (default: build the demo in OUT/run)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "ablation-small-moe")
    ap.add_argument("--recipe", default="small-moe")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--orders", default="forward,reversed,shuffled")
    ap.add_argument("--schedules", default="wsd,constant")
    ap.add_argument("--anchor-share", default="fixed", choices=["phase", "fixed"])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from hebatron.recipes import load_recipe
    from train.ablate import ablate, run_dir_name

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    run = args.run.resolve() if args.run else _demo_run(out / "run")
    recipe = load_recipe(args.recipe)
    orders, schedules = args.orders.split(","), args.schedules.split(",")
    seeds = [recipe.train.seed + i for i in range(args.seeds)]
    grid = [(sch, order, seed) for sch in schedules for order in orders for seed in seeds]
    logs = out / "logs"
    logs.mkdir(exist_ok=True)

    def train_one(cell) -> tuple[str, float, int]:
        sch, order, seed = cell
        name = run_dir_name(order, sch, seed)
        cmd = [sys.executable, "-m", "hebatron", "train", str(run), "-o", str(out / name)]
        cmd += ["--recipe", args.recipe, "--order", order, "--seed", str(seed), "--lr-schedule", sch]
        cmd += ["--anchor-share", args.anchor_share]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        start = time.perf_counter()
        with (logs / f"{name}.log").open("w") as log:
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        return name, time.perf_counter() - start, rc

    started = time.perf_counter()
    times = []
    with ThreadPoolExecutor(args.workers) as pool:
        for i, (name, seconds, rc) in enumerate(pool.map(train_one, grid), 1):
            times.append(seconds)
            status = "ok" if rc == 0 else f"exit {rc} (see {logs / name}.log)"
            print(f"[{i}/{len(grid)}] {name}: {seconds:.0f} s, {status}", flush=True)
    wall = time.perf_counter() - started

    import dataclasses

    train = dataclasses.replace(recipe.train, anchor_share=args.anchor_share)
    result = ablate(
        run, out, orders=orders, schedules=schedules, seeds=seeds, model=recipe.model, train=train,
        recipe_name=recipe.name, echo=lambda *_: None,
    )  # fmt: skip
    reference = references(run)
    (out / "references.json").write_text(json.dumps(reference, indent=2))
    print()
    print(f"{len(grid)} runs of {args.recipe} ({args.workers} at a time, one thread each): {wall / 60:.1f} min wall, "
          f"{np.median(times):.0f} s median per run; anchor share {args.anchor_share}")  # fmt: skip
    print(f"unigram he_loss {reference['unigram_he_loss']:.4f}; bigram he_acc {reference['bigram_he_acc']:.4f} "
          f"({reference['mcq_items']} pairs)")  # fmt: skip
    print()
    print((out / "ablation.md").read_text())
    if result["failed_runs"]:
        sys.exit(1)


def _demo_run(path: Path) -> Path:
    if not (path / "tokens").is_dir():
        subprocess.run([sys.executable, "-m", "hebatron", "run", "demo", "-o", str(path)], check=True, cwd=ROOT)
    return path


def references(run: Path) -> dict:
    """The unigram cross-entropy of eval/he and a bigram count model's multiple-choice accuracy, both from the
    Hebrew tokens of the training phases (see the module docstring)."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    from shards.tokenizer import load_tokenizer
    from train import mcq

    manifest = json.loads((run / "shards" / "manifest.json").read_text())
    tok = load_tokenizer(run / manifest["tokenizer"]["path"])
    eod, vocab = tok.eod_id, tok.vocab_size
    unigram = np.zeros(vocab, dtype=np.float64)
    bigram: collections.Counter = collections.Counter()
    for k in (1, 2, 3):
        docs = IndexedDataset(str(run / "tokens" / f"phase-{k}" / "hebrew"))
        for i in range(len(docs)):
            ids = [eod, *docs[i].tolist()]
            np.add.at(unigram, ids, 1)
            bigram.update(zip(ids, ids[1:], strict=False))
    p_uni = (unigram + 1) / (unigram.sum() + vocab)
    held = IndexedDataset(str(run / "tokens" / "eval" / "he"))
    ids = np.concatenate([held[i] for i in range(len(held))])
    unigram_loss = float(-np.log(p_uni[ids]).mean())

    def bigram_score(texts: list[str], lam: float = 0.5) -> list[float]:
        out = []
        for seq in tok.encode_batch([mcq.scored_text(t) for t in texts]):
            seq = [eod, *seq]
            out.append(
                sum(
                    math.log(lam * (bigram[(a, b)] / unigram[a] if unigram[a] else 0.0) + (1 - lam) * p_uni[b])
                    for a, b in zip(seq, seq[1:], strict=False)
                )
            )
        return out

    from train.config import TrainConfig

    items = mcq.build_items(mcq.heldout_sentences(), n=TrainConfig().mcq_items)
    return {
        "unigram_he_loss": unigram_loss,
        "bigram_he_acc": mcq.accuracy(items, bigram_score),
        "mcq_items": len(items),
        "eval_he_tokens": int(ids.size),
    }


if __name__ == "__main__":
    main()
