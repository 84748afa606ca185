"""Inputs on object storage: `curate` and `--anchor` read fsspec URLs (here S3, from a local endpoint this test
starts), by object, prefix and glob; a URL that names nothing is one error line."""

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from curation.run import CurationError, curate
from tests.curation.helpers import write_jsonl

BUCKET = "corpus"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env():
    """A local S3 endpoint (moto's server) and the environment that points boto at it."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


@pytest.fixture(scope="module")
def corpus(s3_env, news_docs, tmp_path_factory):
    """The same folder locally and at s3://corpus/news/: a.jsonl, b.jsonl.gz, sub/c.jsonl (5 documents each)
    and a notes.txt that is not an input."""
    import s3fs

    local = tmp_path_factory.mktemp("local") / "news"
    (local / "sub").mkdir(parents=True)
    docs = iter(news_docs)
    for name in ("a.jsonl", "b.jsonl.gz", "sub/c.jsonl"):
        rows = [{"id": f"{name}-{i}", "text": next(docs), "url": f"https://news.example/{name}/{i}"} for i in range(5)]
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        (local / name).write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    (local / "notes.txt").write_text("not an input\n")
    fs = s3fs.S3FileSystem()
    fs.mkdir(BUCKET)
    fs.put(str(local), f"{BUCKET}/news", recursive=True)
    return local


def run_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hebatron", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | env,
    )


def _rows(run: Path) -> list[tuple]:
    return duckdb.sql(
        f"SELECT id, text, source, position FROM read_parquet('{run}/curated/*.parquet') ORDER BY id"
    ).fetchall()


def _input_documents(run: Path) -> int:
    return json.loads((run / "stats.json").read_text())["input_documents"]


def test_prefix_reads_the_same_rows_as_the_local_folder(s3_env, corpus, tmp_path):
    local_run, s3_run = tmp_path / "local", tmp_path / "s3"
    curate([corpus], local_run)
    proc = run_cli(s3_env, "curate", f"s3://{BUCKET}/news/", "-o", str(s3_run))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _input_documents(s3_run) == 15
    rows = _rows(s3_run)
    assert len(rows) >= 12 and rows == _rows(local_run)
    assert {r[2] for r in rows} == {"a.jsonl", "b.jsonl.gz", "sub/c.jsonl"}  # the key below the prefix, as locally

    plan = json.loads((s3_run / ".work" / "plan.json").read_text())
    names = ("a.jsonl", "b.jsonl.gz", "sub/c.jsonl")
    assert plan["inputs"] == [f"s3://{BUCKET}/news/{n}" for n in names]
    assert [v[0] for v in plan["input_versions"].values()] == [(corpus / n).stat().st_size for n in names]
    assert all(v[1] for v in plan["input_versions"].values())  # an etag for each object
    assert curate([f"s3://{BUCKET}/news/"], s3_run)["resumed"] == "already complete"


def test_a_glob_and_an_object(s3_env, corpus, tmp_path):
    run = tmp_path / "run"
    proc = run_cli(s3_env, "curate", f"s3://{BUCKET}/news/*.jsonl", f"s3://{BUCKET}/news/sub/c.jsonl", "-o", str(run))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _input_documents(run) == 10  # a.jsonl (the glob: not b.jsonl.gz, not sub/) and sub/c.jsonl
    assert {r[2] for r in _rows(run)} == {"a.jsonl", "sub/c.jsonl"}


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    return errors[0]


def test_a_missing_key_is_one_error_line(s3_env, corpus, tmp_path):
    line = _one_error_line(run_cli(s3_env, "curate", f"s3://{BUCKET}/news/nope.jsonl", "-o", str(tmp_path / "run")))
    assert line == f"error: input not found: s3://{BUCKET}/news/nope.jsonl"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["s3://corpus/elsewhere/"], "input not found: s3://corpus/elsewhere/"),
        (["s3://no-such-bucket/x/"], "input not found: s3://no-such-bucket/x/"),
        (["s3://corpus/news/*.parquet"], "no input files (.warc"),
        (["s3://corpus/news/notes.txt"], "s3://corpus/news/notes.txt: unsupported input"),
        (["s3://corpus/news/", "LOCAL"], "LOCAL is local and s3://corpus/news/ is not"),
    ],
)
def test_inputs_that_cannot_be_curated_are_refused_by_name(s3_env, corpus, tmp_path, inputs, message):
    inputs = [str(corpus) if i == "LOCAL" else i for i in inputs]
    with pytest.raises(CurationError) as e:
        curate(inputs, tmp_path / "run")
    assert str(e.value).startswith(message.replace("LOCAL", str(corpus)))
    assert not (tmp_path / "run").exists()


def test_a_changed_object_is_noticed_on_rerun(s3_env, corpus, tmp_path, news_docs):
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.put(str(corpus / "a.jsonl"), f"{BUCKET}/changing/a.jsonl")
    run = tmp_path / "run"
    assert curate([f"s3://{BUCKET}/changing/"], run)["input_documents"] == 5
    fs.pipe(f"{BUCKET}/changing/a.jsonl", (json.dumps({"id": "new", "text": news_docs[40]}) + "\n").encode())
    with pytest.raises(CurationError, match="already holds a curation") as e:
        curate([f"s3://{BUCKET}/changing/"], run)
    assert f"s3://{BUCKET}/changing/a.jsonl changed" in str(e.value)


def test_anchors_from_s3(s3_env, corpus, tmp_path):
    import s3fs

    from common.files import file_sha256
    from shards.anchors import AnchorError, discover_anchors, iter_anchor_batches

    english = [{"text": f"English anchor document number {i}, about the weather."} for i in range(7)]
    local = write_jsonl(tmp_path / "en.jsonl", english)
    shutil.copy(local, tmp_path / "en2.jsonl")
    fs = s3fs.S3FileSystem()
    fs.put(str(local), f"{BUCKET}/anchors/en.jsonl")
    fs.pipe(f"{BUCKET}/anchors/more/en.jsonl.gz", gzip.compress(local.read_bytes(), mtime=0))

    anchors = discover_anchors([f"s3://{BUCKET}/anchors/", tmp_path / "en2.jsonl"])
    assert [str(a.path) for a in anchors] == [
        f"s3://{BUCKET}/anchors/en.jsonl",
        f"s3://{BUCKET}/anchors/more/en.jsonl.gz",
        str(tmp_path / "en2.jsonl"),
    ]
    assert len({a.source for a in anchors}) == 3
    for a in anchors:
        texts = [t for _, batch in iter_anchor_batches(a) for t in batch]
        assert texts == [r["text"] for r in english]
    assert file_sha256(anchors[0].path) == file_sha256(local)

    with pytest.raises(AnchorError, match=f"anchor file not found: s3://{BUCKET}/anchors/nope.jsonl"):
        discover_anchors([f"s3://{BUCKET}/anchors/nope.jsonl"])


def test_an_object_gone_since_the_plan_is_excluded_not_a_traceback(s3_env, corpus):
    from curation.readers import CrawlReader

    files = ["a.jsonl", "gone.warc.gz", "gone.parquet", "gone.jsonl"]
    docs = list(CrawlReader(f"s3://{BUCKET}/news", files=files).run())
    reasons = {d.metadata["source"]: d.metadata.get("filter_reason") for d in docs}
    assert len(docs) == 8 and reasons["a.jsonl"] is None
    assert [reasons[f] for f in files[1:]] == ["reader:unreadable_file"] * 3
