"""Fixed costs of a local `hebatron curate`: process start and imports, per run and per task, side by side with
another revision of the code.

A run over one-page WARC files costs almost nothing but its fixed costs: the interpreter, the imports, building
the stages, each stage's executor start (datatrove's Manager, its log files and JSON) and each task's start
(copying the steps, loading models). Timing N = 1 and N = 10 such files gives the per-run cost and, from the
slope, the per-task cost. Each tree runs in its own fresh interpreter, the trees alternating in every repeat.

    .venv/bin/python benchmarks/bench_startup.py --baseline-ref HEAD~3 --repeat 5
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("ray", "pandas", "torch", "nemo_curator", "trafilatura", "fasttext", "spacy", "sklearn")
CHILD = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from loguru import logger; logger.remove()
from curation.run import curate
t1 = time.perf_counter()
curate([Path(sys.argv[2])], Path(sys.argv[3]))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "curate_s": t2 - t1,
                  "heavy": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def one_page_warcs(folder: Path, n: int) -> Path:
    """N gzipped WARC files of one Hebrew news-like page each."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    folder.mkdir(parents=True, exist_ok=True)
    words = "הממשלה אישרה אתמול את התקציב החדש לשנה הבאה אחרי דיון ארוך בכנסת ובוועדת הכספים שלה".split()
    for i in range(n):
        rng = random.Random(i)  # a different page per file, kept by every filter
        paragraphs = [". ".join(" ".join(rng.choices(words, k=12)) for _ in range(4)) + "." for _ in range(6)]
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        html = f'<html lang="he" dir="rtl"><body><article><h1>תקציב</h1>{body}</article></body></html>'.encode()
        with open(folder / f"page-{i:03d}.warc.gz", "wb") as f:
            writer = WARCWriter(f, gzip=True)
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                f"https://news.co.il/{i}", "response", payload=io.BytesIO(html), http_headers=headers
            )
            writer.write_record(record)
    return folder


def checkout(ref: str, dest: Path) -> Path:
    """The tree of git revision REF, unpacked into DEST."""
    data = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def run_once(tree: Path, inputs: Path, out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(inputs), str(out)], cwd=tree, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{tree}: curate failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result | {"wall_s": wall, "cpu_s": cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-ref", help="git revision to time beside the working tree (e.g. HEAD~3)")
    ap.add_argument("--files", default="1,10", help="numbers of one-page input files (one task each)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="hebatron-startup-"))
    trees = {"current": ROOT}
    if args.baseline_ref:
        trees[args.baseline_ref] = checkout(args.baseline_ref, work / "baseline")
    counts = [int(n) for n in args.files.split(",")]
    inputs = {n: one_page_warcs(work / f"in-{n}", n) for n in counts}
    runs: dict[tuple[str, int], list[dict]] = {}
    for rep in range(args.repeat):
        for n in counts:
            for name, tree in trees.items():
                r = run_once(tree, inputs[n], work / f"run-{name.replace('/', '_')}-{n}-{rep}")
                runs.setdefault((name, n), []).append(r)
                shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                print(f"{name} files={n} rep={rep}: {json.dumps(shown)}", flush=True)

    def med(name: str, n: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[(name, n)])

    print(f"\nmedians of {args.repeat} (seconds); per task = slope between {counts[0]} and {counts[-1]} files\n")
    print("| tree | files | wall | CPU | imports | curate() | per task (wall) | heavy modules loaded |")
    print("|---|---|---|---|---|---|---|---|")
    for name in trees:
        for n in counts:
            slope = ""
            if n == counts[-1] and len(counts) > 1:
                slope = f"{(med(name, n, 'wall_s') - med(name, counts[0], 'wall_s')) / (n - counts[0]):.3f}"
            heavy = ", ".join(runs[(name, n)][-1]["heavy"])
            print(
                f"| {name} | {n} | {med(name, n, 'wall_s'):.2f} | {med(name, n, 'cpu_s'):.2f} | "
                f"{med(name, n, 'import_s'):.2f} | {med(name, n, 'curate_s'):.2f} | {slope} | {heavy} |"
            )


if __name__ == "__main__":
    main()
