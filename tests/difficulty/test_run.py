"""score_run over a curated run: columns, exclusions, cut-offs, idempotence, errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.output import CURATED_SCHEMA
from difficulty.lm import DEFAULT_LM_NAME
from difficulty.phases import CCNET_HEBREW_CUTOFFS, DifficultyConfig
from difficulty.run import RunNotCuratedError, score_run

BROKEN = {
    "broken-empty": "",
    "broken-blank": "  \n\t\n ",
    "broken-marks": "\u200f\u200e",
    "broken-huge": None,
}


def _write_run(root: Path, docs: list[tuple[str, str]], files: int = 3) -> Path:
    (root / "curated").mkdir(parents=True)
    for k in range(files):
        part = docs[k::files]
        n = len(part)
        table = pa.table(
            {
                "id": [d[0] for d in part],
                "text": [d[1] for d in part],
                "url": [f"https://news.example/{d[0]}" for d in part],
                "source": ["test"] * n,
                "source_id": [d[0] for d in part],
                "position": list(range(n)),
                "lang": ["he"] * n,
                "lang_score": [0.98] * n,
                "minhash_cluster_size": [1] * n,
                "minhash_cluster_id": [None] * n,
                "date": [f"2024-01-{i % 28 + 1:02d}" for i in range(n)],
                "dump": ["CC-MAIN-2024-10"] * n,
                "source_language_score": [0.9] * n,
                "source_cluster_size": list(range(n)),
            },
            schema=CURATED_SCHEMA,
        )
        pq.write_table(table, root / "curated" / f"{k:05d}.parquet")
    return root


@pytest.fixture()
def realistic_docs(held_out_docs, bible_docs, aramaic_docs) -> list[tuple[str, str]]:
    """Mostly held-out news, some classical Hebrew and Aramaic, a few shuffled pages, and broken documents."""
    rng = random.Random(7)
    docs = [(f"news-{i}", d) for i, d in enumerate(held_out_docs)]
    docs += [(f"bible-{i}", d) for i, d in enumerate(bible_docs[:25])]
    docs += [(f"zohar-{i}", d) for i, d in enumerate(aramaic_docs[:15])]
    for i, d in enumerate(held_out_docs[:20]):
        words = d.split()
        rng.shuffle(words)
        docs.append((f"shuffled-{i}", " ".join(words)))
    huge = (held_out_docs[0] + "\n") * (1_000_001 // len(held_out_docs[0]) + 1)
    docs += [(k, v if v is not None else huge) for k, v in BROKEN.items()]
    rng.shuffle(docs)
    return docs


def _read(run: Path, sub: str) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted((run / sub).glob("*.parquet"))])


def test_score_run(tmp_path, htb_lm, realistic_docs) -> None:
    run = _write_run(tmp_path / "run", realistic_docs)
    summary = score_run(run, lm_dir=htb_lm, progress=False)

    curated, excluded = _read(run, "curated"), _read(run, "excluded")
    # every document in exactly one place
    all_ids = sorted(d[0] for d in realistic_docs)
    assert sorted(curated["id"].to_pylist() + excluded["id"].to_pylist()) == all_ids
    assert dict(zip(excluded["id"].to_pylist(), excluded["filter_reason"].to_pylist(), strict=True)) == {
        "broken-empty": "perplexity:empty",
        "broken-blank": "perplexity:empty",
        "broken-marks": "perplexity:no_pieces",
        "broken-huge": "perplexity:too_long",
    }
    # columns: the curated ones, untouched, plus perplexity and phase
    assert curated.schema.names == [*CURATED_SCHEMA.names, "perplexity", "phase"]
    assert curated.schema.field("perplexity").type == pa.float64()
    assert curated.schema.field("phase").type == pa.int8()
    assert excluded.schema.names == [*CURATED_SCHEMA.names, "filter_reason"]
    # the input's metadata columns come through scoring with their values
    assert set(curated["dump"].to_pylist()) == {"CC-MAIN-2024-10"}
    assert set(excluded["source_language_score"].to_pylist()) == {0.9}
    assert None not in curated["date"].to_pylist() + curated["source_cluster_size"].to_pylist()
    texts = dict(realistic_docs)
    assert all(texts[i] == t for i, t in zip(curated["id"].to_pylist(), curated["text"].to_pylist(), strict=True))

    # phases follow the cut-offs, 1 = lowest perplexity
    low, high = summary["cutoffs"]["low"], summary["cutoffs"]["high"]
    rows = curated.select(["id", "perplexity", "phase"]).to_pylist()
    for row in rows:
        assert row["phase"] == (1 if row["perplexity"] <= low else 2 if row["perplexity"] <= high else 3)
    phase_of = {r["id"]: r["phase"] for r in rows}
    assert sum(phase_of[i] == 3 for i in phase_of if i.startswith(("bible", "shuffled"))) >= 40

    # 33/66 token-weighted cuts: every phase holds 20-47% of the characters
    shares = [summary["phases"][k]["character_share"] for k in "123"]
    assert all(0.20 <= s <= 0.47 for s in shares), shares
    assert sum(summary["phases"][k]["documents"] for k in "123") == curated.num_rows
    assert summary["documents"]["excluded"] == {
        "perplexity:empty": 2,
        "perplexity:no_pieces": 1,
        "perplexity:too_long": 1,
    }
    on_disk = json.loads((run / "cutoffs.json").read_text(encoding="utf-8"))
    assert on_disk == summary
    assert on_disk["cutoffs"]["percentiles"] == [33.0, 66.0] and on_disk["cutoffs"]["weight"] == "tokens"
    assert on_disk["lm"]["name"] == DEFAULT_LM_NAME and on_disk["lm"]["sha256"]["lm.binary"]
    # no temporary files left behind: no hidden file outside the run's lock and state folders (.work: datatrove's
    # logs and completion markers, .stages: the freshness records), and no temporary file inside them either
    state = (".lock", ".work", ".stages")
    assert not [p for p in run.rglob(".*") if p.relative_to(run).parts[0] not in state]
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]

    # re-running changes nothing: same numbers, no duplicates, nothing lost
    again = score_run(run, lm_dir=htb_lm, progress=False)
    assert again == summary
    assert _read(run, "curated").equals(curated)
    assert _read(run, "excluded").equals(excluded)


def test_fixed_cutoffs_and_character_weights(tmp_path, htb_lm, held_out_docs) -> None:
    run = _write_run(tmp_path / "run", [(f"d{i}", d) for i, d in enumerate(held_out_docs[:60])], files=1)
    summary = score_run(run, lm_dir=htb_lm, config=DifficultyConfig(cutoffs=CCNET_HEBREW_CUTOFFS), progress=False)
    assert summary["cutoffs"] == {
        "low": 1320.0,
        "high": 1830.0,
        "method": "fixed",
        "percentiles": None,
        "weight": None,
    }
    assert summary["phases"]["1"]["documents"] == 60  # held-out news is far below CCNet's scale here
    summary = score_run(run, config=DifficultyConfig(lm_dir=htb_lm, weight="characters"), progress=False)
    assert summary["cutoffs"]["weight"] == "characters"
    assert 0.28 <= summary["phases"]["1"]["character_share"] <= 0.45


def test_all_documents_unscorable(tmp_path, htb_lm) -> None:
    run = _write_run(tmp_path / "run", [("a", ""), ("b", " ")], files=1)
    summary = score_run(run, lm_dir=htb_lm, progress=False)
    assert summary["cutoffs"] is None
    assert summary["documents"] == {"scored": 0, "excluded": {"perplexity:empty": 2}}
    assert pq.read_table(run / "curated" / "00000.parquet").num_rows == 0


def test_missing_curated_dir_is_a_clear_error(tmp_path, htb_lm) -> None:
    with pytest.raises(RunNotCuratedError, match=r"curated.*hebatron curate") as info:
        score_run(tmp_path / "run", lm_dir=htb_lm, progress=False)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "run" / "curated") in str(info.value)
    (tmp_path / "run" / "curated").mkdir(parents=True)
    with pytest.raises(RunNotCuratedError, match="no .parquet files"):
        score_run(tmp_path / "run", lm_dir=htb_lm, progress=False)


def test_curated_file_without_text_column(tmp_path, htb_lm) -> None:
    (tmp_path / "run" / "curated").mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a"], "body": ["שלום"]}), tmp_path / "run" / "curated" / "x.parquet")
    with pytest.raises(ValueError, match=r"x\.parquet.*\['text'\]"):
        score_run(tmp_path / "run", lm_dir=htb_lm, progress=False)
