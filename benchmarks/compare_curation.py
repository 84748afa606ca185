"""Side by side on one crawl: `hebatron curate` vs the plain datatrove FineWeb-2 pipeline.

Builds a sample crawl (or takes --crawl DIR with crawl.warc.gz + labels.jsonl), runs both pipelines in
child processes on the same input, and prints a markdown table: wall time, pages/s per core, peak RSS,
and the quality figures measured against the crawl's labels.

    .venv/bin/python benchmarks/compare_curation.py --n-news 300
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = {
    "hebatron": "from curation.run import curate; "
                "curate([Path(sys.argv[1])], Path(sys.argv[2]), workers=int(sys.argv[3]))",
    "datatrove-fineweb2": "from benchmarks.baseline_fineweb2 import run_baseline; "
                          "run_baseline(Path(sys.argv[1]).parent, Path(sys.argv[2]), workers=int(sys.argv[3]))",
}
PRELUDE = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
           "from loguru import logger; logger.remove(); ")


def run_child(name: str, warc: Path, out: Path, workers: int) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + CHILD[name], str(warc), str(out), str(workers)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{name} failed: {proc.stderr.read().decode()[-2000:]}")
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def main() -> None:
    from curation.evaluate import evaluate
    from hebatron.sample_crawl import build_sample_crawl

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crawl", type=Path, help="folder with crawl.warc.gz and labels.jsonl")
    ap.add_argument("--n-news", type=int, default=300)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hebatron-bench-"))
    crawl_dir = args.crawl or work / "crawl"
    if not args.crawl:
        build_sample_crawl(crawl_dir, n_news=args.n_news)
    warc, labels = crawl_dir / "crawl.warc.gz", crawl_dir / "labels.jsonl"
    pages = sum(1 for _ in open(labels))
    results = {}
    for name in CHILD:
        out = work / name
        r = run_child(name, warc, out, args.workers)
        glob = out / "curated" / "*.parquet"
        r["pages_per_s_per_core"] = round(pages / r["wall_s"] / args.workers, 1)
        r |= evaluate(str(glob), labels)
        results[name] = r
    cols = ["wall_s", "pages_per_s_per_core", "peak_rss_mib", "news_kept", "news_windows_1255_kept",
            "other_languages_dropped", "spam_dropped", "duplicate_groups_resolved", "unique_ids"]
    print(f"{pages} pages, {args.workers} worker(s)\n")
    print("| pipeline | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(str(r[c]) for c in cols) + " |")
    ratio = results["hebatron"]["wall_s"] / results["datatrove-fineweb2"]["wall_s"]
    print(f"\ntime ratio hebatron / datatrove-fineweb2: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
