"""tokenize_run: Megatron .bin/.idx read back with megatron-core, totals equal to the manifest, a blend."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

from common.freshness import record_stage, recorded_outputs
from shards.config import ShardConfig
from shards.run import shard_run
from shards.tokenize import TokenizeError, tokenize_run
from shards.tokenizer import load_tokenizer

pytestmark = pytest.mark.filterwarnings("ignore:Transformer Engine and Apex are not installed:UserWarning")


def _dataset(prefix: Path):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    return IndexedDataset(str(prefix))


def test_token_files_match_the_manifest(tokenized) -> None:
    run, manifest, summary = tokenized
    eod = manifest["tokenizer"]["eod"]
    assert summary["dtype"] == "uint16" and summary["tokenizer"] == manifest["tokenizer"]
    for k, phase in manifest["phases"].items():
        for role in ("hebrew", "anchor"):
            ds = _dataset(run / "tokens" / f"phase-{k}" / role)
            lengths = ds.sequence_lengths
            assert len(ds) == phase[role]["documents"] == summary["phases"][k][role]["documents"]
            assert int(lengths.sum()) == phase[role]["tokens"] == summary["phases"][k][role]["tokens"]
            assert ds.index.dtype == np.uint16
            for i in range(len(ds)):  # every document ends with the real end-of-document token, once
                doc = ds[i]
                assert doc[-1] == eod and eod not in doc[:-1]
        assert summary["phases"][k]["anchor_ratio"] == phase["anchor_ratio"]


def test_token_files_hold_the_shard_rows_in_order(tokenized) -> None:
    from tokenizers import Tokenizer

    run, manifest, _ = tokenized
    raw = Tokenizer.from_file(str(run / manifest["tokenizer"]["path"]))
    files = [run / "shards" / f["path"] for f in manifest["phases"]["2"]["files"]]
    rows = [r for f in files for r in pq.read_table(f, columns=["text", "role"]).to_pylist()]
    for role in ("hebrew", "anchor"):
        texts = [r["text"] for r in rows if r["role"] == role]
        ds = _dataset(run / "tokens" / "phase-2" / role)
        for i in (0, len(texts) // 2, len(texts) - 1):
            assert raw.decode(ds[i][:-1].tolist()) == texts[i]


def test_megatron_blend_realizes_the_manifest_ratio(tokenized) -> None:
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    run, manifest, summary = tokenized
    ratio = manifest["phases"]["1"]["anchor_ratio"]
    weights, prefixes = summary["phases"]["1"]["blend"][::2], summary["phases"]["1"]["blend"][1::2]
    assert weights == pytest.approx([1 - ratio, ratio])
    tokenizer = SimpleNamespace(
        vocab_size=manifest["tokenizer"]["vocab_size"],
        eod=manifest["tokenizer"]["eod"],
        unique_identifiers={"sha256": manifest["tokenizer"]["sha256"]},
    )
    config = GPTDatasetConfig(
        random_seed=1234,
        sequence_length=64,
        split="100,0,0",
        tokenizer=tokenizer,
        path_to_cache=None,
        blend=([str(run / "tokens" / p) for p in prefixes], weights),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
    )
    train, _, _ = BlendedMegatronDatasetBuilder(GPTDataset, [2000, 0, 0], lambda: True, config).build()
    counts = np.bincount(np.asarray(train.dataset_index), minlength=2)
    assert abs(counts[1] / counts.sum() - ratio) <= 0.005
    sample = train[int(np.flatnonzero(np.asarray(train.dataset_index) == 1)[0])]
    assert sample["tokens"].shape == (64,)


def test_rerun_skips_and_refuses_another_tokenizer(tokenized, tmp_path, reference_lm) -> None:
    run, _, summary = tokenized
    bin_file = run / "tokens" / "phase-1" / "hebrew.bin"
    mtime = bin_file.stat().st_mtime_ns
    assert tokenize_run(run, progress=False) == summary
    assert bin_file.stat().st_mtime_ns == mtime
    with pytest.raises(TokenizeError, match=r"sp.model is not the tokenizer the shards were counted with"):
        tokenize_run(run, tokenizer=reference_lm / "sp.model", progress=False)


def test_changed_shard_is_refused(fresh_run, anchors) -> None:
    manifest = shard_run(fresh_run, [anchors], ShardConfig(), progress=False)
    shard = fresh_run / "shards" / manifest["phases"]["3"]["files"][0]["path"]
    table = pq.read_table(shard)
    pq.write_table(table.slice(1), shard)
    with pytest.raises(TokenizeError, match="part-00000.parquet does not match the manifest's sha256"):
        tokenize_run(fresh_run, progress=False)
    assert not (fresh_run / "tokens").exists() and not list(fresh_run.glob(".tokens.tmp-*"))


def test_not_sharded(fresh_run) -> None:
    with pytest.raises(FileNotFoundError, match="manifest.json not found: run `hebatron shard"):
        tokenize_run(fresh_run, progress=False)


def test_sentencepiece_tokenizer_end_to_end(fresh_run, anchors, reference_lm, tmp_path) -> None:
    model = tmp_path / "he-sp.model"
    shutil.copyfile(reference_lm / "sp.model", model)
    manifest = shard_run(fresh_run, [anchors], ShardConfig(tokenizer=model), progress=False)
    tok = manifest["tokenizer"]
    assert (tok["name"], tok["kind"], tok["path"], tok["vocab_size"]) == (
        "he-sp",
        "sentencepiece",
        "tokenizer/tokenizer.model",
        8000,
    )
    assert load_tokenizer(fresh_run / tok["path"]).sha256 == tok["sha256"]
    summary = tokenize_run(fresh_run, tokenizer=model, progress=False)  # the same model, named elsewhere
    for k, phase in manifest["phases"].items():
        assert abs(phase["anchor_ratio"] - (0.3, 0.2, 0.1)[int(k) - 1]) <= 0.02
        for role in ("hebrew", "anchor"):
            ds = _dataset(fresh_run / "tokens" / f"phase-{k}" / role)
            assert int(ds.sequence_lengths.sum()) == phase[role]["tokens"] == summary["phases"][k][role]["tokens"]
            assert ds[0][-1] == tok["eod"]


def test_shards_load_with_pyarrow_and_duckdb(sharded) -> None:
    import duckdb
    import pyarrow.dataset as pds

    run, manifest = sharded
    files = [str(run / "shards" / f["path"]) for p in manifest["phases"].values() for f in p["files"]]
    table = pds.dataset(files, format="parquet").to_table()
    assert table.schema.names == ["id", "text", "lang", "role", "phase", "perplexity"]
    total = sum(f["rows"] for p in manifest["phases"].values() for f in p["files"])
    assert table.num_rows == total
    rows = duckdb.sql(
        f"SELECT phase, role, count(*) FROM '{run}/shards/phase-*/part-*.parquet' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert rows == [
        (int(k), role, manifest["phases"][k][role]["documents"]) for k in "123" for role in ("anchor", "hebrew")
    ]


def test_shards_load_with_hf_datasets(sharded, tmp_path, monkeypatch) -> None:
    datasets = pytest.importorskip("datasets", reason="HF `datasets` is not installed (pip install datasets)")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    run, manifest = sharded
    files = {f"phase{k}": [str(run / "shards" / f["path"]) for f in p["files"]] for k, p in manifest["phases"].items()}
    ds = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    for k, p in manifest["phases"].items():
        split = ds[f"phase{k}"]
        assert split.num_rows == p["hebrew"]["documents"] + p["anchor"]["documents"]
        assert split.column_names == ["id", "text", "lang", "role", "phase", "perplexity"]
        assert set(split["phase"]) == {int(k)}


def test_zero_ratio_and_empty_phase_write_no_empty_files(fresh_run, anchors) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    for path in (fresh_run / "curated").glob("*.parquet"):  # move every phase-3 document to phase 2
        table = pq.read_table(path)
        phase = table.column("phase")
        moved = pc.if_else(pc.equal(phase, 3), pa.scalar(2, phase.type), phase)
        pq.write_table(table.set_column(table.schema.get_field_index("phase"), "phase", moved), path)
    # the edited files stand in for what score wrote (shard reads only what a stage recorded writing)
    record_stage(fresh_run, "score", writes=[fresh_run / name for name in recorded_outputs(fresh_run, "score")])
    manifest = shard_run(fresh_run, [anchors], ShardConfig(anchor_ratio=(0.5, 0.0, 0.1)), progress=False)
    assert abs(manifest["phases"]["1"]["anchor_ratio"] - 0.5) <= 0.02
    assert manifest["phases"]["3"]["files"] == [] and manifest["phases"]["3"]["anchor_ratio"] == 0.0
    assert manifest["phases"]["2"]["anchor"]["documents"] == 0
    summary = tokenize_run(fresh_run, progress=False)
    assert summary["phases"]["2"]["anchor"] == {"prefix": None, "documents": 0, "tokens": 0}
    assert summary["phases"]["2"]["blend"] == [1.0, "phase-2/hebrew"]
    assert summary["phases"]["3"]["blend"] == []
    assert sorted(p.name for p in (fresh_run / "tokens").glob("phase-*/*.bin")) == [
        "anchor.bin",
        "hebrew.bin",
        "hebrew.bin",
    ]
    assert summary["eval"]["he"]["documents"] > 100 and (fresh_run / "tokens" / "eval" / "he.bin").is_file()
    assert len(_dataset(fresh_run / "tokens" / "phase-2" / "hebrew")) == manifest["phases"]["2"]["hebrew"]["documents"]
    assert tokenize_run(fresh_run, progress=False) == summary  # the re-run check copes with missing prefixes
