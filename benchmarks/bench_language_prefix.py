"""Language ID on a bounded prefix vs on the whole text: decisions, score differences and time.

The sample crawls' pages (seeds given) are extracted and normalized as curation does, then identified twice:
with the default `LanguageConfig` (the first `prefix_chars` characters, the whole text when the prefix's score
is within `prefix_margin` of the threshold) and on the whole text. Timings alternate the two, best of --repeat.

    .venv/bin/python benchmarks/bench_language_prefix.py --seeds 31,32 --n-news 300
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from bench_extraction import sample_crawl_pages
    from datatrove.data import Document

    from curation.config import LanguageConfig
    from curation.extract import resiliparse_text
    from curation.language import LanguageID
    from curation.normalize import normalize_hebrew

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="31,32")
    ap.add_argument("--n-news", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    texts = []
    for seed in map(int, args.seeds.split(",")):
        texts += [normalize_hebrew(resiliparse_text(html)) for _, html, _ in sample_crawl_pages(seed, args.n_news)]
    prefixed, whole = LanguageID(), LanguageID(LanguageConfig(prefix_chars=None))

    def run(lid: LanguageID) -> list[tuple]:
        out = []
        for text in texts:
            doc = Document(text=text, id="")
            out.append((lid.filter(doc), doc.metadata["lang"], doc.metadata["lang_score"]))
        return out

    a, b = run(prefixed), run(whole)
    same = sum(x[:2] == y[:2] for x, y in zip(a, b, strict=True))
    diffs = sorted(abs(x[2] - y[2]) for x, y in zip(a, b, strict=True))
    long = sum(len(t) > prefixed.prefix_chars for t in texts)
    times: dict[str, list[float]] = {"prefix": [], "whole": []}
    for _ in range(args.repeat):
        for name, lid in (("prefix", prefixed), ("whole", whole)):
            start = time.perf_counter()
            run(lid)
            times[name].append(time.perf_counter() - start)
    print(f"{len(texts)} pages ({long} longer than the prefix), mean {sum(map(len, texts)) / len(texts):.0f} chars")
    print(f"decisions and labels equal: {same}/{len(texts)}")
    print(
        f"|score difference|: median {diffs[len(diffs) // 2]:.4f}, p99 {diffs[int(0.99 * len(diffs))]:.4f}, "
        f"max {diffs[-1]:.4f}"
    )
    print(f"best of {args.repeat}: prefix {min(times['prefix']):.3f} s, whole text {min(times['whole']):.3f} s")


if __name__ == "__main__":
    main()
