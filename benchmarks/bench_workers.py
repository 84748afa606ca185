"""1 → 2 workers, against what two cores of this machine give two independent runs.

On a shared or virtual machine two cores rarely give twice one core's speed (hyperthread siblings, a neighbour's
load, memory bandwidth). So beside `curate --workers 1` and `curate --workers 2` on the same input, this runs the
ideal of the 2-worker run as a baseline: the input split in two halves, curated by two independent 1-worker runs
at the same time (no coordination, no shared stages). The three alternate in every repeat.

    speed-up      = wall(1 worker) / wall(2 workers)
    ceiling       = wall(1 worker) / wall(two halves at once)   — what this machine gives two processes
    efficiency    = speed-up / ceiling

    .venv/bin/python benchmarks/bench_workers.py --crawl /tmp/crawl21 --split 8 --repeat 3
    .venv/bin/python benchmarks/bench_workers.py --crawl /tmp/crawl21 --split 1 --repeat 3   # one file, cut in parts
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare_curation import split_warc

ROOT = Path(__file__).resolve().parent.parent
CHILD = (
    f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
    "from loguru import logger; logger.remove(); from curation.run import curate; "
    "curate([Path(p) for p in sys.argv[3:]], Path(sys.argv[1]), workers=int(sys.argv[2]))"
)


def start(out: Path, workers: int, files: list[Path]) -> subprocess.Popen:
    log = open(out.with_suffix(".log"), "wb")
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), str(workers), *map(str, files)], cwd=ROOT, stdout=log, stderr=log
    )


def timed(*procs: subprocess.Popen) -> float:
    begin = time.perf_counter()
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError(f"a curation failed: {p.args[2]}")
    return time.perf_counter() - begin


def halves(files: list[Path], work: Path) -> tuple[list[Path], list[Path]]:
    """The input in two halves: the files alternately, or one file's records alternately."""
    if len(files) > 1:
        return files[0::2], files[1::2]
    parts = sorted(split_warc(files[0], work / "halves", 2).glob("*.warc.gz"))
    return [parts[0]], [parts[1]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crawl", type=Path, required=True, help="folder with crawl.warc.gz")
    ap.add_argument("--split", type=int, default=8, help="split the crawl into this many WARC files (1: as is)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="hebatron-workers-"))
    work.mkdir(parents=True, exist_ok=True)
    warc = args.crawl / "crawl.warc.gz"
    files = [warc] if args.split == 1 else sorted(split_warc(warc, work / f"split-{args.split}", args.split).glob("*"))
    a, b = halves(files, work)
    walls: dict[str, list[float]] = {"1 worker": [], "2 workers": [], "two halves at once": []}
    for rep in range(args.repeat):
        walls["1 worker"].append(timed(start(work / f"w1-{rep}", 1, files)))
        walls["2 workers"].append(timed(start(work / f"w2-{rep}", 2, files)))
        walls["two halves at once"].append(timed(start(work / f"ha-{rep}", 1, a), start(work / f"hb-{rep}", 1, b)))
        print(json.dumps({k: round(v[-1], 2) for k, v in walls.items()}), flush=True)
    one = statistics.median(walls["1 worker"])
    speedup = [x / y for x, y in zip(walls["1 worker"], walls["2 workers"], strict=True)]
    ceiling = [x / y for x, y in zip(walls["1 worker"], walls["two halves at once"], strict=True)]
    print(f"\n{len(files)} input file(s), medians of {args.repeat} runs (wall seconds)\n")
    print("| run | wall s | runs |")
    print("|---|---|---|")
    for name, w in walls.items():
        print(f"| {name} | {statistics.median(w):.1f} | {', '.join(f'{x:.1f}' for x in w)} |")
    print(
        f"\nspeed-up 1 → 2 workers: {one / statistics.median(walls['2 workers']):.2f} (per repeat: "
        f"{', '.join(f'{x:.2f}' for x in speedup)})"
    )
    print(
        f"ceiling (two independent halves at once): {one / statistics.median(walls['two halves at once']):.2f} "
        f"(per repeat: {', '.join(f'{x:.2f}' for x in ceiling)})"
    )
    eff = [s / c for s, c in zip(speedup, ceiling, strict=True)]
    print(f"efficiency (speed-up / ceiling, per repeat): {', '.join(f'{x:.2f}' for x in eff)}")


if __name__ == "__main__":
    main()
