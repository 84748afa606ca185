"""Measures a curation run against a labelled crawl (the sample crawl's labels.jsonl).

Label lines: {"record_id", "url", "kind", "expected": "keep"|"drop", "charset", "dup_group", "variant"}.
A news article counts as kept when any page of its duplicate group survives; a duplicate group is
resolved when exactly one of its pages survives.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

OTHER_LANGUAGES = ("yiddish", "arabic", "english")


def read_labels(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def curated_ids(curated_glob: str) -> tuple[set[str], int]:
    """The ids of the curated Parquet files matching CURATED_GLOB (e.g. ``RUN/curated/*.parquet``)."""
    import glob

    import pyarrow.parquet as pq

    ids = [i for f in sorted(glob.glob(curated_glob)) for i in pq.read_table(f, columns=["id"]).column(0).to_pylist()]
    return set(ids), len(ids)


def evaluate(curated_glob: str, labels_path: Path) -> dict:
    labels = read_labels(labels_path)
    kept, n_rows = curated_ids(curated_glob)
    groups: dict[str, list[dict]] = defaultdict(list)
    for lab in labels:
        if lab.get("dup_group"):
            groups[lab["dup_group"]].append(lab)

    def survives(lab: dict) -> bool:
        members = groups.get(lab.get("dup_group") or "", [lab])
        return any(m["record_id"] in kept for m in members)

    news = [lab for lab in labels if lab["kind"] == "news"]
    cp1255 = [lab for lab in news if lab.get("charset") == "windows-1255"]
    others = [lab for lab in labels if lab["kind"] in OTHER_LANGUAGES]
    spam = [lab for lab in labels if lab["kind"].startswith("spam")]
    multi = {g: m for g, m in groups.items() if len(m) > 1}
    resolved = {g: sum(m["record_id"] in kept for m in members) == 1 for g, members in multi.items()}
    by_variant: dict[str, list[bool]] = defaultdict(list)
    for g, members in multi.items():
        for m in members:
            if m.get("variant"):
                by_variant[m["variant"]].append(resolved[g])
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for lab in labels:
        by_kind[lab["kind"]].append(lab["record_id"] in kept)
    return {
        "pages": len(labels),
        "curated_rows": n_rows,
        "unique_ids": len(kept) == n_rows,
        "news_kept": _rate(sum(map(survives, news)), len(news)),
        "news_windows_1255_kept": _rate(sum(map(survives, cp1255)), len(cp1255)),
        "other_languages_dropped": _rate(sum(o["record_id"] not in kept for o in others), len(others)),
        "spam_dropped": _rate(sum(s["record_id"] not in kept for s in spam), len(spam)),
        "duplicate_groups_resolved": _rate(sum(resolved.values()), len(resolved)),
        "duplicate_groups": len(resolved),
        "resolved_by_variant": {v: _rate(sum(r), len(r)) for v, r in sorted(by_variant.items())},
        "kept_by_kind": {k: _rate(sum(v), len(v)) for k, v in sorted(by_kind.items())},
    }
