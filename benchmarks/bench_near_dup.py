"""Labelled near-duplicate benchmark: recall per Jaccard bucket, groups with one copy kept, false merges.

Articles are runs of consecutive HTB train sentences (common.sources), split in two disjoint halves: the `tune`
set (even articles, templates `portal`/`blog`, replacement-heavy edits) and the `report` set (odd articles,
templates `magazine`/`forum`, insertion/deletion/reordering-heavy edits, wider edit rates). Each original
becomes one of: a duplicate group (1-3 near copies with a controlled edit rate, maybe an exact copy, each on
a random template of the set), a related pair (a second, distinct article made of half of its sentences and
half of another's: the false-merge probe), or a singleton. Each copy's true word-5-gram Jaccard with its
original (the MinHash shingles of the article text) is recorded. Pages are written to several WARC files,
shuffled, and curated by the real pipelines:

    hebatron             `curate` with the default recipe (verified 32 x 4)
    hebatron-14x8        `curate` with recipe fineweb2-dedup (FineWeb-2's plain 14 x 8)
    datatrove-fineweb2   the plain datatrove baseline (benchmarks/baseline_fineweb2.py)
    hebatron@BxR:T       `curate` with B bands of R hashes, verification threshold T (tuning)

Only pages that survive each pipeline's filters count (a pair or group is judged on what reached dedup). A near
copy is resolved when it and its original are not both kept and their group keeps one page (the survivor may be
a third copy); a related pair is merged when either article is lost.

    .venv/bin/python benchmarks/bench_near_dup.py --set tune --seeds 1,2 --pipelines hebatron@32x4:0.55,...
    .venv/bin/python benchmarks/bench_near_dup.py --set report --seeds 11,12,13
    .venv/bin/python benchmarks/bench_near_dup.py --scale 10   # 10 x the sample crawl (451 pages), JSONL
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUCKETS = [(0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)]
SETS = {
    "tune": {
        "parity": 0,
        "templates": ("portal", "blog"),
        "rate": (0.0, 0.05),
        "ops": {"replace": 0.7, "insert": 0.15, "delete": 0.15},
        "reorder": 0.1,
    },
    "report": {
        "parity": 1,
        "templates": ("magazine", "forum"),
        "rate": (0.0, 0.06),
        "ops": {"replace": 0.4, "insert": 0.3, "delete": 0.3},
        "reorder": 0.3,
    },
}


# --- page templates ---------------------------------------------------------------------------------------
def _paras(sentences: list[str], per: int) -> list[str]:
    return [" ".join(sentences[i : i + per]) for i in range(0, len(sentences), per)]


def portal(title: str, sentences: list[str], rng: random.Random) -> str:
    menu = "".join(f'<li><a href="/c/{i}">{w}</a></li>' for i, w in enumerate(["חדשות", "כלכלה", "ספורט", "תרבות"]))
    body = "".join(f"<p>{p}</p>" for p in _paras(sentences, 3))
    return (
        f'<html dir="rtl" lang="he"><head><meta charset="utf-8"><title>{title} - פורטל</title></head><body>'
        f"<header><ul>{menu}</ul></header><main><article><h1>{title}</h1>"
        f'<div class="byline">מאת כתב הפורטל | {rng.randrange(1, 28)}.{rng.randrange(1, 12)}.2024</div>{body}'
        f'</article><aside><h3>עוד בפורטל</h3><a href="/a/{rng.randrange(9999)}">כתבות נוספות</a></aside></main>'
        "<footer>כל הזכויות שמורות לפורטל החדשות</footer></body></html>"
    )


def blog(title: str, sentences: list[str], rng: random.Random) -> str:
    body = "".join(f"<p>{p}</p>" for p in _paras(sentences, 2))
    return (
        f'<html lang="he" dir="rtl"><head><meta charset="utf-8"><title>{title} | הבלוג שלי</title></head><body>'
        f'<div id="wrap"><div id="sidebar"><h4>תגיות</h4><span>אקטואליה</span> <span>דעות</span></div>'
        f'<div class="post"><h2 class="post-title">{title}</h2><div class="entry">{body}</div>'
        f'<div class="comments">{rng.randrange(2, 40)} תגובות</div></div></div>'
        "<div id='foot'>מופעל על ידי מערכת הבלוגים</div></body></html>"
    )


def magazine(title: str, sentences: list[str], rng: random.Random) -> str:
    paras = _paras(sentences, 4)
    body = "".join(f"<section><p>{p}</p></section>" for p in paras)
    teaser = paras[0].split(" ")[:12]
    return (
        f'<!doctype html><html lang="he" dir="rtl"><head><meta charset="utf-8"><title>{title}</title></head>'
        f'<body><nav class="top"><a href="/">מגזין</a> · <a href="/tarbut">תרבות</a> · <a href="/daat">דעה</a></nav>'
        f'<div class="hero"><h1>{title}</h1><p class="lead">{" ".join(teaser)}...</p></div>'
        f'<div class="article-body">{body}</div><div class="share">שתפו בפייסבוק | שתפו בוואטסאפ</div>'
        f'<div class="newsletter">הירשמו לניוזלטר השבועי</div><footer>© מגזין {rng.randrange(2010, 2025)}</footer>'
        "</body></html>"
    )


def forum(title: str, sentences: list[str], rng: random.Random) -> str:
    body = "<br>".join(_paras(sentences, 3))
    return (
        f'<html dir="rtl"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"<title>פורום: {title}</title></head><body><table width='100%'><tr><td class='crumbs'>"
        f"פורומים &gt; אקטואליה &gt; {title}</td></tr><tr><td><table><tr><td class='user'>"
        f"משתמש{rng.randrange(999)}<br>הודעות: {rng.randrange(1, 5000)}</td><td class='msg'><b>{title}</b><br>"
        f"{body}</td></tr></table></td></tr><tr><td>חזרה לפורום | דווח על הודעה</td></tr></table></body></html>"
    )


TEMPLATES = {"portal": portal, "blog": blog, "magazine": magazine, "forum": forum}


# --- labelled data ----------------------------------------------------------------------------------------
def htb_articles(parity: int | None) -> tuple[list[list[str]], list[str]]:
    """(articles, spare sentences): runs of 10-18 consecutive train sentences; the spare ones are lines to add."""
    from common.sources import htb_sentences

    sents = [s.text for s in htb_sentences("train")]
    rng, articles, i = random.Random(0), [], 0
    while i < len(sents):
        n = rng.randrange(10, 19)
        articles.append(sents[i : i + n])
        i += n
    spare = [a[-1] for a in articles[2::7]]  # never the body of another article
    articles = [a[:-1] if k % 7 == 2 else a for k, a in enumerate(articles) if len(a) >= 8]
    return [a for k, a in enumerate(articles) if parity is None or k % 2 == parity], spare


def edit(sentences: list[str], rate: float, spec: dict, vocab: list[str], spare: list[str], rng) -> list[str]:
    """Word replacements, insertions and deletions at `rate` per word (mixed as spec['ops']), adjacent sentences
    swapped with probability spec['reorder'] each, and one or two lines added."""
    ops, weights = zip(*spec["ops"].items(), strict=True)
    out = []
    for s in sentences:
        words = []
        for w in s.split(" "):
            if rng.random() >= rate:
                words.append(w)
                continue
            op = rng.choices(ops, weights)[0]
            if op == "replace":
                words.append(rng.choice(vocab))
            elif op == "insert":
                words += [w, rng.choice(vocab)]
        out.append(" ".join(words) or s)
    for i in range(len(out) - 1):
        if rng.random() < spec["reorder"] / len(out) * 3:
            out[i], out[i + 1] = out[i + 1], out[i]
    for _ in range(rng.randrange(1, 3)):
        out.insert(rng.randrange(len(out) + 1), rng.choice(spare))
    return out


def shingles(text: str) -> set[int]:
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    from curation.normalize import normalize_hebrew
    from curation.words import HEBREW_WORDS

    sig = MinhashDedupSignature("/tmp/unused-sigs", MinhashConfig(), language=HEBREW_WORDS)
    return set(sig.get_shingles(normalize_hebrew(text)).ravel().tolist())


def jaccard(a: list[str], b: list[str]) -> float:
    x, y = shingles(" ".join(a)), shingles(" ".join(b))
    return len(x & y) / max(1, len(x | y))


def generate(set_name: str, seed: int) -> list[dict]:
    """Labelled pages: url, template, title, sentences, group, role (original/near/exact/related/single), jaccard."""
    from common.sources import hebrew_words

    spec, rng = SETS[set_name], random.Random(seed)
    articles, spare = htb_articles(spec["parity"])
    rng.shuffle(articles)
    vocab = list(hebrew_words(5000))
    pages: list[dict] = []

    def page(sentences, group, role, j=None):
        template = rng.choice(spec["templates"])
        url = f"https://{template}.example/{seed}/{len(pages)}"
        title = " ".join(sentences[0].split(" ")[:6])
        pages.append(
            {
                "url": url,
                "template": template,
                "title": title,
                "sentences": sentences,
                "group": group,
                "role": role,
                "jaccard": j,
            }
        )

    while articles:
        art, group, kind = articles.pop(), len(pages), rng.random()
        page(art, group, "original")
        if kind < 0.5:
            for _ in range(rng.randrange(1, 4)):
                copy = edit(art, rng.uniform(*spec["rate"]), spec, vocab, spare, rng)
                page(copy, group, "near", jaccard(art, copy))
            if rng.random() < 0.3:
                page(art, group, "exact", 1.0)
        elif kind < 0.75 and articles:
            other = articles.pop()
            for _ in range(5):  # distinct articles: Jaccard below 0.5 (0.3-0.45 mostly)
                half = rng.sample(range(len(art)), round(len(art) * rng.uniform(0.5, 0.65)))
                mixed = [art[i] for i in sorted(half)] + other[: len(art) - len(half)]
                if (j := jaccard(art, mixed)) < 0.5:
                    page(mixed, group, "related", j)
                    break
            else:
                pages[-1]["role"] = "single"
        else:
            pages[-1]["role"] = "single"
    return pages


def write_warcs(pages: list[dict], folder: Path, files: int, seed: int) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    folder.mkdir(parents=True, exist_ok=True)
    order = list(range(len(pages)))
    random.Random(seed).shuffle(order)
    rng = random.Random(seed + 1)
    for f in range(files):
        with open(folder / f"part-{f}.warc.gz", "wb") as out:
            writer = WARCWriter(out, gzip=True)
            for i in order[f::files]:
                p = pages[i]
                html = TEMPLATES[p["template"]](p["title"], p["sentences"], rng)
                headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], "HTTP/1.1")
                payload = io.BytesIO(html.encode("utf-8"))
                writer.write_record(
                    writer.create_warc_record(p["url"], "response", payload=payload, http_headers=headers)
                )


# --- pipelines --------------------------------------------------------------------------------------------
def dedup_config(name: str):
    from curation.config import DedupConfig

    if name == "hebatron":
        return DedupConfig()
    if name == "hebatron-14x8":
        from hebatron.recipes import load_recipe

        return load_recipe("fineweb2-dedup").curation.dedup
    bands, threshold = name.removeprefix("hebatron@").split(":")
    b, r = bands.split("x")
    return DedupConfig(num_buckets=int(b), hashes_per_bucket=int(r), verify_threshold=float(threshold))


def run_pipeline(name: str, warcs: Path, work: Path) -> tuple[set[str], set[str]]:
    """(urls that reached dedup, urls kept) of one pipeline on the WARC files in WARCS."""
    import duckdb

    if name == "datatrove-fineweb2":
        from benchmarks.baseline_fineweb2 import run_baseline

        run_baseline(warcs, work, tasks=len(list(warcs.glob("*.warc.gz"))))
        reached = {
            json.loads(line)["metadata"]["url"]
            for f in (work / "filtered").glob("*.jsonl.gz")
            for line in __import__("gzip").open(f, "rt", encoding="utf-8")
        }
        kept = {
            r[0] for r in duckdb.sql(f"SELECT metadata.url FROM read_parquet('{work}/curated/*.parquet')").fetchall()
        }
        return reached, kept
    from curation.config import CurationConfig
    from curation.run import curate

    curate(sorted(warcs.glob("*.warc.gz")), work, CurationConfig(dedup=dedup_config(name)))
    kept = {r[0] for r in duckdb.sql(f"SELECT url FROM read_parquet('{work}/curated/*.parquet')").fetchall()}
    dups = duckdb.sql(
        f"SELECT url FROM read_parquet('{work}/excluded/*.parquet') "
        "WHERE filter_reason IN ('exact_duplicate', 'minhash_duplicate')"
    ).fetchall()
    return kept | {r[0] for r in dups}, kept


def score(pages: list[dict], reached: set[str], kept: set[str]) -> dict:
    groups = defaultdict(list)
    for p in pages:
        groups[p["group"]].append(p)
    recall = defaultdict(lambda: [0, 0])
    one_kept, close_kept = [0, 0], [0, 0]
    merges = [0, 0]
    for members in groups.values():
        original = members[0]
        here = [p for p in members if p["url"] in reached]
        copies = [p for p in here if p["role"] in ("near", "exact")]
        if original["url"] in reached:
            for c in (c for c in copies if c["role"] == "near"):
                bucket = next(b for b in BUCKETS if b[0] <= c["jaccard"] < b[1])
                recall[bucket][1] += 1
                # resolved: the two are not both kept, and their group still has a copy (maybe a third one)
                both = original["url"] in kept and c["url"] in kept
                recall[bucket][0] += not both and any(p["url"] in kept for p in here)
        if copies and len(here) >= 2:
            alone = sum(p["url"] in kept for p in here) == 1
            one_kept[1] += 1
            one_kept[0] += alone
            if all(c["jaccard"] >= 0.7 for c in copies):
                close_kept[1] += 1
                close_kept[0] += alone
        related = [p for p in here if p["role"] == "related"]
        if related and original["url"] in reached:
            merges[1] += 1
            merges[0] += not (original["url"] in kept and related[0]["url"] in kept)
    singles = [p for p in pages if p["role"] == "single" and p["url"] in reached]
    return {
        "recall": {f"{lo:.1f}-{min(hi, 1.0):.1f}": recall[(lo, hi)] for lo, hi in BUCKETS},
        "groups_one_kept": one_kept,
        "close_groups_one_kept": close_kept,
        "related_merged": merges,
        "singles_dropped": [sum(p["url"] not in kept for p in singles), len(singles)],
    }


def add(total: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            add(total.setdefault(key, {}), value)
        else:
            t = total.setdefault(key, [0, 0])
            t[0], t[1] = t[0] + value[0], t[1] + value[1]


def frac(x: list[int]) -> str:
    return f"{x[0] / x[1]:.2f} ({x[0]}/{x[1]})" if x[1] else "–"


def table(results: dict[str, dict]) -> str:
    buckets = list(next(iter(results.values()))["recall"])
    head = [
        "pipeline",
        *(f"J {b}" for b in buckets),
        "J ≥ 0.7",
        "groups one kept",
        "groups (copies J ≥ 0.7) one kept",
        "related merged",
        "singles lost",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        high = [sum(r["recall"][b][i] for b in buckets if float(b[:3]) >= 0.7) for i in (0, 1)]
        cells = [frac(r["recall"][b]) for b in buckets]
        lines.append(
            f"| {name} | "
            + " | ".join(
                [
                    *cells,
                    frac(high),
                    frac(r["groups_one_kept"]),
                    frac(r["close_groups_one_kept"]),
                    frac(r["related_merged"]),
                    frac(r["singles_dropped"]),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def labelled(args) -> None:
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="near-dup-") as tmp:
        for seed in args.seeds:
            pages = generate(args.set, seed)
            warcs = Path(tmp) / f"warc-{seed}"
            write_warcs(pages, warcs, args.files, seed)
            near = [p["jaccard"] for p in pages if p["role"] == "near"]
            rel = [p["jaccard"] for p in pages if p["role"] == "related"]
            print(
                f"seed {seed}: {len(pages)} pages, {len(near)} near copies, {len(rel)} related pairs "
                f"(J {min(rel):.2f}-{max(rel):.2f})",
                file=sys.stderr,
            )
            for name in args.pipelines:
                start = time.perf_counter()
                reached, kept = run_pipeline(name, warcs, Path(tmp) / f"{name}-{seed}")
                add(results.setdefault(name, {}), score(pages, reached, kept))
                print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"set {args.set}, seeds {','.join(map(str, args.seeds))}\n")
    print(table(results))


# --- scale ------------------------------------------------------------------------------------------------
SCALE_CHILD = """
import sys, json, resource, time
from pathlib import Path
from loguru import logger
logger.remove()
from curation.config import CurationConfig
from curation.run import curate
from benchmarks.bench_near_dup import dedup_config
start = time.perf_counter()
curate(sorted(Path(sys.argv[1]).glob('*.jsonl')), Path(sys.argv[2]), CurationConfig(dedup=dedup_config(sys.argv[3])))
print(json.dumps({"wall_s": time.perf_counter() - start}))
"""


def scale_docs(n: int, folder: Path, files: int, seed: int = 5) -> None:
    """N documents as JSONL: distinct articles of 10-18 random train sentences; 10% get a near copy (word
    edits at 0-8%) and 5% an exact copy, the sample crawl's shares."""
    from common.sources import hebrew_words, htb_sentences

    rng, sents, vocab = random.Random(seed), [s.text for s in htb_sentences("train")], list(hebrew_words(5000))
    spec = SETS["tune"]
    folder.mkdir(parents=True, exist_ok=True)
    outs = [open(folder / f"part-{f}.jsonl", "w", encoding="utf-8") for f in range(files)]
    written = 0
    while written < n:
        art = rng.sample(sents, rng.randrange(10, 19))
        docs = [art]
        if rng.random() < 0.10:
            docs.append(edit(art, rng.uniform(0, 0.08), spec, vocab, sents, rng))
        if rng.random() < 0.05:
            docs.append(art)
        for d in docs[: n - written]:
            rec = {"id": f"d{written}", "text": "\n".join(d)}
            outs[rng.randrange(files)].write(json.dumps(rec, ensure_ascii=False) + "\n")
            written += 1
    for f in outs:
        f.close()


def scale(args) -> None:
    n = 451 * args.scale
    with tempfile.TemporaryDirectory(prefix="near-dup-scale-") as tmp:
        scale_docs(n, Path(tmp) / "in", args.files)
        for name in args.pipelines:
            run = Path(tmp) / name
            subprocess.run(
                [sys.executable, "-c", SCALE_CHILD, str(Path(tmp) / "in"), str(run), name],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # again, only the MinHash stages: a fresh process, so its peak memory is theirs
            for stage in ("minhash_sig", "minhash_buckets", "minhash_cluster", "minhash_filter", "publish"):
                shutil.rmtree(run / ".work" / "logs" / stage / "completions", ignore_errors=True)
            (run / "stats.json").unlink()
            rss = Path(tmp) / f"{name}.rss"
            out = subprocess.run(
                [
                    "/usr/bin/time",
                    "-o",
                    str(rss),
                    "-f",
                    "%M",
                    sys.executable,
                    "-c",
                    SCALE_CHILD,
                    str(Path(tmp) / "in"),
                    str(run),
                    name,
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            steps = json.loads((run / "step_stats.json").read_text())
            seconds = {s["stage"]: 0.0 for s in steps if s["stage"].startswith("minhash")}
            for s in steps:
                if s["stage"] in seconds:
                    seconds[s["stage"]] += s["seconds"]
            wall = json.loads(out.stdout.strip().splitlines()[-1])["wall_s"]
            print(
                json.dumps(
                    {
                        "pipeline": name,
                        "docs": n,
                        "dedup_wall_s": round(wall, 1),
                        "peak_rss_mib": round(int(rss.read_text().split()[-1]) / 1024),
                        "step_seconds": {k: round(v, 1) for k, v in seconds.items()},
                    }
                )
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted(SETS), default="report")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[11, 12, 13])
    ap.add_argument("--files", type=int, default=4, help="input files the pages are spread over")
    ap.add_argument(
        "--pipelines", type=lambda s: s.split(","), default=["hebatron", "hebatron-14x8", "datatrove-fineweb2"]
    )
    ap.add_argument("--scale", type=int, default=0, help="time the MinHash stages on SCALE x 451 JSONL documents")
    args = ap.parse_args()
    from loguru import logger

    logger.remove()
    if args.scale:
        scale(args)
    else:
        labelled(args)


if __name__ == "__main__":
    main()
