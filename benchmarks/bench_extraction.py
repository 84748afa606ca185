"""HTML extraction quality and speed on every page template, against each page's true text.

The sample crawl's planner knows what each page says (its headline and paragraphs); this script renders the
pages of sample crawls (seeds given) as the crawl does and keeps that text beside the HTML, then adds the
near-duplicate benchmark's own templates (magazine, forum: HTB articles). For each extractor it reports, per
template and kind of page, the time per page and the word precision and recall of the extracted text against
the true text (multisets of words: letters and digits; punctuation does not count), micro-averaged over the
pages, plus the pages whose recall is below 0.8 and those extracted empty.

    .venv/bin/python benchmarks/bench_extraction.py --seeds 21,22 --n-news 300
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import regex

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
GROUPS = {
    "news": "news",
    "near_duplicate": "news",
    "exact_duplicate": "news",
    "classical_hebrew": "torah",
    "aramaic": "torah",
    "yiddish": "foreign",
    "arabic": "foreign",
    "english": "foreign",
    "spam_keywords": "spam",
    "spam_word_salad": "spam",
    "spam_repeated_lines": "spam",
}


def words(text: str) -> Counter:
    return Counter(_WORD.findall(text))


def sample_crawl_pages(seed: int, n_news: int) -> list[tuple[str, str, str]]:
    """(template, html, true text) of every page of the sample crawl with this seed (near-empty pages left out:
    they have no article)."""
    from hebatron.sample_crawl.build import _Renderer
    from hebatron.sample_crawl.plan import Planner

    planner = Planner(n_news, seed)
    renderer = _Renderer(planner)
    out = []
    for spec in planner.plan():
        if spec.kind not in GROUPS:
            continue
        rng = random.Random(f"{seed}:page:{spec.key}")
        body = renderer.body(spec, rng)
        html = _render_with(renderer, spec, body)
        truth = "\n".join([body.headline, *body.paragraphs])
        out.append((f"{spec.site.layout}/{GROUPS[spec.kind]}", html, truth))
    return out


def _render_with(renderer, spec, body) -> str:
    """The page's HTML around BODY (some kinds draw their bodies from a shared register, so drawing again would
    give another text)."""
    draw = renderer.body
    renderer.body = lambda s, rng: (draw(s, rng), body)[1]  # the draw keeps the page's other random choices
    try:
        return renderer.html(spec)
    finally:
        renderer.body = draw


def near_dup_template_pages(seed: int, n: int) -> list[tuple[str, str, str]]:
    """HTB articles on the near-duplicate benchmark's magazine and forum templates."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_near_dup import TEMPLATES, htb_articles

    articles, _ = htb_articles(None)
    rng = random.Random(seed)
    out = []
    for name in ("magazine", "forum"):
        for sentences in rng.sample(articles, n):
            title = " ".join(sentences[0].split()[:8])
            out.append((f"{name}/news", TEMPLATES[name](title, sentences, rng), "\n".join([title, *sentences])))
    return out


def extractors() -> dict:
    from datatrove.pipeline.extractors.trafilatura import Trafilatura

    from curation.extract import resiliparse_text

    traf = Trafilatura(favour_precision=True, deduplicate=True)
    return {"trafilatura": traf.extract, "resiliparse": resiliparse_text}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="21,22")
    ap.add_argument("--n-news", type=int, default=300)
    ap.add_argument("--template-pages", type=int, default=100, help="pages per near-dup benchmark template")
    args = ap.parse_args()

    pages = []
    for seed in map(int, args.seeds.split(",")):
        pages += sample_crawl_pages(seed, args.n_news)
        pages += near_dup_template_pages(seed, args.template_pages)
    truths = [words(t) for _, _, t in pages]
    results: dict[str, dict[str, list[float]]] = {}
    for name, fn in extractors().items():
        fn(pages[0][1])  # warm up (imports, first parse)
        acc: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0, 0, 0, 0])
        for (template, html, _), truth in zip(pages, truths, strict=True):
            start = time.perf_counter()
            text = fn(html) or ""
            elapsed = time.perf_counter() - start
            got = words(text)
            hit = sum((got & truth).values())
            n_got, n_true = sum(got.values()), sum(truth.values())
            for key in (template, "all"):
                a = acc[key]
                a[0] += 1
                a[1] += elapsed
                a[2] += hit
                a[3] += n_got
                a[4] += n_true
                a[5] += n_true and hit / n_true < 0.8
                a[6] += not text.strip()
        results[name] = acc
    names = list(results)
    print(f"{len(pages)} pages, seeds {args.seeds}\n")
    head = " | ".join(f"{n} ms/page | {n} P | {n} R | {n} R<0.8 | {n} empty" for n in names)
    print(f"| template/kind | pages | {head} |")
    print("|---" * (2 + 5 * len(names)) + "|")
    for key in sorted(results[names[0]], key=lambda k: (k == "all", k)):
        cells = []
        for n in names:
            c, t, hit, got, true, low, empty = results[n][key]
            cells += [
                f"{1000 * t / c:.2f}",
                f"{hit / max(got, 1):.3f}",
                f"{hit / max(true, 1):.3f}",
                str(low),
                str(empty),
            ]
        print(f"| {key} | {results[names[0]][key][0]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
