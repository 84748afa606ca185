"""The ``sft:`` recipe section, the report's fine-tuning section and the CLI's SFT commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hebatron.recipes import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_sft_section_loads_and_is_checked(tmp_path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("base: tiny-moe\nsft:\n  steps: 5\n  data: {eval_pairs: 2}\n", encoding="utf-8")
    recipe = load_recipe(path)
    assert recipe.sft.steps == 5 and recipe.sft.data.eval_pairs == 2
    assert "{he}" in recipe.sft.data.templates["he2en"]  # the default templates stay
    assert load_recipe("demo").run.sft is False  # off in the demo
    path.write_text("sft:\n  data: {templates: {he2en: 'no side', en2he: '{en}'}}\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"sft\.data\.templates\.he2en must contain \{he\}"):
        load_recipe(path)
    path.write_text("sft: {steps: 0}\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="sft.steps must be a positive integer"):
        load_recipe(path)


def test_report_section_shows_the_set_and_what_fine_tuning_cost(tmp_path) -> None:
    from hebatron.report_sft import sft_section

    run, sft_dir = tmp_path / "run", tmp_path / "sft"
    (run / "sft").mkdir(parents=True)
    sft_dir.mkdir()
    stats = {
        "pairs_read": 40,
        "catalogs": 3,
        "pairs_train": 20,
        "pairs_eval": 4,
        "samples": 40,
        "sequences": 30,
        "tokens": 900,
        "response_tokens": 400,
        "dropped": {"visual_order": 7, "same_text": 9},
    }
    (run / "sft" / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    keys = ("he2en_loss", "en2he_loss", "he2en_exact", "en2he_exact", "he_loss", "en_loss")
    records = [
        {"kind": "eval", "step": 0, **dict.fromkeys(keys, 2.0)},
        {"kind": "train", "step": 1, "loss": 2.5},
        {"kind": "eval", "step": 1, **dict.fromkeys(keys, 1.5), "he_loss": 2.25},
    ]
    (sft_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    page = sft_section(run, sft_dir)
    assert "visual_order" in page and "<svg" in page
    assert "held-out Hebrew loss 2.0000 → 2.2500" in page
    assert sft_section(run, None).count("<table") == 1  # the set alone, without a fine-tuning run


def test_cli_names_a_missing_sft_set_in_one_line(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hebatron", "sft-data", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "run")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr
