"""The contamination audit at shard time, and --decontaminate on shard."""

from __future__ import annotations

import dataclasses
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq

from hebatron.catalog import query
from shards.contamination import audit, audit_index
from tests.curation.test_decont import plant, vary


def test_manifest_and_view_report_the_eval_sets_per_phase(sharded) -> None:
    run, manifest = sharded
    c = manifest["contamination"]
    assert {"eval-he", "eval-en"} <= set(c["tasks"]) and c["n_grams"] == 12
    assert set(c["phases"]) == {"1", "2", "3"}
    for phase in c["phases"].values():
        for counts in phase.values():
            assert counts["documents"] == counts["hebrew_documents"] + counts["anchor_documents"]
    cols, rows = query(run, "SELECT phase, task, count(*) AS documents, sum(tokens) FROM contamination GROUP BY ALL")
    got = {(str(p), t): (d, n) for p, t, d, n in rows}
    want = {
        (k, t): (v["documents"], v["tokens"]) for k, ph in c["phases"].items() for t, v in ph.items() if v["documents"]
    }
    assert got == want


def test_audit_finds_varied_eval_text_in_a_shard(tmp_path, news_docs) -> None:
    """A shard row holding HTB dev text (re-spelt) is counted against eval-he, with its tokens; clean rows are not."""
    from common.sources import heldout_hebrew_documents

    rng = random.Random(7)
    leaked = plant(vary(heldout_hebrew_documents()[3], rng), news_docs[0], rng)
    (tmp_path / "phase-1").mkdir()
    texts = [leaked, *news_docs[1:5]]
    pq.write_table(
        pa.table({"id": [f"d{i}" for i in range(5)], "text": texts, "role": ["hebrew"] * 5}),
        tmp_path / "phase-1" / "part-00000.parquet",
    )
    phases = {"1": {"files": [{"path": "phase-1/part-00000.parquet"}]}}
    entry = audit(tmp_path, phases, audit_index(["some english text"], ()), lambda t: [7] * len(t), lambda n: None)
    assert entry["phases"]["1"]["eval-he"] == {
        "documents": 1,
        "tokens": 7,
        "hebrew_documents": 1,
        "anchor_documents": 0,
    }
    rows = pq.read_table(tmp_path / "contamination.parquet").to_pylist()
    assert [(r["id"], r["task"], r["row"]) for r in rows] == [("d0", "eval-he", 0)]


def test_shard_decontaminate_leaves_matches_out_of_every_phase(fresh_run, anchors, config, tmp_path) -> None:
    from shards.run import shard_run

    curated = pq.read_table(fresh_run / "curated", columns=["id", "text"]).to_pylist()
    rng = random.Random(1)
    picked = curated[::40][:3]
    bench = tmp_path / "leaky.jsonl"
    bench.write_text(
        "".join(json.dumps({"text": vary(r["text"], rng)}, ensure_ascii=False) + "\n" for r in picked),
        encoding="utf-8",
    )
    manifest = shard_run(fresh_run, [anchors], dataclasses.replace(config, decontaminate=(str(bench),)), progress=False)
    # what should go: the picked documents and every other one sharing 12 canonical words with them (the sample
    # crawl's pages quote each other), found here with plain sets
    from curation.decont.canon import canonical_words

    def grams(text):
        w = canonical_words(text)
        return {tuple(w[i : i + 12]) for i in range(len(w) - 11)}

    bench_grams = set().union(*(grams(r["text"]) for r in picked))
    ids = {r["id"] for r in curated if grams(r["text"]) & bench_grams}
    assert {r["id"] for r in picked} <= ids
    _, shard_ids = query(fresh_run, "SELECT id FROM shards WHERE role = 'hebrew'")
    assert not ids & {r[0] for r in shard_ids}
    assert len(shard_ids) == len(curated) - len(ids)
    assert manifest["contamination"]["decontaminated"]["documents"] == {"leaky": len(ids)}
    assert sum(p["hebrew"]["documents"] for p in manifest["phases"].values()) == len(curated) - len(ids)
    _, rows = query(
        fresh_run, "SELECT id, filter_reason, matched_ngram FROM excluded WHERE filter_reason LIKE 'decont%'"
    )
    assert {r[0] for r in rows} == ids and {r[1] for r in rows} == {"decontamination:leaky"}
    assert all(len(r[2].split()) == 12 for r in rows)
    # the audit, which also checks the given index, finds nothing of it left in the phases
    assert all(p["leaky"]["documents"] == 0 for p in manifest["contamination"]["phases"].values())
