"""What the demo's difficulty phases hold: the sample crawl curated and scored with the default reference LM.

    .venv/bin/python benchmarks/demo_difficulty.py [--lm MODEL_DIR] [--news 300] [--seed 0] [--cache DIR]

Builds the sample crawl (the demo's size by default), curates it with the default recipe, scores it, and prints
two markdown tables:

* perplexity (median, p10, p90) and phase counts of the curated documents by kind of page (the crawl's labels;
  news split by its site's page template, classical Hebrew into Bible and Mishnah by the URL section), with
  the phase cuts;
* for reference, text the LM never saw (HTB dev + test in 10-sentence documents: a measurement only, never
  tuned on) and text of the same kind it may have seen (leak-free HTB train in 10-sentence documents: the
  LM half and the crawl half of ``common.sources.HTB_TRAIN_HALVES``), each laid out one sentence a line (as
  the LM was trained) and in 2-5-sentence paragraphs (as the crawl's news pages are); then the unseen
  documents word-shuffled, Zohar, Bible and Mishnah passages and English prose (``common.sources``).

Without ``--lm`` the default LM is built into ``--cache`` (a temporary folder unless given), so the numbers are
those of the code in this checkout, not of an older cached model.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow.parquet as pq

from common import sources
from curation.run import curate
from difficulty.lm import default_reference_lm
from difficulty.run import score_run
from difficulty.scorer import KenLMScorer
from hebatron.sample_crawl import build_sample_crawl, compose
from hebatron.sample_crawl.evaluate import read_labels
from hebatron.sample_crawl.pages import NEWS_SITES

DOC_SENTENCES = 10


LAYOUTS = {site.domain: site.layout for site, _ in NEWS_SITES}


def _group(label: dict) -> str:
    if label["kind"] == "classical_hebrew":
        return "classical_hebrew/" + label["url"].split("/")[3]  # tanakh | mishnah
    if label["kind"] == "news":
        return "news/" + LAYOUTS[label["url"].split("/")[2]]  # the site's page template
    return label["kind"]


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), deciles[0], deciles[-1]


def _row(name: str, values: list[float], phases: list[int] | None = None) -> str:
    med, p10, p90 = _quantiles(values)
    counts = [str(phases.count(k)) for k in (1, 2, 3)] if phases is not None else ["", "", ""]
    return f"| {name} | {len(values)} | {med:,.1f} | {p10:,.1f} | {p90:,.1f} | " + " | ".join(counts) + " |"


def _documents(texts: list[str], layout: str) -> list[str]:
    """Documents of ``DOC_SENTENCES`` consecutive sentences: one a line, or in 2-5-sentence paragraphs (one a
    line) as the sample crawl lays out its news."""
    rng = random.Random(0)
    runs = [texts[i : i + DOC_SENTENCES] for i in range(0, len(texts) - DOC_SENTENCES + 1, DOC_SENTENCES)]
    if layout == "sentences":
        return ["\n".join(run) for run in runs]
    return ["\n".join(compose.split_paragraphs(run, rng)) for run in runs]


def _reference_text() -> dict[str, list[str]]:
    out = {"HTB dev+test (unseen)": [s.text for s in sources.htb_sentences("dev") + sources.htb_sentences("test")]}
    halves = getattr(sources, "HTB_TRAIN_HALVES", None)
    if halves is None:  # a checkout from before the split: the whole train split trained the LM
        out["HTB train"] = [s.text for s in sources.htb_sentences("train")]
    else:
        for half in halves:
            out[f"HTB train, {half} half"] = [s.text for s in sources.htb_sentences("train", half=half)]
    docs = {
        f"{name}, {DOC_SENTENCES}-sentence docs, {layout}": _documents(texts, layout)
        for name, texts in out.items()
        for layout in ("sentences", "paragraphs")
    }
    rng = random.Random(0)
    unseen = docs[f"HTB dev+test (unseen), {DOC_SENTENCES}-sentence docs, sentences"]
    docs["the same, word-shuffled"] = [" ".join(rng.sample(d.split(), len(d.split()))) for d in unseen]
    docs["Zohar passages (Aramaic), one paragraph a line"] = ["\n".join(p.units) for p in sources.aramaic_passages()]
    docs["Bible and Mishnah passages, one verse a line"] = [
        "\n".join(p.units) for p in sources.classical_hebrew_passages()
    ]
    docs["English prose paragraphs"] = list(sources.english_paragraphs())
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lm", type=Path, help="reference-LM directory (default: build the default LM)")
    parser.add_argument("--news", type=int, default=300, help="news pages of the sample crawl (the demo: 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="cache folder for the default LM (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="demo-difficulty.") as tmp_name:
        tmp = Path(tmp_name)
        lm_dir = args.lm or default_reference_lm(args.cache or tmp / "cache")
        crawl = build_sample_crawl(tmp / "crawl", n_news=args.news, seed=args.seed)
        run = tmp / "run"
        curate([crawl.warc_path], run)
        summary = score_run(run, lm_dir=lm_dir, progress=False)

        group = {lab["record_id"]: _group(lab) for lab in read_labels(crawl.labels_path)}
        by_group: dict[str, tuple[list[float], list[int]]] = defaultdict(lambda: ([], []))
        for path in sorted((run / "curated").glob("*.parquet")):
            table = pq.read_table(path, columns=["id", "perplexity", "phase"]).to_pydict()
            for id_, ppl, phase in zip(table["id"], table["perplexity"], table["phase"], strict=True):
                by_group[group[id_]][0].append(ppl)
                by_group[group[id_]][1].append(phase)

        scorer = KenLMScorer(lm_dir)
        reference = {name: [scorer.perplexity(d) for d in docs] for name, docs in _reference_text().items()}

    cuts = summary["cutoffs"]
    print(f"LM: {lm_dir.name}; crawl: {args.news} news pages, seed {args.seed}")
    print(f"cuts ({cuts['method']}, {cuts['percentiles']}): {cuts['low']:,.1f} / {cuts['high']:,.1f}\n")
    print("| documents | n | median ppl | p10 | p90 | phase 1 | phase 2 | phase 3 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in sorted(by_group, key=lambda g: statistics.median(by_group[g][0])):
        print(_row(f"crawl: {name}", *by_group[name]))
    for name, values in reference.items():
        print(_row(name, values))


if __name__ == "__main__":
    main()
