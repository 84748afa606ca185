"""Throughput of document scoring (normalize + SentencePiece + KenLM) beside KenLM's raw query rate.

    .venv/bin/python benchmarks/bench_scoring.py [--lm MODEL_DIR] [--sentences 12000] [--repeat 5]

All HTB sentences (every split) are cycled up to ``--sentences``. One process, one thread: the rates are per
core. Each stage is timed ``--repeat`` times and the best run is kept (other load on the machine only ever
slows a run down); the clock is the process's CPU time, which other processes on a busy machine disturb less
than the wall clock (``--clock wall`` for that). Prints a markdown table: the header, then one row.

Columns:
  scorer sent/s        ``KenLMScorer.score`` with every sentence a document of its own
  scorer lines/s (docs) ``KenLMScorer.score`` on 20-sentence documents, counted in lines
  normalize / SP / KenLM  each stage alone on the same sentences (SP on normalized text; KenLM on
                        space-joined pieces: the query rate the scorer could reach with free tokenization)
  previous sent/s       the scorer as it was before its fast paths (a whole-text ``translate``, piece strings,
                        the per-line loop: ``previous_score`` below), timed in turn with ``KenLMScorer.score``
  speed-up              median over the repeats of (previous time / scorer time), each pair timed back to back
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from difficulty import normalize as nz
from difficulty.corpus import htb_sentences
from difficulty.lm import default_reference_lm
from difficulty.normalize import normalize_line
from difficulty.scorer import KenLMScorer


def _best_rate(n: int, fn: Callable[[], object], repeat: int, clock: Callable[[], float] = time.process_time) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = clock()
        fn()
        best = min(best, clock() - started)
    return n / best


def previous_score(scorer: KenLMScorer, text: str) -> tuple[float, float, int, int]:
    """The scorer before its fast paths, kept as the side-by-side baseline (same tables, same models)."""
    stripped = "\n".join([line.strip(nz._STRIP) for line in text.split("\n")]).lower()
    if not stripped.isascii() and not unicodedata.is_normalized("NFD", stripped):
        stripped = unicodedata.normalize("NFD", stripped)
    table = nz._DOC_TABLE if nz._ASTRAL_RE.search(stripped) else nz._BMP_DOC_TABLE
    lines = [line for line in stripped.translate(table).split("\n") if line and not line.isspace()]
    log10_prob, tokens, scored = 0.0, 0, 0
    for line in lines:
        pieces = scorer._encode(line)
        if pieces:
            log10_prob += scorer._lm.score(" ".join(pieces))
            tokens += len(pieces) + 1
            scored += 1
    return 10.0 ** (-log10_prob / tokens), log10_prob, tokens, scored


def paired(n: int, new: Callable[[], object], old: Callable[[], object], repeat: int, clock) -> tuple[float, float]:
    """(best rate of ``old``, median of old time / new time), the two timed back to back in each repeat."""
    ratios, best_old = [], float("inf")
    for _ in range(repeat):
        started = clock()
        old()
        t_old = clock() - started
        started = clock()
        new()
        ratios.append(t_old / (clock() - started))
        best_old = min(best_old, t_old)
    return n / best_old, statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lm", type=Path, help="reference-LM directory (default: the HTB model)")
    parser.add_argument("--sentences", type=int, default=12_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = parser.parse_args()
    if args.sentences < 10_000:
        parser.error("--sentences must be at least 10000")

    lm_dir = args.lm or default_reference_lm()
    scorer = KenLMScorer(lm_dir, max_chars=10**9)
    pool = [s.text for s in htb_sentences(None)]
    sents = [pool[i % len(pool)] for i in range(args.sentences)]
    docs = ["\n".join(sents[i : i + 20]) for i in range(0, len(sents), 20)]
    scorer.perplexity(sents[0])  # load the models outside the timings
    sp, lm, encode = scorer._sp, scorer._lm, scorer._encode

    normalized = [normalize_line(s) for s in sents]
    joined = [" ".join(sp.encode(s, out_type=str)) for s in normalized]
    n = len(sents)
    pieces = sum(len(j.split()) for j in joined)

    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    def best_rate(n: int, fn: Callable[[], object], repeat: int) -> float:
        return _best_rate(n, fn, repeat, clock)

    rates = {
        "scorer sent/s": best_rate(n, lambda: [scorer.score(s) for s in sents], args.repeat),
        "scorer lines/s (20-line docs)": best_rate(n, lambda: [scorer.score(d) for d in docs], args.repeat),
        "normalize sent/s": best_rate(n, lambda: [normalize_line(s) for s in sents], args.repeat),
        "SentencePiece sent/s": best_rate(n, lambda: [encode(s) for s in normalized], args.repeat),
        "KenLM sent/s": best_rate(n, lambda: [lm.score(j) for j in joined], args.repeat),
    }
    for text in sents[:2000] + docs[:100]:
        got = scorer.score(text)
        if (got.perplexity, got.log10_prob, got.tokens, got.lines) != previous_score(scorer, text):
            raise SystemExit(f"the scorer and the previous path disagree on {text[:80]!r}")
    rates["previous sent/s"], speed_up = paired(
        n,
        lambda: [scorer.score(s) for s in sents],
        lambda: [previous_score(scorer, s) for s in sents],
        args.repeat,
        clock,
    )
    rates["speed-up"] = speed_up
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or "?",
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = ["CPU", "sentences", "pieces/sent", *rates]
    row = [
        f"{cpu} (load {load:.1f})",
        f"{n:,}",
        f"{pieces / n:.1f}",
        *(f"{r:,.0f}" if r > 100 else f"{r:.2f}×" for r in rates.values()),
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
