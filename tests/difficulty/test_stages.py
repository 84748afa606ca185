"""score_run as datatrove stages: resume after a crash, re-scoring, a no-op re-run, several workers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import difficulty.run
from difficulty.phases import DifficultyConfig
from difficulty.run import score_run
from difficulty.scorer import KenLMScorer
from tests.difficulty.test_run import _read, _write_run

CALLS: list[str] = []
FAIL_ON: set[str] = set()


class FlakyScorer:
    """KenLM scores, but crashing on the texts in FAIL_ON (a disk error, a killed worker)."""

    def __init__(self, lm_dir: Path) -> None:
        self.inner = KenLMScorer(lm_dir)

    def score(self, text: str):
        if text in FAIL_ON:
            raise RuntimeError("simulated crash")
        CALLS.append(text)
        return self.inner.score(text)

    def perplexity(self, text: str) -> float:
        return self.score(text).perplexity

    def describe(self) -> dict:
        return self.inner.describe()


@pytest.fixture()
def docs(held_out_docs) -> list[tuple[str, str]]:
    return [(f"d{i}", d) for i, d in enumerate(held_out_docs[:45])] + [("empty", ""), ("blank", " \n ")]


def _snapshot(run: Path) -> tuple[pa.Table, pa.Table, dict]:
    cut = json.loads((run / "cutoffs.json").read_text(encoding="utf-8"))
    return _read(run, "curated").sort_by("id"), _read(run, "excluded").sort_by("id"), cut


@pytest.fixture()
def reference(tmp_path, htb_lm, docs):
    run = _write_run(tmp_path / "reference", docs)
    score_run(run, lm_dir=htb_lm, progress=False)
    return _snapshot(run)


def test_crash_in_a_scoring_task_resumes_where_it_stopped(tmp_path, htb_lm, docs, reference) -> None:
    run = _write_run(tmp_path / "run", docs)
    file_1 = [d for d in pq.read_table(run / "curated" / "00001.parquet")["text"].to_pylist() if d.strip()]
    FAIL_ON.add(file_1[3])
    CALLS.clear()
    try:
        with pytest.raises(RuntimeError, match="simulated crash"):
            score_run(run, scorer=FlakyScorer(htb_lm), progress=False)
    finally:
        FAIL_ON.clear()
    assert _read(run, "curated").num_rows == len(docs) and not (run / "excluded").exists()  # nothing moved yet
    first = set(CALLS)
    CALLS.clear()
    score_run(run, scorer=FlakyScorer(htb_lm), progress=False)
    assert not first & set(CALLS) - set(file_1)  # the finished task (file 0) was not scored again
    assert _snapshot(run) == reference


def test_crash_while_publishing_loses_nothing_and_resumes(tmp_path, htb_lm, docs, reference, monkeypatch) -> None:
    import curation.stats

    run = _write_run(tmp_path / "run", docs)

    def crash(_run_dir):
        raise OSError("simulated crash")

    monkeypatch.setattr(curation.stats, "write_stats", crash)
    with pytest.raises(OSError, match="simulated crash"):
        score_run(run, lm_dir=htb_lm, progress=False)
    ids = _read(run, "curated")["id"].to_pylist() + _read(run, "excluded")["id"].to_pylist()
    assert set(ids) == {d[0] for d in docs}
    monkeypatch.undo()
    score_run(run, lm_dir=htb_lm, progress=False)
    assert _snapshot(run) == reference
    assert json.loads((run / "stats.json").read_text())["curated_documents"] == reference[0].num_rows


def test_finished_scoring_is_a_no_op_and_other_settings_rescore(tmp_path, htb_lm, docs, reference, monkeypatch) -> None:
    run = _write_run(tmp_path / "run", docs)
    score_run(run, lm_dir=htb_lm, progress=False)
    with monkeypatch.context() as m:
        m.setattr(difficulty.run, "build_executors", lambda *a, **k: pytest.fail("a finished scoring ran again"))
        assert score_run(run, lm_dir=htb_lm, progress=False) == reference[2]

    other = score_run(run, lm_dir=htb_lm, config=DifficultyConfig(percentiles=(20, 50)), progress=False)
    assert other["cutoffs"]["percentiles"] == [20.0, 50.0] and other["cutoffs"]["low"] < reference[2]["cutoffs"]["low"]
    assert _read(run, "curated").schema.names == reference[0].schema.names
    # back to the first settings: the same result as scoring once (the curated files now carry scores)
    score_run(run, lm_dir=htb_lm, progress=False)
    assert _snapshot(run) == reference
    written = json.loads((run / ".stages" / "score.json").read_text())["writes"]
    assert {name for name in written if name.startswith("curated/")} == {f"curated/{k:05d}.parquet" for k in range(3)}
    assert {"cutoffs.json", "stats.json"} <= written.keys()


def test_several_workers_give_the_same_result(tmp_path, htb_lm, docs, reference) -> None:
    run = _write_run(tmp_path / "run", docs)
    score_run(run, lm_dir=htb_lm, progress=False, workers=2)
    assert _snapshot(run) == reference
    stages = {r["stage"] for r in json.loads((run / "step_stats.json").read_text())}
    assert {"score", "score_cutoffs", "score_phases"} <= stages


def test_bad_options_are_clear_errors(tmp_path, htb_lm, docs) -> None:
    run = _write_run(tmp_path / "run", docs)
    with pytest.raises(difficulty.run.ScoringError, match="workers must be a positive integer"):
        score_run(run, lm_dir=htb_lm, workers=0)
    with pytest.raises(difficulty.run.ScoringError, match="executor must be"):
        score_run(run, lm_dir=htb_lm, executor="dask")  # type: ignore[arg-type]
