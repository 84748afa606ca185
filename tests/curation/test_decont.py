"""Hebrew-aware n-gram decontamination: planted benchmark passages, written with proclitics added or removed,
geresh/gershayim and maqaf spelt the other way and niqqud added, are caught inside unrelated documents;
unrelated news from the same newspaper is not.

The benchmark is HTB test text and the negatives are HTB train text (never looked at while writing the canonical
form); the variations are drawn by a seeded generator from rules, not from examples the form was tuned on."""

from __future__ import annotations

import json
import random

import pytest

from curation.decont.canon import PROCLITICS, canonical_words, plain_words
from curation.decont.index import DecontError, DecontIndex, build_index, open_indexes

N_PASSAGES = 40


@pytest.fixture(scope="module")
def passages() -> list[str]:
    from common.sources import htb_sentences

    sents = [s.text for s in htb_sentences("test")]
    out = []
    for i in range(0, len(sents) - 1, 2):
        text = " ".join(sents[i : i + 2])
        if len(text.split()) >= 25:
            out.append(text)
    return out[:N_PASSAGES]


def vary(text: str, rng: random.Random) -> str:
    """TEXT as another site might write it: every third Hebrew word or so gets a proclitic added or its own
    removed, quotes become geresh/gershayim (and back), hyphens maqaf, a few words get niqqud."""
    words = []
    for w in text.split():
        r = rng.random()
        if "\u05d0" <= w[:1] <= "\u05ea":
            if r < 0.2:
                w = rng.choice("והבלמש") + w
            elif r < 0.35 and len(w) > 3 and w[0] in PROCLITICS:
                w = w[1:]
            elif r < 0.4:
                w = w[0] + "\u05b8" + w[1:]  # a qamats
        w = w.replace('"', "\u05f4") if rng.random() < 0.7 else w
        w = w.replace("'", "\u05f3").replace("-", "\u05be")
        words.append(w)
    return " ".join(words)


def plant(passage: str, host: str, rng: random.Random) -> str:
    words = host.split()
    at = rng.randrange(len(words))
    return " ".join([*words[:at], passage, *words[at:]])


def test_canonical_form_is_invariant_to_proclitics_and_geresh() -> None:
    assert canonical_words("וּבבית הספר של צה״ל ב-2020 ג׳ירפה") == canonical_words("הבית ספר של צה\"ל 2020 ג'ירפה")
    # one proclitic added to any word of two letters or more leaves its form alone
    for word in ("בית", "ספר", "של", "מלך", "ירושלים", "שמש"):
        for p in PROCLITICS:
            assert canonical_words(p + word) == canonical_words(word)


def test_planted_variants_are_caught_and_unrelated_news_is_not(passages, news_docs, tmp_path) -> None:
    assert len(passages) == N_PASSAGES
    bench = tmp_path / "heb_reading.jsonl"
    bench.write_text("".join(json.dumps({"text": p}, ensure_ascii=False) + "\n" for p in passages), encoding="utf-8")
    meta = build_index([bench], tmp_path / "index")
    assert set(meta["tasks"]) == {"heb_reading"}
    index = DecontIndex.load(tmp_path / "index")

    rng = random.Random(16)
    planted = [plant(vary(p, rng), news_docs[i % len(news_docs)], rng) for i, p in enumerate(passages)]
    caught = [index.matches(d) for d in planted]
    assert all(m == {"heb_reading": m["heb_reading"]} for m in caught), sum(not m for m in caught)

    # datatrove's own normalization misses most of them: the variations are what hides a match
    plain = {" ".join(g) for p in passages for g in zip(*(plain_words(p)[i:] for i in range(12)), strict=False)}
    plain_caught = sum(
        any(" ".join(g) in plain for g in zip(*(plain_words(d)[i:] for i in range(12)), strict=False)) for d in planted
    )
    assert plain_caught < N_PASSAGES // 2

    # unrelated text: the rest of the newspaper (HTB train, every sentence) and English prose
    from common.sources import htb_train_sentences

    train = [s.text for s in htb_train_sentences()]
    negatives = [" ".join(train[i : i + 10]) for i in range(0, len(train), 10)] + list(news_docs)
    false_positives = [d for d in negatives if index.matches(d)]
    assert len(negatives) > 500 and false_positives == []


def test_query_answer_records_and_task_field(tmp_path) -> None:
    q = "מי היה ראש הממשלה הראשון של מדינת ישראל אחרי שהוכרזה העצמאות בשנת 1948 בתל אביב"
    bench = tmp_path / "qa.jsonl"
    bench.write_text(json.dumps({"query": q, "answer": "דוד בן גוריון", "task": "heb-qa"}) + "\n", encoding="utf-8")
    index = open_indexes([bench])
    assert index.tasks == ["heb-qa"]
    doc = "שאלה: ומי היה ראש הממשלה הראשון של מדינת ישראל, אחרי שהוכרזה העצמאות בשנת 1948 בתל-אביב? דוד בן-גוריון"
    assert "heb-qa" in index.matches(doc)


def test_datatrove_filter_reads_the_index(tmp_path) -> None:
    """The folder is datatrove's format: its own NGramsDecontFilter loads it and drops the same document."""
    from datatrove.data import Document
    from datatrove.pipeline.decont import NGramsDecontFilter

    from curation.decont.canon import CanonicalTokenizer
    from curation.decont.index import decont_config

    text = "אחת שתיים שלוש ארבע חמש שש שבע שמונה תשע עשר אחת עשרה שתים עשרה שלוש עשרה"
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": text}) + "\n", encoding="utf-8")
    build_index([tmp_path / "b.jsonl"], tmp_path / "ix")
    step = NGramsDecontFilter(str(tmp_path / "ix"), config=decont_config())
    step.tokenizer = CanonicalTokenizer()
    assert step.filter(Document(text="כן, ו" + text, id="1"))[0] is False
    assert step.filter(Document(text="משהו אחר לגמרי", id="2")) is True


def test_bad_benchmark_line_names_file_and_line(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{not json\n', encoding="utf-8")
    with pytest.raises(DecontError, match=r"bad.jsonl:2"):
        build_index([bad], tmp_path / "ix")
    (tmp_path / "empty.jsonl").write_text('{"answer": 3}\n', encoding="utf-8")
    with pytest.raises(DecontError, match=r"empty.jsonl:1: no `text`"):
        build_index([tmp_path / "empty.jsonl"], tmp_path / "ix2")


def test_curate_decontaminate_excludes_with_task_and_ngram(news_docs, passages, tmp_path) -> None:
    import dataclasses

    from curation.config import CurationConfig
    from curation.run import curate
    from hebatron.catalog import query
    from tests.curation.helpers import write_jsonl

    bench = tmp_path / "heb_reading.jsonl"
    bench.write_text(json.dumps({"text": passages[0]}, ensure_ascii=False) + "\n", encoding="utf-8")
    rng = random.Random(3)
    records = [{"id": f"d{i}", "text": t} for i, t in enumerate(news_docs[:12])]
    records[5]["text"] = plant(vary(passages[0], rng), records[5]["text"], rng)
    cfg = dataclasses.replace(CurationConfig(), decontaminate=(str(bench),))
    run = tmp_path / "run"
    curate([write_jsonl(tmp_path / "in.jsonl", records)], run, cfg)
    _, rows = query(run, "SELECT id, filter_reason, matched_ngram FROM excluded WHERE matched_ngram IS NOT NULL")
    assert [(r[0], r[1]) for r in rows] == [("d5", "decontamination:heb_reading")]
    assert len(rows[0][2].split()) == 12
    _, kept = query(run, "SELECT count(*) FROM curated WHERE id = 'd5'")
    assert kept == [(0,)]
