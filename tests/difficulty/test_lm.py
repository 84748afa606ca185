"""Training and locating reference LMs (real SentencePiece + lmplz + build_binary, tiny corpora)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from difficulty.corpus import HTB_SPLITS, htb_sentences, iter_texts
from difficulty.lm import DEFAULT_LM_NAME, default_reference_lm, resolve_lm, train_reference_lm
from difficulty.scorer import KenLMScorer


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> list[Path]:
    """The same ~600 HTB train sentences spread over a text file, a JSONL file and a Parquet file."""
    root = tmp_path_factory.mktemp("corpus")
    sents = [s.text for s in htb_sentences("train")[:600]]
    (root / "a.txt").write_text("\n".join(sents[:200]) + "\n", encoding="utf-8")
    with open(root / "b.jsonl", "w", encoding="utf-8") as fh:
        for s in sents[200:400]:
            fh.write(json.dumps({"text": s, "id": "x"}, ensure_ascii=False) + "\n")
    pq.write_table(pa.table({"text": sents[400:]}), root / "c.parquet")
    return [root / "a.txt", root / "b.jsonl", root / "c.parquet"]


def test_htb_splits_are_the_documented_ranges() -> None:
    by_split = {name: htb_sentences(name) for name in HTB_SPLITS}
    assert {k: len(v) for k, v in by_split.items() if k != "train"} == {"dev": 500, "test": 716}
    # train: the 4,937 train sentences less those that repeat dev/test text (kept unseen)
    assert 4800 <= len(by_split["train"]) < 4937
    for name, sents in by_split.items():
        assert all(s.sent_id in HTB_SPLITS[name] for s in sents)
    held_out = {s.text for name in ("dev", "test") for s in by_split[name]}
    assert not held_out & {s.text for s in by_split["train"]}


def test_iter_texts_reads_every_format(small_corpus) -> None:
    texts = list(iter_texts(small_corpus))
    assert len(texts) == 600
    assert texts[0] == htb_sentences("train")[0].text
    assert list(iter_texts(["טקסט חופשי"])) == ["טקסט חופשי"]


def test_bad_corpus_inputs_name_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"no_text": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        list(iter_texts([bad]))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt: not UTF-8"):
        list(iter_texts([latin1]))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        list(iter_texts([tmp_path / "missing.txt"]))


def test_train_reference_lm(small_corpus, tmp_path, lmplz) -> None:
    out = train_reference_lm(small_corpus, tmp_path / "lm", vocab_size=2000)
    assert sorted(p.name for p in out.iterdir()) == ["lm.binary", "model.json", "sp.model"]
    info = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert info["training_data"]["documents"] == 600
    assert info["kenlm"]["order"] == 5
    assert [f["path"].rsplit("/", 1)[-1] for f in info["training_data"]["files"]] == [
        "a.txt",
        "b.jsonl",
        "c.parquet",
    ]
    for name, meta in info["files"].items():
        assert meta["sha256"] == _sha256(out / name)
    # retraining on the same input gives the same files, byte for byte
    again = train_reference_lm(small_corpus, tmp_path / "lm2", vocab_size=2000)
    assert all(_sha256(again / n) == _sha256(out / n) for n in ("sp.model", "lm.binary"))
    # the model scores text
    assert KenLMScorer(out).perplexity("הממשלה החליטה אתמול על הקמת ועדה") > 1.0
    # never silently replaced
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train_reference_lm(small_corpus, out)


def test_tiny_corpus_needs_and_records_discount_fallback(tmp_path, lmplz) -> None:
    out = train_reference_lm(["אחת שתיים שלוש", "שלוש שתיים אחת", "אחת אחת"], tmp_path / "tiny", vocab_size=300)
    info = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert info["kenlm"]["discount_fallback"] is True


def test_bad_arguments_are_clear_errors(tmp_path, lmplz) -> None:
    with pytest.raises(ValueError, match="vocab_size must be at least 300"):
        train_reference_lm(["שלום"], tmp_path / "v", vocab_size=50)
    with pytest.raises(ValueError, match="empty after normalization"):
        train_reference_lm(["   ", "\u200f"], tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_resolve_lm_accepts_ccnet_layout(htb_lm, tmp_path) -> None:
    ccnet = tmp_path / "ccnet"
    ccnet.mkdir()
    shutil.copy(htb_lm / "sp.model", ccnet / "he.sp.model")
    shutil.copy(htb_lm / "lm.binary", ccnet / "he.arpa.bin")
    files = resolve_lm(ccnet)
    assert files.layout == "ccnet" and files.kenlm_model.name == "he.arpa.bin"
    text = "ראש הממשלה נפגש אתמול עם שר האוצר"
    assert KenLMScorer(ccnet).perplexity(text) == KenLMScorer(htb_lm).perplexity(text)
    with pytest.raises(FileNotFoundError, match="not a reference-LM directory"):
        resolve_lm(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such reference-LM directory"):
        resolve_lm(tmp_path / "nope")


def test_default_lm_is_htb_train_lm_half_only_and_cached(htb_lm, lm_cache) -> None:
    assert htb_lm == lm_cache / "lm" / DEFAULT_LM_NAME
    info = json.loads((htb_lm / "model.json").read_text(encoding="utf-8"))
    # the train split's LM half, nothing else
    assert info["training_data"]["documents"] == len(htb_sentences("train", half="lm"))
    assert "LM half: sent_id 501-2998" in info["training_data"]["description"]
    mtime = (htb_lm / "lm.binary").stat().st_mtime_ns
    started = time.perf_counter()
    assert default_reference_lm(lm_cache) == htb_lm
    assert time.perf_counter() - started < 0.5  # reused, not rebuilt
    assert (htb_lm / "lm.binary").stat().st_mtime_ns == mtime
    assert [p.name for p in (lm_cache / "lm").iterdir()] == [DEFAULT_LM_NAME]  # no leftover temp dirs
