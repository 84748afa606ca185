"""``build_sft_set``: dedup, held-out split and its overlap, too-long samples, packing and the loss mask."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from shards.sft_data import SftDataConfig, SftDataError, build_sft_set

PAIRS = [
    ("הקובץ לא נמצא בתיקייה", "The file was not found in the folder"),
    ("לא ניתן לפתוח את הקובץ", "Cannot open the file"),
    ("האם לשמור את השינויים לפני היציאה", "Save the changes before quitting"),
    ("החיבור לשרת נכשל", "The connection to the server failed"),
    ("הזיכרון של המחשב אזל", "The computer ran out of memory"),
    ("הסיסמה שהוזנה שגויה", "The password you entered is wrong"),
    ("יש להפעיל מחדש את המחשב", "You must restart the computer"),
    ("ההורדה הושלמה בהצלחה", "The download completed successfully"),
    ("לא נבחר אף קובץ להעלאה", "No file was chosen for upload"),
    ("המשתמש כבר קיים במערכת", "The user already exists in the system"),
    ("הדפדפן אינו תומך בתכונה זו", "The browser does not support this feature"),
    ("התיקייה ריקה כרגע", "The folder is empty right now"),
]
CONFIG = SftDataConfig(eval_pairs=3, templates={"he2en": "he: {he}\nen:", "en2he": "en: {en}\nhe:"})


@pytest.fixture(scope="module")
def tokenized_run(tmp_path_factory) -> Path:
    from common.sources import english_paragraphs, htb_train_sentences
    from shards.tokenizer import train_bpe

    run = tmp_path_factory.mktemp("sft") / "run"
    texts = [s.text for s in htb_train_sentences()][:1500] + list(english_paragraphs())[:1500]
    train_bpe(texts, run / "tokenizer" / "tokenizer.json", vocab_size=500, name="t500")
    return run


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"he": h, "en": e}, ensure_ascii=False) + "\n" for h, e in rows), "utf-8")
    return path


def _fresh(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def test_set_is_deduplicated_split_and_masked(tokenized_run, tmp_path) -> None:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    run = _fresh(tokenized_run, tmp_path)
    rows = [*PAIRS, PAIRS[0], (PAIRS[2][0] + "?", PAIRS[2][1] + "?"), ("מילים " * 40, "words " * 40)]
    stats = build_sft_set([_write(tmp_path / "p.jsonl", rows)], run, config=CONFIG, seq_length=64)
    assert stats["dropped"]["duplicate"] == 1
    assert stats["dropped"]["near_duplicate"] == 1
    assert stats["dropped"]["too_long"] == 2  # both directions of the long pair
    assert stats["pairs_eval"] == 3 and stats["pairs_train"] == len(PAIRS) - 3 + 1  # the long pair is a train pair
    summary = json.loads((run / "sft" / "sft.json").read_text("utf-8"))
    tokens = IndexedDataset(str(run / "sft" / "train"))
    masks = IndexedDataset(str(run / "sft" / "train-mask"))
    assert len(tokens) == len(masks) == 2 * (len(PAIRS) - 3) == summary["train"]["samples"]
    eod = summary["tokenizer"]["eod"]
    for i in range(len(tokens)):
        ids, mask = tokens[i], masks[i]
        assert len(ids) == len(mask) <= 65
        assert ids[-1] == eod and mask[-1] == 1 and mask[0] == 0  # prompt first, the response ends the sample
        assert np.all(np.diff(mask.astype(int)) >= 0)  # one prompt, then one response
    docs = np.asarray(tokens.document_indices)
    lengths = tokens.sequence_lengths
    assert all(lengths[docs[j] : docs[j + 1]].sum() <= 65 for j in range(len(docs) - 1))
    held = [json.loads(line) for line in (run / "sft" / "eval.jsonl").read_text("utf-8").splitlines()]
    assert [r["direction"] for r in held] == ["he2en", "en2he"] * 3


def test_eval_overlap_is_removed_and_reruns_resume(tokenized_run, tmp_path) -> None:
    from shards.sft_data import _key

    run = _fresh(tokenized_run, tmp_path)
    first = build_sft_set([_write(tmp_path / "a.jsonl", PAIRS)], run, config=CONFIG, seq_length=64)
    assert first["dropped"].get("eval_overlap", 0) == 0
    build_sft_set([tmp_path / "a.jsonl"], run, config=CONFIG, seq_length=64)  # unchanged: resumed
    assert json.loads((run / "sft" / "stats.json").read_text("utf-8")) == first
    held = sorted(PAIRS, key=lambda p: _key(p[1], CONFIG.seed))[: CONFIG.eval_pairs]
    # a longer message around a held-out English string, with its own Hebrew: it would leak the answer
    he, en = held[0]
    leak = ("שגיאה חמורה במערכת ההפעלה: " + he, en + ": a serious error in the operating system")
    stats = build_sft_set([_write(tmp_path / "b.jsonl", [*PAIRS, leak])], run, config=CONFIG, seq_length=64)
    assert stats["dropped"]["eval_overlap"] == 1
    assert stats["pairs_eval"] == CONFIG.eval_pairs


def test_bad_files_are_counted_and_no_pairs_is_one_error(tokenized_run, tmp_path) -> None:
    run = _fresh(tokenized_run, tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"he": "x"}\n\xff\xfe\nnot json\n')
    with pytest.raises(SftDataError, match="no training samples"):
        build_sft_set([bad], run, config=CONFIG, seq_length=64)
    with pytest.raises(SftDataError, match="no such pairs file"):
        build_sft_set([tmp_path / "missing.jsonl"], run, config=CONFIG, seq_length=64)


def test_templates_must_name_their_side() -> None:
    with pytest.raises(ValueError, match="must contain"):
        SftDataConfig(templates={"he2en": "translate: {en}", "en2he": "{en}"})
