"""PerplexityScorer as a datatrove step: metadata, named drop reasons, exclusion writer, executor."""

from __future__ import annotations

import gzip
import json
import pickle

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from difficulty.step import PerplexityScorer


def _docs(held_out_docs) -> list[Document]:
    docs = [Document(text=t, id=f"news-{i}") for i, t in enumerate(held_out_docs[:5])]
    docs += [
        Document(text="", id="empty"),
        Document(text=" \n\t", id="blank"),
        Document(text="\u200f\u200e", id="marks"),
        Document(text="א" * 2_000_001, id="huge"),
        Document(text="The budget was approved on Tuesday.", id="english"),
    ]
    return docs


def _read_jsonl_gz(folder) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.rglob("*.jsonl.gz")) for line in gzip.open(p, "rt")]


def test_step_annotates_and_drops_with_reasons(tmp_path, htb_lm, held_out_docs) -> None:
    step = PerplexityScorer(htb_lm, exclusion_writer=JsonlWriter(str(tmp_path / "excluded")))
    kept = list(step.run(iter(_docs(held_out_docs))))
    assert [d.id for d in kept] == [f"news-{i}" for i in range(5)] + ["english"]
    assert all(d.metadata["perplexity"] > 1 and d.metadata["perplexity_tokens"] > 0 for d in kept)
    stats = step.stats.stats
    assert stats["dropped_perplexity:empty"].total == 2
    assert stats["dropped_perplexity:no_pieces"].total == 1
    assert stats["dropped_perplexity:too_long"].total == 1
    excluded = {r["id"]: r["metadata"]["filter_reason"] for r in _read_jsonl_gz(tmp_path / "excluded")}
    assert excluded == {
        "empty": "perplexity:empty",
        "blank": "perplexity:empty",
        "marks": "perplexity:no_pieces",
        "huge": "perplexity:too_long",
    }


def test_step_is_picklable_and_loads_lazily(htb_lm, held_out_docs) -> None:
    step = PerplexityScorer(htb_lm)
    list(step.run(iter(_docs(held_out_docs)[:1])))
    clone = pickle.loads(pickle.dumps(step))
    assert clone.scorer._lm is None
    doc = Document(text=held_out_docs[0], id="x")
    assert clone.filter(doc) is True
    assert doc.metadata["perplexity"] == step.scorer.perplexity(held_out_docs[0])


def test_step_in_a_datatrove_pipeline(tmp_path, htb_lm, held_out_docs) -> None:
    src = tmp_path / "in"
    src.mkdir()
    with open(src / "docs.jsonl", "w", encoding="utf-8") as fh:
        for d in _docs(held_out_docs):
            fh.write(json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n")
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(src)),
            PerplexityScorer(htb_lm, exclusion_writer=JsonlWriter(str(tmp_path / "excluded"))),
            JsonlWriter(str(tmp_path / "out")),
        ],
        tasks=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    out = _read_jsonl_gz(tmp_path / "out")
    assert len(out) == 6 and all(r["metadata"]["perplexity"] > 1 for r in out)
    # datatrove's reader itself skips a record whose text is "", so only three reach the scorer
    excluded = {r["id"]: r["metadata"]["filter_reason"] for r in _read_jsonl_gz(tmp_path / "excluded")}
    assert excluded == {
        "blank": "perplexity:empty",
        "marks": "perplexity:no_pieces",
        "huge": "perplexity:too_long",
    }
