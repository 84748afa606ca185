"""`hebatron run demo` end to end through the CLI: every stage, then a re-run that resumes without redoing."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb


def test_demo_recipe_runs_every_stage_and_resumes(tmp_path):
    run = tmp_path / "demo"
    cmd = [sys.executable, "-m", "hebatron", "run", "demo", "-o", str(run)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    for path in (
        "curated",
        "excluded",
        "cutoffs.json",
        "shards/manifest.json",
        "tokens/tokens.json",
        "train/metrics.jsonl",
        "report.html",
    ):
        assert (run / path).exists(), path
    metrics = [json.loads(line) for line in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    evals = [m for m in metrics if m["kind"] == "eval"]
    assert [e["after_phase"] for e in evals] == [1, 2, 3]
    assert all(e["he_loss"] > 0 and e["en_loss"] > 0 for e in evals)
    curated = duckdb.sql(f"SELECT count(*) FROM read_parquet('{run}/curated/*.parquet')").fetchall()[0][0]
    hebrew = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{run}/shards/phase-*/part-*.parquet') WHERE role = 'hebrew'"
    ).fetchall()[0][0]
    assert hebrew == curated

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "score: already done" in again.stderr and "already" in again.stderr.lower()
    assert len((run / "train" / "metrics.jsonl").read_text().splitlines()) == len(metrics)
