"""Side by side on one crawl: `hebatron curate` vs the plain datatrove FineWeb-2 pipeline (and more).

Builds a sample crawl with the sample-crawl generator (or takes --crawl DIR with crawl.warc.gz + labels.jsonl),
optionally splits it into --split WARC files (datatrove parallelizes over files), runs each pipeline in a
child process on the same input, and prints a markdown table: wall time, CPU seconds (user + system, of the
child and the processes it waited for, or of its process tree as sampled every 0.1 s when that is more: worker
pools started through a forkserver are not waited for; steadier than wall time when other work shares the
machine), pages/s per core, peak RSS of the process tree, and the quality figures measured against the crawl's labels.

Pipelines: hebatron (local executor), hebatron-ray (Ray executor), datatrove-fineweb2 (the baseline), and
score (difficulty scoring of hebatron's output, timed on its own).

    .venv/bin/python benchmarks/compare_curation.py --n-news 300
    .venv/bin/python benchmarks/compare_curation.py --n-news 13500 --split 8 --workers 2 \
        --pipelines hebatron,datatrove-fineweb2,score
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

CHILD = {
    "hebatron": "from curation.run import curate; "
    "curate(sorted(Path(sys.argv[1]).glob('*.warc.gz')), Path(sys.argv[2]), workers=int(sys.argv[3]))",
    "hebatron-ray": "from curation.run import curate; "
    "curate(sorted(Path(sys.argv[1]).glob('*.warc.gz')), Path(sys.argv[2]), executor='ray', "
    "workers=int(sys.argv[3]))",
    "datatrove-fineweb2": "from benchmarks.baseline_fineweb2 import run_baseline; "
    "run_baseline(Path(sys.argv[1]), Path(sys.argv[2]), workers=int(sys.argv[3]), "
    "tasks=len(list(Path(sys.argv[1]).glob('*.warc.gz'))))",
    "score": "from difficulty.run import score_run; score_run(Path(sys.argv[2]), progress=False)",
}
PRELUDE = (
    f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
    "from loguru import logger; logger.remove(); "
)


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants (worker pools, extraction sandboxes)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def tree_cpu(proc: psutil.Process) -> dict[int, float]:
    """User + system CPU seconds of a process and each of its descendants, by pid."""
    out = {}
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def run_child(name: str, crawl_files: Path, out: Path, workers: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    log = open(out.parent / f"{out.name}.log", "wb")  # a file, not a pipe: datatrove logs a lot
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + CHILD[name], str(crawl_files), str(out), str(workers)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    ps, peak, seen_cpu = psutil.Process(proc.pid), 0, {}
    while proc.poll() is None:
        peak = max(peak, tree_rss(ps))
        seen_cpu |= tree_cpu(ps)
        time.sleep(0.1)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child and the processes it waited for
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    # Worker pools started through a forkserver are never waited for by the child, so RUSAGE_CHILDREN misses
    # them; the tree's CPU times as last sampled see them (less what each used after its last sample).
    cpu = max(cpu, sum(seen_cpu.values()))
    log.close()
    if proc.returncode != 0:
        tail = (out.parent / f"{out.name}.log").read_bytes()[-3000:].decode(errors="replace")
        raise RuntimeError(f"{name} failed: {tail}")
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mib": round(peak / 2**20)}


def split_warc(warc: Path, out_dir: Path, parts: int) -> Path:
    """Round-robin the crawl's records into PARTS gzipped WARC files (records are copied byte for byte)."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    handles = [open(out_dir / f"part-{i:03d}.warc.gz", "wb") for i in range(parts)]
    writers = [WARCWriter(h, gzip=True) for h in handles]
    with open(warc, "rb") as f:
        for i, record in enumerate(ArchiveIterator(f)):
            writers[i % parts].write_record(record)
    for h in handles:
        h.close()
    return out_dir


def main() -> None:
    from hebatron.sample_crawl import build_sample_crawl
    from hebatron.sample_crawl.evaluate import evaluate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crawl", type=Path, help="folder with crawl.warc.gz and labels.jsonl")
    ap.add_argument("--n-news", type=int, default=300)
    ap.add_argument("--split", type=int, default=1, help="split the crawl into this many WARC files")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--pipelines", default="hebatron,datatrove-fineweb2")
    ap.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument(
        "--repeat", type=int, default=1, help="run the pipelines this many times, interleaved; medians are reported"
    )
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="hebatron-bench-"))
    crawl_dir = args.crawl or work / "crawl"
    if not (crawl_dir / "crawl.warc.gz").exists():
        build_sample_crawl(crawl_dir, n_news=args.n_news)
    labels = crawl_dir / "labels.jsonl"
    files = (
        crawl_dir
        if args.split == 1
        else split_warc(crawl_dir / "crawl.warc.gz", work / f"split-{args.split}", args.split)
    )
    pages = sum(1 for _ in open(labels))
    results: dict[str, dict] = {}
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for rep in range(args.repeat):
        for name in args.pipelines.split(","):
            suffix = f"-{rep}" if args.repeat > 1 else ""
            out = work / (("hebatron" if name == "score" else name) + suffix)
            r = run_child(name, files, out, args.workers)
            walls.setdefault(name, []).append(r["wall_s"])
            cpus.setdefault(name, []).append(r["cpu_s"])
            if name == "score":
                cut = json.loads((out / "cutoffs.json").read_text())
                r["documents_per_s"] = round(cut["documents"]["scored"] / r["wall_s"], 1)
            else:
                r |= evaluate(str(out / "curated" / "*.parquet"), labels)
            results[name] = r
            print(f"{name}: {json.dumps({k: v for k, v in r.items() if not isinstance(v, dict)})}", flush=True)
    for name, r in results.items():
        r["wall_s"] = round(statistics.median(walls[name]), 1)
        r["wall_s_runs"] = walls[name]
        r["cpu_s"] = round(statistics.median(cpus[name]), 1)
        r["cpu_s_runs"] = cpus[name]
        if name != "score":
            r["pages_per_s_per_core"] = round(pages / r["wall_s"] / min(args.workers, os.cpu_count() or 1), 1)
    cols = [
        "wall_s",
        "cpu_s",
        "pages_per_s_per_core",
        "documents_per_s",
        "peak_rss_mib",
        "news_kept",
        "news_windows_1255_kept",
        "other_languages_dropped",
        "spam_dropped",
        "duplicate_groups_resolved",
        "unique_ids",
    ]
    print(f"\n{pages} pages in {args.split} WARC file(s), {args.workers} worker(s), wall_s: median of {args.repeat}\n")
    print("| pipeline | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    if "hebatron" in results and "datatrove-fineweb2" in results:
        ratio = results["hebatron"]["wall_s"] / results["datatrove-fineweb2"]["wall_s"]
        print(f"\ntime ratio hebatron / datatrove-fineweb2 (medians of {args.repeat}): {ratio:.2f}")
        per_run = [a / b for a, b in zip(walls["hebatron"], walls["datatrove-fineweb2"], strict=True)]
        print("per interleaved run: " + ", ".join(f"{x:.2f}" for x in per_run))
        cpu_ratio = results["hebatron"]["cpu_s"] / results["datatrove-fineweb2"]["cpu_s"]
        print(f"CPU time ratio (medians; steadier than wall time on a loaded machine): {cpu_ratio:.2f}")
    if args.json:
        args.json.write_text(
            json.dumps({"pages": pages, "split": args.split, "workers": args.workers, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
