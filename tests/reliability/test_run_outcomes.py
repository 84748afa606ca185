"""Curation runs with unusual outcomes: nothing survives, ids repeat, much of the input is damaged, the run
directory lies inside its input folder."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curation.config import CurationConfig, DedupConfig
from curation.output import CURATED_SCHEMA, EXCLUDED_SCHEMA, make_ids_unique
from curation.run import curate
from curation.stats import report_damaged_input
from hebatron.catalog import query
from tests.curation.helpers import html_page, write_jsonl, write_warc
from tests.reliability.helpers import hebatron

ENGLISH = "This is an English paragraph about the weather in spring and the rain that follows. " * 12


def _table(folder: Path, columns: list[str] | None = None) -> pa.Table:
    return pa.concat_tables(pq.read_table(f, columns=columns) for f in sorted(folder.glob("*.parquet")))


def _all_ids(run: Path) -> list[str]:
    return [i for name in ("curated", "excluded") for i in _table(run / name, ["id"]).column("id").to_pylist()]


# -- nothing survives --------------------------------------------------------------------------------------


def _english_only(folder: Path) -> int:
    write_jsonl(folder / "en.jsonl", [{"id": f"en-{i}", "text": f"{i} {ENGLISH}"} for i in range(3)])
    return 3


def _zero_byte_jsonl(folder: Path) -> int:
    (folder / "empty.jsonl").touch()
    return 0


def _warc_without_responses(folder: Path) -> int:
    with open(folder / "requests.warc.gz", "wb") as f:
        w = WARCWriter(f, gzip=True)
        request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "x.example")], is_http_request=True)
        w.write_record(w.create_warc_record("http://x.example/", "request", http_headers=request))
        meta = io.BytesIO(b"fetchTimeMs: 5\n")
        w.write_record(w.create_warc_record("http://x.example/", "metadata", payload=meta))
        response = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        revisit = w.create_revisit_record(
            "http://x.example/", "sha1:AAAA", "http://x.example/", "2020-01-01T00:00:00Z", http_headers=response
        )
        w.write_record(revisit)
    return 0


NO_DEDUP = CurationConfig(dedup=DedupConfig(exact=False, minhash=False))
EXACT_ONLY = CurationConfig(dedup=DedupConfig(minhash=False))


@pytest.mark.parametrize(
    ("make_input", "config"),
    [
        (_english_only, None),
        (_english_only, NO_DEDUP),
        (_english_only, EXACT_ONLY),
        (_zero_byte_jsonl, None),
        (_warc_without_responses, None),
    ],
    ids=["english", "english-no-dedup", "english-exact-only", "zero-byte-jsonl", "warc-without-responses"],
)
def test_run_without_survivors_publishes_empty_curated_and_stats(tmp_path, make_input, config):
    folder = tmp_path / "in"
    folder.mkdir()
    records = make_input(folder)
    run = tmp_path / "run"
    stats = curate([folder], run, config)
    assert stats["input_documents"] == stats["excluded_documents"] == records
    assert stats["curated_documents"] == 0
    assert stats["funnel"][0]["documents_in"] == records
    curated = _table(run / "curated")
    assert curated.num_rows == 0 and curated.schema == CURATED_SCHEMA
    excluded = _table(run / "excluded")
    assert excluded.num_rows == records and excluded.schema == EXCLUDED_SCHEMA
    assert json.loads((run / "stats.json").read_text()) == stats
    cols, rows = query(run, "SELECT count(*) AS n FROM curated")
    assert rows == [(0,)]
    assert curate([folder], run, config)["resumed"] == "already complete"


def test_score_on_a_run_without_survivors_says_so_in_one_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _english_only(folder)
    run = tmp_path / "run"
    hebatron("curate", folder, "-o", run)
    proc = hebatron("score", run, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {run / 'curated'} holds no documents: every input record was excluded "
        f"(see `hebatron stats {run}`); nothing to score"
    )
    assert not (run / "cutoffs.json").exists()
    assert "curated 0 of" in hebatron("stats", run).stdout


# -- ids ----------------------------------------------------------------------------------------------------


def test_repeated_input_ids_become_unique_and_the_first_kept_keeps_its_id(tmp_path, news_docs):
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(
        folder / "a.jsonl",
        [
            {"id": "x", "text": news_docs[0]},
            {"id": "x", "text": news_docs[1]},
            {"id": "y", "text": news_docs[2]},
            {"id": "x", "text": ENGLISH},  # excluded: ids are unique across curated and excluded
        ],
    )
    write_jsonl(folder / "b.jsonl", [{"id": "x", "text": news_docs[3]}, {"id": "y", "text": news_docs[4]}])
    run = tmp_path / "run"
    stats = curate([folder], run)
    assert stats["input_documents"] == 6 and stats["curated_documents"] == 5
    ids = _all_ids(run)
    assert len(ids) == len(set(ids)) == 6
    curated = _table(run / "curated", ["id", "text", "source"]).to_pylist()
    by_id = {r["id"]: r for r in curated}
    assert by_id["x"]["text"] == news_docs[0] and by_id["x"]["source"] == "a.jsonl"
    assert by_id["y"]["text"] == news_docs[2] and by_id["y"]["source"] == "a.jsonl"
    renamed = sorted(i for i in ids if i not in ("x", "y"))
    assert len(renamed) == 4 and all(i.startswith(("x@a.jsonl", "x@b.jsonl", "y@b.jsonl")) for i in renamed)


def test_a_kept_document_keeps_its_id_when_an_earlier_record_with_it_was_excluded(tmp_path, news_docs):
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [{"id": "x", "text": ENGLISH}])  # first in input order, excluded
    write_jsonl(folder / "b.jsonl", [{"id": "x", "text": news_docs[0]}])
    run = tmp_path / "run"
    curate([folder], run)
    assert _table(run / "curated", ["id", "source_id"]).to_pylist() == [{"id": "x", "source_id": "x"}]
    excluded = _table(run / "excluded", ["id", "source_id", "filter_reason"]).to_pylist()
    assert excluded == [{"id": "x@a.jsonl:1", "source_id": "x", "filter_reason": "language:en"}]


def _work_file(path: Path, rows: list[tuple[str, str, int]], *, reasons: list[str] | None = None) -> Path:
    """A work-output Parquet file: curated, or excluded with REASONS (one per row)."""
    schema = CURATED_SCHEMA if reasons is None else EXCLUDED_SCHEMA
    cols = {f.name: [None] * len(rows) for f in schema}
    cols["id"], cols["source"], cols["position"] = (list(c) for c in zip(*rows, strict=True))
    cols["text"] = [f"text of {i}@{s}:{p}" for i, s, p in rows]
    if reasons is not None:
        cols["filter_reason"] = reasons
    pq.write_table(pa.table(cols, schema=schema), path)
    return path


def test_make_ids_unique_follows_the_plan_order_and_rewrites_only_files_with_repeats(tmp_path):
    curated, excluded = tmp_path / "curated", tmp_path / "excluded"
    curated.mkdir()
    excluded.mkdir()
    # the plan lists b.jsonl before a.jsonl: its records come first
    _work_file(curated / "00000.parquet", [("x", "a.jsonl", 9), ("x", "a.jsonl", 2), ("u", "a.jsonl", 5)])
    _work_file(curated / "00001.parquet", [("x", "b.jsonl", 7), ("y", "b.jsonl", 8)])
    _work_file(excluded / "language-00000.parquet", [("y", "a.jsonl", 1)], reasons=["language:en"])
    untouched = _work_file(excluded / "reader-00000.parquet", [("w", "a.jsonl", 3)], reasons=["reader:no_text"])
    before = untouched.stat()
    renamed = make_ids_unique([curated, excluded], ["b.jsonl", "a.jsonl"], tmp_path / "tmp")
    assert renamed == 3
    got = {(r["source"], r["position"]): r["id"] for d in (curated, excluded) for r in _table(d).to_pylist()}
    assert got == {
        ("a.jsonl", 9): "x@a.jsonl:9",
        ("a.jsonl", 2): "x@a.jsonl:2",
        ("a.jsonl", 5): "u",
        ("b.jsonl", 7): "x",
        ("b.jsonl", 8): "y",
        ("a.jsonl", 1): "y@a.jsonl:1",
        ("a.jsonl", 3): "w",
    }
    after = untouched.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _table(curated).schema == CURATED_SCHEMA and _table(excluded).schema == EXCLUDED_SCHEMA
    assert make_ids_unique([curated, excluded], ["b.jsonl", "a.jsonl"], tmp_path / "tmp") == 0


def test_a_new_id_that_clashes_with_an_input_id_is_renamed_again(tmp_path):
    curated = tmp_path / "curated"
    curated.mkdir()
    _work_file(curated / "00000.parquet", [("x", "a.jsonl", 1), ("x", "a.jsonl", 2), ("x@a.jsonl:2", "b.jsonl", 1)])
    make_ids_unique([curated], ["a.jsonl", "b.jsonl"], tmp_path / "tmp")
    ids = _table(curated, ["id"]).column("id").to_pylist()
    assert ids == ["x", "x@a.jsonl:2", "x@a.jsonl:2@b.jsonl:1"]


# -- damaged input ------------------------------------------------------------------------------------------


def _damaged_folder(folder: Path, news_docs: list[str]) -> int:
    """Files with damaged records of every simple kind; returns how many records they hold."""
    folder.mkdir()
    n = 0
    for k in range(4):
        records = [
            {"id": f"good-{k}", "text": news_docs[k]},
            b"{not json\n",
            b'{"id": "latin", "text": "caf\xe9"}\n',
            {"id": f"empty-{k}", "text": ""},
            {"id": f"none-{k}", "text": None},
            {"id": f"nokey-{k}"},
            b"[1, 2]\n",
            b"{truncated\n",
        ]
        write_jsonl(folder / f"part-{k}.jsonl", records)
        n += len(records)
    table = pa.table({"id": ["p0", "p1", "p2"], "text": [news_docs[10], "", None]})
    pq.write_table(table, folder / "rows.parquet")
    n += 3
    pages = [(f"http://x.example/{i}", html_page(news_docs[20 + i]), "utf-8") for i in range(3)]
    write_warc(folder / "pages.warc.gz", pages)
    n += 3
    return n


@pytest.fixture(scope="module")
def damaged_run(news_docs, tmp_path_factory) -> tuple[Path, int, str]:
    base = tmp_path_factory.mktemp("damaged")
    records = _damaged_folder(base / "in", news_docs)
    run = base / "run"
    proc = hebatron("curate", base / "in", "-o", run)
    return run, records, proc.stderr


def test_damaged_input_curates_with_every_record_accounted_for(damaged_run):
    run, records, stderr = damaged_run
    assert "Traceback" not in stderr
    curated, excluded = _table(run / "curated"), _table(run / "excluded")
    assert curated.num_rows + excluded.num_rows == records
    stats = json.loads((run / "stats.json").read_text())
    assert stats["input_documents"] == records == stats["curated_documents"] + stats["excluded_documents"]
    assert stats["curated_documents"] == curated.num_rows >= 8
    ids = _all_ids(run)
    assert len(ids) == len(set(ids))


def test_damaged_input_is_summarized_in_one_line_per_reason(damaged_run):
    run, _, stderr = damaged_run
    lines = report_damaged_input(run)
    reasons = [line.split(":", 2)[0] + ":" + line.split(":", 2)[1] for line in lines]
    assert reasons[0] == "reader:no_text"  # the most frequent first
    assert {
        "reader:malformed_json",
        "reader:not_an_object",
        "reader:invalid_utf8",
        "reader:empty_text",
        "reader:no_text",
    } == set(reasons)
    assert any(line.startswith("reader:malformed_json: 8 records (part-0.jsonl:2, part-0.jsonl:8, ") for line in lines)
    assert any(line.startswith("reader:not_an_object: 4 records (part-0.jsonl:7, part-1.jsonl:7, ") for line in lines)
    assert any(line.startswith("reader:invalid_utf8: 4 records (part-0.jsonl:3, ") for line in lines)
    for line in lines:
        assert line in stderr


# -- a run inside its input folder --------------------------------------------------------------------------


def test_run_inside_its_input_folder_resumes(tmp_path, news_docs):
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "news.jsonl", [{"id": f"n{i}", "text": t} for i, t in enumerate(news_docs[:5])])
    first = hebatron("curate", folder, "-o", folder / "run")
    second = hebatron("curate", folder, "-o", folder / "run")
    assert "already complete" in second.stderr + second.stdout, first.stderr + second.stderr
    # another run kept in the folder is not an input either
    os.replace(folder / "run", folder / "older-run")
    assert curate([folder], tmp_path / "elsewhere")["input_documents"] == 5


def test_damaged_input_examples_are_file_and_position_in_order(tmp_path):
    excluded = tmp_path / "excluded"
    excluded.mkdir()
    rows = [("r1", "b.jsonl", 4), ("r2", "a.jsonl", 30), ("r3", "a.jsonl", 9), ("r4", "c.warc.gz", 1024)]
    _work_file(excluded / "reader-00000.parquet", rows, reasons=["reader:malformed_json"] * 3 + ["extraction:error"])
    _work_file(excluded / "language-00000.parquet", [("r5", "a.jsonl", 1)], reasons=["language:en"])  # not damage
    lines = report_damaged_input(tmp_path)
    assert lines == [
        "reader:malformed_json: 3 records (a.jsonl:9, a.jsonl:30, b.jsonl:4)",
        "extraction:error: 1 record (c.warc.gz:1024)",
    ]
