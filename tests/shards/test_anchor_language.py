"""Anchor files are checked: their language identified with lid.176, non-English documents and curated Hebrew
documents left out of the pool with a counted reason, a file mostly not English refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from common.text import is_hebrew_letter
from shards.anchors import AnchorError, check_anchors, discover_anchors, iter_anchor_batches, sample_anchor_documents


def _jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def _norm(text: str) -> str:
    return " ".join(text.split())


def _curated_texts(run: Path) -> list[str]:
    return [t for f in sorted((run / "curated").glob("*.parquet")) for t in pq.read_table(f)["text"].to_pylist()]


def _pool(anchors) -> list[str]:
    return [t for a in anchors for _, texts in iter_anchor_batches(a) for t in texts]


@pytest.fixture(scope="module")
def english() -> list[str]:
    return [d["text"] for d in sample_anchor_documents()]


def test_hebrew_anchor_file_is_refused(fresh_run, tmp_path, anchors, news_docs) -> None:
    from shards.config import ShardConfig
    from shards.run import shard_run

    hebrew = _jsonl(tmp_path / "he.jsonl", news_docs[:40])
    with pytest.raises(AnchorError, match=r"he\.jsonl: 40 of 40 anchor documents are not English \(he: 40\)"):
        shard_run(fresh_run, [anchors, hebrew], ShardConfig(), progress=False)
    assert not (fresh_run / "shards").exists()
    assert not list(fresh_run.glob(".shards.tmp-*"))


def test_refusal_threshold_is_more_than_half(tmp_path, english, htb_train) -> None:
    hebrew = [" ".join(htb_train[i : i + 5]) for i in range(0, 50, 5)]
    half = discover_anchors([_jsonl(tmp_path / "half.jsonl", english[:10] + hebrew[:10])])
    checked, excluded = check_anchors(half, [])
    assert excluded == {"language:he": 10}
    assert _pool(checked) == english[:10]
    most = discover_anchors([_jsonl(tmp_path / "most.jsonl", english[:9] + hebrew[:10])])
    with pytest.raises(AnchorError, match=r"most\.jsonl: 10 of 19 anchor documents are not English"):
        check_anchors(most, [])


def test_copies_of_hebrew_rows_and_unscorable_text_are_left_out(tmp_path, english) -> None:
    # a "curated" document that is English text: an anchor with the same text (other whitespace) is dropped
    curated = [["שלום עולם", "  " + english[3].replace(" ", "\n  ") + "\n"], [None, english[7]]]
    lone_surrogate = "An English sentence with a broken character \ud800 in it, long enough to be scored."
    path = _jsonl(tmp_path / "en.jsonl", [*english[:20], lone_surrogate])
    checked, excluded = check_anchors(discover_anchors([path]), iter(curated))
    assert excluded == {"hebrew_duplicate": 2, "language:unscorable": 1}
    assert checked[0].excluded == {3, 7, 20}
    assert _pool(checked) == [t for i, t in enumerate(english[:20]) if i not in (3, 7)]


def test_shards_hold_no_hebrew_anchor_and_no_document_twice(fresh_run, tmp_path, anchors, htb_train) -> None:
    from shards.config import ShardConfig
    from shards.run import shard_run

    curated = _curated_texts(fresh_run)
    known = {_norm(t) for t in curated}
    fresh_hebrew = [d for d in (" ".join(htb_train[i : i + 6]) for i in range(3000, 3060, 6)) if _norm(d) not in known]
    copies = [t.replace("\n", "\n\n ") + "  " for t in curated[:5]]  # curated documents, whitespace changed
    mixed = _jsonl(tmp_path / "mixed.jsonl", [*fresh_hebrew, *copies])  # as many English documents follow
    with mixed.open("a", encoding="utf-8") as fh:
        for line in anchors.read_text(encoding="utf-8").splitlines()[:40]:
            fh.write(line + "\n")
    manifest = shard_run(fresh_run, [anchors, mixed], ShardConfig(shard_rows=60), progress=False)

    assert manifest["anchors_excluded"] == {"hebrew_duplicate": len(copies), "language:he": len(fresh_hebrew)}
    rows = pq.read_table(fresh_run / "shards" / "phase-1").to_pylist()
    rows += pq.read_table(fresh_run / "shards" / "phase-2").to_pylist()
    rows += pq.read_table(fresh_run / "shards" / "phase-3").to_pylist()
    anchor_texts = {_norm(r["text"]) for r in rows if r["role"] == "anchor"}
    hebrew_texts = {_norm(r["text"]) for r in rows if r["role"] == "hebrew"}
    assert anchor_texts and not anchor_texts & hebrew_texts
    assert not any(sum(map(is_hebrew_letter, t)) > 20 for t in anchor_texts)
    # the documents left out are left out of the held-out set too, and rows carry their file's record numbers
    held = pq.read_table(fresh_run / "shards" / "eval" / "anchor.parquet").to_pylist()
    assert not any(_norm(r["text"]) in known for r in held)
    mixed_records = {int(r["id"].split(":")[2].split("#")[0]) for r in rows + held if ":mixed:" in r["id"]}
    assert mixed_records and min(mixed_records) >= len(fresh_hebrew) + len(copies)
