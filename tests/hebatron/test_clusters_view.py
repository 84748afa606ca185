"""The `clusters` view: each MinHash cluster's kept document and its dropped near-duplicates, with reasons."""

from __future__ import annotations

import pytest

from curation.run import curate
from hebatron.catalog import query
from tests.curation.helpers import near_copy, write_jsonl


@pytest.fixture(scope="module")
def run(news_docs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clusters")
    docs = news_docs[:24]
    # doc 0 gets 3 near-copies, doc 1 one; the rest are singletons
    records = [{"id": f"d{i}", "text": t} for i, t in enumerate(docs)]
    records += [{"id": f"d0-copy{k}", "text": near_copy(docs[0], k)} for k in range(3)]
    records += [{"id": "d1-copy0", "text": near_copy(docs[1], 0)}]
    run = tmp / "run"
    curate([write_jsonl(tmp / "in.jsonl", records)], run)
    return run


def test_clusters_name_the_kept_document_and_each_dropped_member(run):
    cols, rows = query(run, "SELECT cluster_id, size, kept_id, members FROM clusters ORDER BY size DESC")
    assert cols == ["cluster_id", "size", "kept_id", "members"]
    assert [r[1] for r in rows] == [4, 2]
    groups = {frozenset([r[2], *(m["id"] for m in r[3])]) for r in rows}
    assert groups == {frozenset({"d0", "d0-copy0", "d0-copy1", "d0-copy2"}), frozenset({"d1", "d1-copy0"})}
    for _, size, kept, members in rows:
        assert len(members) == size - 1
        assert {m["filter_reason"] for m in members} == {"minhash_duplicate"}
        assert kept not in {m["id"] for m in members}


def test_cluster_ids_join_curated_and_excluded(run):
    _, kept = query(
        run, "SELECT id, minhash_cluster_id, minhash_cluster_size FROM curated WHERE minhash_cluster_id IS NOT NULL"
    )
    assert {(r[0], r[2]) for r in kept} <= {
        ("d0", 4),
        ("d1", 2),
        ("d0-copy0", 4),
        ("d0-copy1", 4),
        ("d0-copy2", 4),
        ("d1-copy0", 2),
    }
    assert len(kept) == 2
    _, singles = query(run, "SELECT count(*) FROM curated WHERE minhash_cluster_id IS NULL")
    assert singles[0][0] == 22
    _, dropped = query(
        run,
        "SELECT count(*) FROM excluded e JOIN curated c USING (minhash_cluster_id) "
        "WHERE e.filter_reason = 'minhash_duplicate'",
    )
    assert dropped[0][0] == 4
