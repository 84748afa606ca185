"""The shard folder's dataset card: Hugging Face ``datasets`` reads each phase and the eval set as what they are."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shards.conftest import RECIPE

LOAD = """
import json, sys
from datasets import load_dataset
folder = sys.argv[1]
out = {}
for name in ("phase-1", "phase-2", "phase-3", "eval"):
    ds = load_dataset(folder, name)
    out[name] = {split: [d.num_rows, sorted(d.column_names), sorted(set(d["role"]))] for split, d in ds.items()}
try:
    load_dataset(folder)
    out["default"] = "loaded"
except ValueError as e:
    out["default"] = str(e)
print(json.dumps(out))
"""


def _load(folder: Path, tmp_path: Path) -> dict:
    import json

    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", LOAD, str(folder)], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_load_dataset_reads_each_phase_and_the_eval_set(sharded, tmp_path) -> None:
    pytest.importorskip("datasets")
    run, manifest = sharded
    got = _load(run / "shards", tmp_path)
    columns = ["id", "lang", "perplexity", "phase", "role", "text"]
    for k in ("1", "2", "3"):
        phase = manifest["phases"][k]
        rows = phase["hebrew"]["documents"] + phase["anchor"]["documents"]
        assert rows == sum(f["rows"] for f in phase["files"]) and len(phase["files"]) > 1
        assert got[f"phase-{k}"] == {"train": [rows, columns, ["anchor", "hebrew"]]}
    assert got["eval"] == {"test": [manifest["eval"]["anchor"]["documents"], ["id", "lang", "role", "text"], ["eval"]]}
    # no default config: without a name, datasets asks for one rather than returning one part as the whole
    assert "phase-1" in got["default"] and "eval" in got["default"]


def test_card_is_recorded_and_rewritten_when_damaged(sharded, anchors, config, tmp_path) -> None:
    from common.freshness import recorded_outputs
    from shards.card import card_text
    from shards.run import shard_run

    run, manifest = sharded
    card = run / "shards" / "README.md"
    assert card.read_text(encoding="utf-8") == card_text(manifest)
    assert "shards/README.md" in recorded_outputs(run, "shard")
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "shards" / "README.md").write_text("---\n---\n", encoding="utf-8")
    again = shard_run(copy, [anchors], config, recipe=RECIPE, progress=False)
    assert again == manifest
    assert (copy / "shards" / "README.md").read_text(encoding="utf-8") == card_text(manifest)


def test_a_phase_without_rows_gets_no_config() -> None:
    yaml = pytest.importorskip("yaml")
    from shards.card import card_text

    def phase(k: int, n: int) -> dict:
        files = [{"path": f"phase-{k}/part-{i:05d}.parquet", "rows": 1} for i in range(n)]
        return {"files": files, "hebrew": {"documents": n}, "anchor": {"documents": 0}, "anchor_ratio": 0.0}

    manifest = {
        "phases": {"1": phase(1, 2), "2": phase(2, 0), "3": phase(3, 1)},
        "eval": {"anchor": {"path": "eval/anchor.parquet", "documents": 0}},
        "recipe": None,
    }
    front = yaml.safe_load(card_text(manifest).split("---\n")[1])
    assert front["configs"] == [
        {
            "config_name": "phase-1",
            "data_files": [{"split": "train", "path": ["phase-1/part-00000.parquet", "phase-1/part-00001.parquet"]}],
        },
        {"config_name": "phase-3", "data_files": [{"split": "train", "path": ["phase-3/part-00000.parquet"]}]},
        {"config_name": "eval", "data_files": [{"split": "test", "path": ["eval/anchor.parquet"]}]},
    ]
