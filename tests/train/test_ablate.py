"""The ablation's bookkeeping (table, JSON, CSV, plot) with a stand-in trainer, then a real small one."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from tests.train.conftest import run_train
from train.config import ModelConfig, TrainConfig

FAKE_LOSS = {
    ("forward", 0): (3.0, 4.0),
    ("forward", 1): (3.2, 4.4),
    ("reversed", 0): (3.5, 4.1),
    ("reversed", 1): (3.7, 4.3),
    ("shuffled", 0): (3.1, 4.0),
    ("shuffled", 1): (3.3, 4.2),
}


@pytest.fixture
def fake_train_run(monkeypatch):
    calls = []

    def train_run(run_dir, train_dir, *, model, train, recipe_name, echo=print):
        calls.append((train.order, train.seed, train_dir.name))
        he, en = FAKE_LOSS[(train.order, train.seed)]
        train_dir.mkdir(parents=True, exist_ok=True)
        (train_dir / "metrics.jsonl").write_text(
            "".join(
                json.dumps({"kind": "train", "step": s, "phase": 1, "loss": he + 1 / s}) + "\n" for s in range(1, 4)
            )
        )
        return {"train_dir": str(train_dir), "final": {"he_loss": he, "en_loss": en}, "evals": {}}

    import train.loop

    monkeypatch.setattr(train.loop, "train_run", train_run)
    return calls


def test_ablation_table_and_outputs(fake_train_run, tmp_path):
    from train.ablate import ablate

    result = ablate(
        tmp_path / "run", tmp_path / "abl", seeds=[0, 1], model=ModelConfig(), train=TrainConfig(), echo=lambda *_: None
    )
    assert fake_train_run == [(o, s, f"{o}-seed{s}") for o in ("forward", "reversed", "shuffled") for s in (0, 1)]
    rows = {r["order"]: r for r in result["table"]}
    assert rows["forward"]["he_loss_mean"] == pytest.approx(3.1)
    assert rows["reversed"]["en_loss_std"] == pytest.approx(statistics.stdev([4.1, 4.3]))
    saved = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert len(saved["runs"]) == 6 and saved["seeds"] == [0, 1]
    md = (tmp_path / "abl" / "ablation.md").read_text()
    assert "| forward | 3.1000 ± 0.1414 | 4.2000 ± 0.2828 |" in md
    with (tmp_path / "abl" / "ablation.csv").open() as f:
        assert [r["order"] for r in csv.DictReader(f)] == ["forward", "reversed", "shuffled"]
    pytest.importorskip("matplotlib")
    assert (tmp_path / "abl" / "ablation.png").stat().st_size > 1000


def test_seed_count_and_unknown_order(fake_train_run, tmp_path):
    from train.ablate import ablate

    result = ablate(
        tmp_path,
        tmp_path / "a",
        orders=["forward"],
        seeds=2,
        model=ModelConfig(),
        train=TrainConfig(seed=0),
        echo=lambda *_: None,
    )
    assert result["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="unknown order 'sideways'"):
        ablate(tmp_path, tmp_path / "b", orders=["sideways"], seeds=1, model=ModelConfig(), train=TrainConfig())


def test_real_ablation(synthetic_run, tiny_recipe, tmp_path):
    result = run_train(
        "ablate",
        synthetic_run,
        "-o",
        tmp_path / "abl",
        "--recipe",
        tiny_recipe,
        "--orders",
        "forward,shuffled",
        "--seeds",
        "2",
        "--summary",
        tmp_path / "s.json",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert [r["order"] for r in summary["table"]] == ["forward", "shuffled"]
    assert all(r["runs"] == 2 and r["he_loss_std"] > 0 for r in summary["table"])
    assert summary["failed_runs"] == []
    assert [(c["metric"], c["order"], c["reference"], c["n"]) for c in summary["comparisons"]] == [
        ("he_loss", "shuffled", "forward", 2),
        ("en_loss", "shuffled", "forward", 2),
    ]
    assert all(c["ci95"][0] <= c["diff_mean"] <= c["ci95"][1] and c["mde"] > 0 for c in summary["comparisons"])
    assert (tmp_path / "abl" / "comparisons.csv").is_file()
    assert (tmp_path / "abl" / "ablation.png").is_file()
