"""The report warns when he_loss or en_loss is measured on text the training phases overlap; recipes take the
decontamination keys."""

from __future__ import annotations

import json

from hebatron.contamination import contamination_section, eval_overlaps


def _run(tmp_path, he_docs: int):
    counts = {"documents": he_docs, "tokens": 40 * he_docs, "hebrew_documents": he_docs, "anchor_documents": 0}
    clean = {"documents": 0, "tokens": 0, "hebrew_documents": 0, "anchor_documents": 0}
    manifest = {
        "phases": {},
        "contamination": {
            "path": "contamination.parquet",
            "n_grams": 12,
            "tasks": {"eval-he": {"ngrams": 10, "source": "HTB"}, "eval-en": {"ngrams": 5, "source": "anchors"}},
            "phases": {"1": {"eval-he": counts, "eval-en": clean}, "2": {"eval-he": clean, "eval-en": clean}},
        },
    }
    run = tmp_path / "run"
    (run / "shards").mkdir(parents=True)
    (run / "shards" / "manifest.json").write_text(json.dumps(manifest))
    train = tmp_path / "train"
    train.mkdir()
    (train / "metrics.jsonl").write_text(
        json.dumps({"kind": "eval", "after_phase": 1, "he_loss": 5.0, "en_loss": 6.0}) + "\n"
    )
    return run, train, manifest


def _table(columns, rows):
    return f"<table>{len(rows)}</table>"


def test_warning_names_the_phase_when_he_loss_overlaps(tmp_path) -> None:
    run, train, manifest = _run(tmp_path, 3)
    assert eval_overlaps(manifest) == {"he_loss": [("1", 3, 120)]}
    page = contamination_section(run, [train], _table)
    assert "Warning: he_loss is measured" in page and "phase 1: 3 documents, 120 tokens" in page
    assert "en_loss is measured" not in page
    assert "Warning" not in contamination_section(run, [], _table)  # nothing trained: nothing measured


def test_no_warning_without_overlap(tmp_path) -> None:
    run, train, _ = _run(tmp_path, 0)
    page = contamination_section(run, [train], _table)
    assert "Warning" not in page and "<table>4</table>" in page


def test_recipe_keys(tmp_path) -> None:
    from hebatron.recipes import load_recipe

    path = tmp_path / "r.yaml"
    path.write_text("curation:\n  decontaminate: [idx/]\nshards:\n  decontaminate: [b.jsonl]\n  audit: [a.jsonl]\n")
    r = load_recipe(path)
    assert r.curation.decontaminate == ("idx/",)
    assert r.shards.decontaminate == ("b.jsonl",) and r.shards.audit == ("a.jsonl",)
