"""shard_run on the scored sample crawl: ratios, completeness, manifest, determinism, repeats, errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shards.config import ShardConfig
from shards.mix import AnchorPoolTooSmall
from shards.run import RunNotScoredError, shard_run
from shards.tokenizer import load_tokenizer
from tests.shards.conftest import RECIPE, SHARD_ROWS

ROLE_KEYS = {"documents", "characters", "tokens", "repeated"}


def _shards(run: Path, phase: int | None = None) -> pa.Table:
    pattern = f"phase-{phase}/part-*.parquet" if phase else "phase-*/part-*.parquet"
    return pa.concat_tables([pq.read_table(p) for p in sorted((run / "shards").glob(pattern))])


def _curated(run: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted((run / "curated").glob("*.parquet"))])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _small_anchors(anchors: Path, out: Path, n: int) -> Path:
    lines = anchors.read_text(encoding="utf-8").splitlines(keepends=True)[:n]
    out.write_text("".join(lines), encoding="utf-8")
    return out


def test_anchor_ratio_per_phase_from_the_shards_themselves(sharded, config) -> None:
    """Recount every row's tokens with the run's tokenizer: the anchor share is the configured one ± 0.02."""
    run, manifest = sharded
    tok = load_tokenizer(run / manifest["tokenizer"]["path"])
    for k, want in zip((1, 2, 3), config.anchor_ratio, strict=True):
        table = _shards(run, k)
        tokens = Counter()
        for role, ids in zip(
            table.column("role").to_pylist(), tok.encode_batch(table.column("text").to_pylist()), strict=True
        ):
            tokens[role] += len(ids) + 1  # + the end-of-document token
        realized = tokens["anchor"] / (tokens["anchor"] + tokens["hebrew"])
        assert abs(realized - want) <= 0.02, (k, realized)
        entry = manifest["phases"][str(k)]
        assert entry["anchor"]["tokens"] == tokens["anchor"] and entry["hebrew"]["tokens"] == tokens["hebrew"]
        assert entry["anchor_ratio"] == pytest.approx(realized, abs=1e-6)


def test_every_curated_document_in_exactly_its_phase(sharded) -> None:
    run, manifest = sharded
    curated = _curated(run)
    shards = _shards(run)
    hebrew = shards.filter(pa.compute.equal(shards.column("role"), "hebrew"))
    ids = hebrew.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == curated.num_rows
    want = {r["id"]: r for r in curated.select(["id", "text", "phase", "perplexity"]).to_pylist()}
    for row in hebrew.to_pylist():
        src = want[row["id"]]
        assert (row["phase"], row["text"], row["perplexity"], row["lang"]) == (
            src["phase"],
            src["text"],
            src["perplexity"],
            "he",
        )
    # each phase's shards hold only that phase
    for k in (1, 2, 3):
        assert set(_shards(run, k).column("phase").to_pylist()) == {k}
        assert manifest["phases"][str(k)]["hebrew"]["documents"] == sum(r["phase"] == k for r in want.values())


def test_anchor_rows(sharded, anchors) -> None:
    run, _ = sharded
    shards = _shards(run)
    rows = shards.filter(pa.compute.equal(shards.column("role"), "anchor")).to_pylist()
    assert rows and all(r["lang"] == "en" and r["perplexity"] is None for r in rows)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "anchors are drawn without replacement"
    source = [json.loads(line)["text"] for line in anchors.read_text(encoding="utf-8").splitlines()]
    for r in rows:
        prefix, name, record = r["id"].split(":")
        assert (prefix, name) == ("anchor", "pydoc-topics") and "#" not in record
        assert r["text"] == source[int(record)]


def test_manifest_schema_and_files(sharded, scored_run) -> None:
    run, manifest = sharded
    assert manifest == json.loads((run / "shards" / "manifest.json").read_text())
    assert set(manifest) == {"phases", "cutoffs", "recipe", "tokenizer", "eval", "anchors_excluded", "contamination"}
    assert manifest["anchors_excluded"] == {}  # the English sample set loses nothing
    assert manifest["cutoffs"] == json.loads((scored_run / "cutoffs.json").read_text())["cutoffs"]
    assert manifest["recipe"] == RECIPE
    tok = manifest["tokenizer"]
    assert {"name", "vocab_size", "eod", "sha256"} <= set(tok)
    assert tok["path"] == "tokenizer/tokenizer.json" and tok["sha256"] == _sha(run / tok["path"])
    assert tok["eod_token"] == "<|endoftext|>" and tok["vocab_size"] == 16000
    assert set(manifest["phases"]) == {"1", "2", "3"}
    on_disk = sorted(str(p.relative_to(run / "shards")) for p in (run / "shards").rglob("*.parquet"))
    listed = []
    for k, phase in manifest["phases"].items():
        assert set(phase) == {"files", "hebrew", "anchor", "anchor_ratio"}
        assert set(phase["hebrew"]) == set(phase["anchor"]) == ROLE_KEYS
        assert phase["hebrew"]["repeated"] == phase["anchor"]["repeated"] == 0
        total = phase["hebrew"]["tokens"] + phase["anchor"]["tokens"]
        assert phase["anchor_ratio"] == round(phase["anchor"]["tokens"] / total, 6)
        rows = []
        for i, f in enumerate(phase["files"]):
            assert set(f) == {"path", "sha256", "rows"}
            assert f["path"] == f"phase-{k}/part-{i:05d}.parquet"
            assert f["sha256"] == _sha(run / "shards" / f["path"])
            assert f["rows"] == pq.ParquetFile(run / "shards" / f["path"]).metadata.num_rows
            rows.append(f["rows"])
            listed.append(f["path"])
        assert len(rows) >= 2 and all(n == SHARD_ROWS for n in rows[:-1]) and 0 < rows[-1] <= SHARD_ROWS
        assert sum(rows) == phase["hebrew"]["documents"] + phase["anchor"]["documents"]
        table = _shards(run, int(k))
        chars = Counter()
        for role, text in zip(table.column("role").to_pylist(), table.column("text").to_pylist(), strict=True):
            chars[role] += len(text)
        assert chars == {"hebrew": phase["hebrew"]["characters"], "anchor": phase["anchor"]["characters"]}
    assert sorted(listed) == [p for p in on_disk if p.startswith("phase-")]  # besides: eval/, the audit


def test_shards_are_shuffled(sharded) -> None:
    run, _ = sharded
    roles = _shards(run, 1).column("role").to_pylist()
    first_anchor = roles.index("anchor")
    assert first_anchor < len(roles) // 2 and "hebrew" in roles[first_anchor:]
    curated_order = [i for i in _curated(run).column("id").to_pylist()]
    hebrew_order = [
        i
        for i, r in zip(_shards(run).column("id").to_pylist(), _shards(run).column("role").to_pylist(), strict=True)
        if r == "hebrew"
    ]
    assert hebrew_order != [i for i in curated_order if i in set(hebrew_order)]


def test_deterministic_and_idempotent(sharded, fresh_run, anchors, config) -> None:
    run, manifest = sharded
    again = shard_run(fresh_run, [anchors], config, recipe=RECIPE, progress=False)
    assert again == manifest  # same sha256 for every shard file and the tokenizer
    for phase in manifest["phases"].values():
        for f in phase["files"]:
            assert (fresh_run / "shards" / f["path"]).read_bytes() == (run / "shards" / f["path"]).read_bytes()
    # re-running is a no-op: nothing rewritten
    first = fresh_run / "shards" / manifest["phases"]["1"]["files"][0]["path"]
    mtime = first.stat().st_mtime_ns
    assert shard_run(fresh_run, [anchors], config, recipe=RECIPE, progress=False) == manifest
    assert first.stat().st_mtime_ns == mtime
    # another seed replaces the shards as a whole: other files, same documents
    other = shard_run(fresh_run, [anchors], ShardConfig(shard_rows=SHARD_ROWS, seed=1), progress=False)
    assert other["phases"]["1"]["files"][0]["sha256"] != manifest["phases"]["1"]["files"][0]["sha256"]
    assert other["recipe"] is None
    hebrew = lambda run: sorted(i for i in _shards(run).column("id").to_pylist() if not i.startswith("anchor:"))  # noqa: E731
    assert hebrew(fresh_run) == hebrew(run)
    assert not list(fresh_run.glob(".shards.*")) and not list(fresh_run.glob(".tokenizer.*"))


@pytest.fixture(scope="module")
def repeated(scored_run, anchors, tmp_path_factory) -> tuple[Path, dict, Path]:
    """(RUN, manifest, anchor file): sharded with only 40 anchor documents, repeats allowed."""
    small = _small_anchors(anchors, tmp_path_factory.mktemp("small") / "small.jsonl", 40)
    run = tmp_path_factory.mktemp("repeated") / "run"
    shutil.copytree(scored_run, run)
    config = ShardConfig(allow_repeat=True, shard_rows=SHARD_ROWS)
    return run, shard_run(run, [small], config, progress=False), small


def test_pool_too_small_is_a_clear_error_and_leaves_shards_alone(fresh_run, anchors, repeated) -> None:
    before = shard_run(fresh_run, [anchors], ShardConfig(), progress=False)
    _, with_repeats, small = repeated
    with pytest.raises(AnchorPoolTooSmall, match=r"anchor pool too small: .* tokens missing") as exc:
        shard_run(fresh_run, [small], ShardConfig(), progress=False)
    assert f"{exc.value.missing_tokens:,} tokens missing" in str(exc.value)
    # nothing of the failed run is visible: the previous shards and tokenizer stay as they were
    assert json.loads((fresh_run / "shards" / "manifest.json").read_text()) == before
    assert _sha(fresh_run / "tokenizer" / "tokenizer.json") == before["tokenizer"]["sha256"]
    assert not list(fresh_run.glob(".shards.tmp-*"))
    # the missing tokens are what a run with repeats draws beyond one pass over the pool (same tokenizer:
    # same Hebrew, same anchors, same seed)
    tok = load_tokenizer(repeated[0] / with_repeats["tokenizer"]["path"])
    pool = sum(
        len(ids) + 1
        for ids in tok.encode_batch(
            [json.loads(line)["text"] for line in small.read_text(encoding="utf-8").splitlines()]
        )
    )
    drawn = sum(p["anchor"]["tokens"] for p in with_repeats["phases"].values())
    hebrew = sum(p["hebrew"]["tokens"] for p in with_repeats["phases"].values())
    assert abs(exc.value.missing_tokens - (drawn - pool)) <= 0.01 * hebrew


def test_allow_repeat_records_repeats(repeated) -> None:
    run, manifest, _ = repeated
    shards = _shards(run)
    anchor_ids = [
        i
        for i, r in zip(shards.column("id").to_pylist(), shards.column("role").to_pylist(), strict=True)
        if r == "anchor"
    ]
    assert len(anchor_ids) == len(set(anchor_ids))
    repeats = [i for i in anchor_ids if "#r" in i]
    assert repeats and all(i.split("#r")[0] in anchor_ids for i in repeats if i.endswith("#r2"))
    assert sum(p["anchor"]["repeated"] for p in manifest["phases"].values()) == len(repeats)
    held = manifest["eval"]["anchor"]["documents"]
    assert held >= 1
    assert len({i.split("#")[0] for i in anchor_ids}) == 40 - held, "every anchor is used before any repeats"
    held_ids = set(pq.read_table(run / "shards" / "eval" / "anchor.parquet").column("id").to_pylist())
    assert len(held_ids) == held and not held_ids & {i.split("#")[0] for i in anchor_ids}
    for k, want in zip("123", (0.3, 0.2, 0.1), strict=True):
        assert abs(manifest["phases"][k]["anchor_ratio"] - want) <= 0.02


def test_unscored_run(curated_run, tmp_path, anchors) -> None:
    run = tmp_path / "run"
    shutil.copytree(curated_run[0], run)
    with pytest.raises(RunNotScoredError, match=r"curated/.*\.parquet: .*no perplexity, phase .*hebatron score"):
        shard_run(run, [anchors], ShardConfig(), progress=False)
    with pytest.raises(RunNotScoredError, match="no curated documents"):
        shard_run(tmp_path / "empty", [anchors], ShardConfig(), progress=False)


def test_missing_cutoffs(fresh_run, anchors) -> None:
    os.remove(fresh_run / "cutoffs.json")
    with pytest.raises(RunNotScoredError, match=r"cutoffs.json not found: .*hebatron score"):
        shard_run(fresh_run, [anchors], ShardConfig(), progress=False)
