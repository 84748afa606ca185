"""End to end on the built-in sample crawl: the quality bar, bad input, resume, locks, executors."""

import json
import subprocess
import sys

import duckdb
import pytest

from curation.run import CurationError, curate, run_lock
from hebatron.sample_crawl.evaluate import evaluate
from tests.curation.helpers import html_page, write_jsonl, write_warc


def test_quality_bar_on_sample_crawl(crawl, curated_run):
    run, _ = curated_run
    m = evaluate(str(run / "curated" / "*.parquet"), crawl.labels_path)
    assert m["unique_ids"]
    assert m["news_kept"] >= 0.90
    assert m["news_windows_1255_kept"] >= 0.90
    assert m["other_languages_dropped"] >= 0.95
    assert m["spam_dropped"] >= 0.80
    assert m["duplicate_groups_resolved"] >= 0.90


def test_every_record_accounted_for_with_the_contract_columns(crawl, curated_run):
    run, stats = curated_run
    pages = sum(1 for _ in open(crawl.labels_path))
    assert stats["input_documents"] == pages
    con = duckdb.connect()
    cur = con.sql(f"SELECT * FROM read_parquet('{run}/curated/*.parquet')")
    assert cur.columns == [
        "id",
        "text",
        "url",
        "source",
        "source_id",
        "position",
        "lang",
        "lang_score",
        "minhash_cluster_size",
        "minhash_cluster_id",
        "date",
        "dump",
        "source_language_score",
        "source_cluster_size",
    ]
    exc = con.sql(f"SELECT * FROM read_parquet('{run}/excluded/*.parquet')")
    assert exc.columns[-2:] == ["filter_reason", "matched_ngram"]
    ids = [
        r[0]
        for r in con.sql(
            f"SELECT id FROM read_parquet('{run}/curated/*.parquet') UNION ALL "
            f"SELECT id FROM read_parquet('{run}/excluded/*.parquet')"
        ).fetchall()
    ]
    assert len(ids) == len(set(ids)) == pages
    reasons = {r[0] for r in exc.select("filter_reason").fetchall()}
    assert {"language:yi", "language:ar", "language:en", "exact_duplicate"} <= reasons
    assert all(":" in r or r in ("exact_duplicate", "minhash_duplicate") for r in reasons)
    sizes = con.sql(f"SELECT max(minhash_cluster_size) FROM read_parquet('{run}/curated/*.parquet')").fetchall()
    assert sizes[0][0] >= 2
    steps = json.loads((run / "step_stats.json").read_text())
    lid = next(s for s in steps if s["stage"] == "filter" and "Language ID" in s["step"])
    assert json.loads(lid["counters"])["dropped_language:yi"] >= 1


def test_rerun_is_a_no_op_and_resume_redoes_only_missing_work(crawl, curated_run, tmp_path):
    run, stats = curated_run
    again = curate([crawl.warc_path], run)
    assert again["resumed"] == "already complete" and again["curated_documents"] == stats["curated_documents"]


def test_interrupted_run_resumes_to_the_same_result(tmp_path, news_docs):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(news_docs[:30])])
    run = tmp_path / "run"
    first = curate([inp], run)
    ids = sorted(duckdb.sql(f"SELECT id FROM read_parquet('{run}/curated/*.parquet')").fetchall())
    # forget the last stages as if the process had been killed after MinHash clustering
    for stage in ("minhash_filter", "publish"):
        for marker in (run / ".work" / "logs" / stage / "completions").glob("*"):
            marker.unlink()
    (run / "stats.json").unlink()
    second = curate([inp], run)
    assert sorted(duckdb.sql(f"SELECT id FROM read_parquet('{run}/curated/*.parquet')").fetchall()) == ids
    assert second["curated_documents"] == first["curated_documents"] == 30


def test_other_inputs_into_the_same_run_are_refused(tmp_path, news_docs):
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": news_docs[0]}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "b", "text": news_docs[1]}])
    curate([a], tmp_path / "run")
    with pytest.raises(CurationError, match="already holds a curation"):
        curate([b], tmp_path / "run")


def test_a_second_command_on_a_locked_run_refuses(tmp_path, news_docs):
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": news_docs[0]}])
    with run_lock(tmp_path / "run"), pytest.raises(CurationError, match="in use"):
        curate([a], tmp_path / "run")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hebatron", *args], capture_output=True, text=True, timeout=300)


def test_bad_input_is_counted_never_a_traceback(tmp_path, news_docs):
    bad = tmp_path / "in"
    bad.mkdir()
    write_jsonl(
        bad / "bad.jsonl",
        [
            {"id": "good1", "text": news_docs[0]},
            b"{broken\n",
            {"id": "null", "text": None},
            {"id": "nokey"},
            b'{"id": "latin", "text": "caf\xe9"}\n',
            {"id": "huge", "text": "מילה " * 2_500_000},
            {"id": "good2", "text": news_docs[1]},
        ],
    )
    pages = [(f"http://x.example/{i}", html_page(news_docs[i + 2]), "utf-8") for i in range(20)]
    warc = write_warc(bad / "cut.warc.gz", pages)
    data = warc.read_bytes()
    warc.write_bytes(data[: int(len(data) * 0.7)])
    proc = run_cli("curate", str(bad), "-o", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "truncated or corrupt WARC at byte offset" in proc.stderr
    reasons = dict(
        duckdb.sql(
            f"SELECT filter_reason, count(*) FROM read_parquet('{tmp_path}/run/excluded/*.parquet') GROUP BY 1"
        ).fetchall()
    )
    for r in (
        "reader:malformed_json",
        "reader:no_text",
        "reader:invalid_utf8",
        "reader:too_large",
        "reader:truncated_warc",
    ):
        assert reasons.get(r, 0) >= 1, r
    kept = {r[0] for r in duckdb.sql(f"SELECT id FROM read_parquet('{tmp_path}/run/curated/*.parquet')").fetchall()}
    assert {"good1", "good2"} <= kept and len(kept) >= 10


def test_missing_input_is_one_line_error(tmp_path):
    proc = run_cli("curate", str(tmp_path / "nope.warc.gz"), "-o", str(tmp_path / "run"))
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"error: input not found: {tmp_path / 'nope.warc.gz'}" and "Traceback" not in proc.stderr


def test_slurm_path_writes_sbatch_scripts_without_submitting(tmp_path, news_docs):
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": news_docs[0]}])
    proc = run_cli(
        "curate", str(a), "-o", str(tmp_path / "run"), "--executor", "slurm", "--dry-run", "--slurm-partition", "hebrew"
    )
    assert proc.returncode == 0, proc.stderr
    scripts = sorted((tmp_path / "run" / ".work" / "logs").glob("sbatch-*.slurm"))
    stages = 9  # filter, 3 exact, 4 MinHash, publish
    assert len(scripts) >= stages  # one per stage plus merge-stats jobs
    text = scripts[0].read_text()
    assert "#SBATCH --partition=hebrew" in text and "launch_pickled_pipeline" in text
    assert any("--dependency=afterok:" in s.read_text() for s in scripts[1:])
    assert not (tmp_path / "run" / "curated").exists()


def test_ray_executor_tiny_run(tmp_path, news_docs):
    inputs = [
        write_jsonl(tmp_path / f"{i}.jsonl", [{"id": f"{i}-{j}", "text": news_docs[i * 3 + j]} for j in range(3)])
        for i in range(2)
    ]
    proc = run_cli("curate", *map(str, inputs), "-o", str(tmp_path / "run"), "--executor", "ray", "--workers", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["curated_documents"] == 6


def test_pool_workers_keep_the_console_to_warnings(tmp_path, news_docs):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(2):  # two files: two tasks, run by a pool of two workers
        write_jsonl(inputs / f"{k}.jsonl", [{"id": f"{k}-{i}", "text": news_docs[k * 5 + i]} for i in range(5)])
    write_jsonl(inputs / "2.jsonl", [b"{broken\n"])  # a warning the console must still show
    proc = run_cli("curate", str(inputs), "-o", str(tmp_path / "run"), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "Launching pipeline" not in proc.stderr and "INFO" not in proc.stderr, proc.stderr[:2000]
    assert "reader:malformed_json: 1 record (2.jsonl:1)" in proc.stderr
    task_log = (tmp_path / "run" / ".work" / "logs" / "filter" / "logs" / "task_00001.log").read_text()
    assert "Processing done for rank=1" in task_log  # the task's own log file still has everything
