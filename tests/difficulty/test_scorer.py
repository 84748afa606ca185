"""KenLMScorer: CCNet's formula, separation of real from scrambled text, determinism, unscorable input."""

from __future__ import annotations

import pickle
import random
import statistics

import kenlm
import pytest
import sentencepiece as spm

from difficulty.normalize import normalize_line
from difficulty.scorer import DocumentScorer, KenLMScorer, UnscorableDocument


@pytest.fixture(scope="module")
def scorer(htb_lm) -> KenLMScorer:
    return KenLMScorer(htb_lm)


def _shuffle_words(doc: str, rng: random.Random) -> str:
    lines = []
    for line in doc.split("\n"):
        words = line.split()
        rng.shuffle(words)
        lines.append(" ".join(words))
    return "\n".join(lines)


def test_is_a_document_scorer(scorer) -> None:
    assert isinstance(scorer, DocumentScorer)


def test_ccnet_formula_by_hand(scorer, htb_lm) -> None:
    sp = spm.SentencePieceProcessor(model_file=str(htb_lm / "sp.model"))
    lm = kenlm.Model(str(htb_lm / "lm.binary"))
    doc = "הכנסת אישרה אתמול את התקציב.\n\n  בשנת 2024 הוא גדל ב-3%.  \n\u200f"
    log10_prob, length = 0.0, 0
    for line in ("הכנסת אישרה אתמול את התקציב.", "בשנת 0000 הוא גדל ב-0%."):
        assert normalize_line(line) == line
        pieces = sp.encode(line, out_type=str)
        log10_prob += lm.score(" ".join(pieces), bos=True, eos=True)
        length += len(pieces) + 1
    score = scorer.score(doc)
    assert (score.lines, score.tokens) == (2, length)
    assert score.log10_prob == pytest.approx(log10_prob)
    assert score.perplexity == pytest.approx(10 ** (-log10_prob / length))


def test_shuffled_news_scores_higher(scorer, held_out_docs) -> None:
    rng = random.Random(1234)
    pairs = [(scorer.perplexity(d), scorer.perplexity(_shuffle_words(d, rng))) for d in held_out_docs]
    higher = sum(shuffled > original for original, shuffled in pairs)
    assert len(pairs) >= 150
    assert higher / len(pairs) >= 0.90
    assert statistics.median(s for _, s in pairs) > 1.5 * statistics.median(o for o, _ in pairs)


def test_news_is_easier_than_bible_and_aramaic(scorer, held_out_docs, bible_docs, aramaic_docs) -> None:
    news = statistics.median(map(scorer.perplexity, held_out_docs))
    bible = statistics.median(map(scorer.perplexity, bible_docs))
    aramaic = statistics.median(map(scorer.perplexity, aramaic_docs))
    assert news < aramaic < bible
    assert bible > 3 * news


def test_scoring_is_deterministic(scorer, htb_lm, held_out_docs) -> None:
    first = [scorer.score(d) for d in held_out_docs[:50]]
    assert [scorer.score(d) for d in held_out_docs[:50]] == first
    fresh = pickle.loads(pickle.dumps(scorer))  # as shipped to a worker process: models reloaded lazily
    assert fresh._lm is None
    assert [fresh.score(d) for d in held_out_docs[:50]] == first
    assert scorer.score_many(held_out_docs[:50]) == first


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t \n", "empty"),
        ("\u200f\u200e\x00\x07", "no_pieces"),
        ("\u05b0\u05b4", "no_pieces"),
    ],
)
def test_unscorable_documents_have_a_reason(scorer, text, reason) -> None:
    with pytest.raises(UnscorableDocument) as info:
        scorer.score(text)
    assert info.value.reason == reason


def test_ten_megabyte_document(scorer, htb_lm, held_out_docs) -> None:
    base = "\n".join(held_out_docs) + "\n"
    huge = base * (10_000_000 // len(base.encode("utf-8")) + 1)
    assert len(huge.encode("utf-8")) > 10_000_000
    # by default it is dropped, at once, with a reason
    with pytest.raises(UnscorableDocument) as info:
        scorer.score(huge)
    assert info.value.reason == "too_long"
    results = scorer.score_many(["", huge, held_out_docs[0]])
    assert [getattr(r, "reason", None) for r in results] == ["empty", "too_long", None]
    # with the limit raised it is scored like the text it repeats
    assert KenLMScorer(htb_lm, max_chars=len(huge)).perplexity(huge) == pytest.approx(scorer.perplexity(base), rel=1e-6)


def test_non_hebrew_text_gets_a_high_perplexity(scorer, held_out_docs) -> None:
    english = "The quick brown fox jumps over the lazy dog.\nParliament approved the budget on Tuesday."
    arabic = "وافق البرلمان على الميزانية يوم الثلاثاء بعد نقاش طويل."
    news = statistics.median(map(scorer.perplexity, held_out_docs[:40]))
    # characters the SentencePiece model never saw fall back to bytes, which the LM finds very unlikely
    assert scorer.perplexity(english) > 5 * news
    assert scorer.perplexity(arabic) > 5 * news
    assert scorer.perplexity("😀😀😀") > 0


def test_line_perplexities(scorer, held_out_docs) -> None:
    per_line = scorer.line_perplexities(held_out_docs[0])
    assert len(per_line) == len(held_out_docs[0].split("\n"))
    assert all(p > 1 for p in per_line)


def test_bad_model_dir_and_max_chars(tmp_path, htb_lm) -> None:
    with pytest.raises(FileNotFoundError, match="train-lm"):
        KenLMScorer(tmp_path / "missing")
    with pytest.raises(ValueError, match="max_chars"):
        KenLMScorer(htb_lm, max_chars=0)
