"""KenLMScorer: CCNet's formula, separation of real from scrambled text, determinism, unscorable input."""

from __future__ import annotations

import pickle
import random
import statistics
import unicodedata

import kenlm
import pytest
import sentencepiece as spm

from difficulty import normalize as normalize_module
from difficulty.normalize import normalize_line, normalize_lines
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


def _plain_score(text: str, sp, lm) -> tuple[float, float, int, int]:
    """The scorer's formula the plain way: a full ``str.translate`` per line, the public encode, a loop."""
    table = {**normalize_module._TABLE}
    log10_prob, tokens, lines = 0.0, 0, 0
    for raw in text.split("\n"):
        line = unicodedata.normalize("NFD", raw.strip(normalize_module._STRIP).lower()).translate(table)
        if not line or line.isspace():
            continue
        pieces = sp.encode(line, out_type=str)
        if pieces:
            log10_prob += lm.score(" ".join(pieces))
            tokens += len(pieces) + 1
            lines += 1
    return 10.0 ** (-log10_prob / tokens), log10_prob, tokens, lines


def _varied_documents(held_out_sentences: list[str], n: int) -> list[str]:
    rng = random.Random(17)
    extras = [
        "שָׁלוֹם עֲלֵיכֶם, מָה שְׁלוֹמְךָ?",  # niqqud
        "בשנת 2024 גדל התקציב ב-3.5% ל-١٢٣ מיליון ₪ (０１２).",  # digits of three scripts
        "Tel-Aviv «קפה» — “Ünïcode” … ➜ 😀 𝟘𝟙",  # mixed scripts, typographic and astral characters
        "\u200f\u202b  \t \u200e",  # empty after normalization
        "ראש\tהממשלה\x07 אמר: ״בדיקה״ ־ ׳א׳",  # tab, control, Hebrew punctuation
        "1 2 3 4 5 6 7 8 9 10 11 12 — – … « » 13",  # more runs of changed characters than the fast path takes
    ]
    docs = []
    for _ in range(n):
        k = rng.choice([1, 1, 1, 2, 5])
        lines = [rng.choice(held_out_sentences) if rng.random() < 0.7 else rng.choice(extras) for _ in range(k)]
        if rng.random() < 0.2:
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(["", "   ", "\r", "\u200f"]))
        docs.append("\n".join(lines))
    return docs


def test_fast_paths_score_as_the_plain_computation(scorer, htb_lm, held_out_sentences) -> None:
    sp = spm.SentencePieceProcessor(model_file=str(htb_lm / "sp.model"))
    lm = kenlm.Model(str(htb_lm / "lm.binary"))
    docs = _varied_documents(held_out_sentences, 400)
    assert sum("\n" in d for d in docs) > 50
    scored = 0
    for doc, result in zip(docs, scorer.score_many(docs), strict=True):
        if isinstance(result, UnscorableDocument):
            assert normalize_lines(doc) == []
            continue
        expected = _plain_score(doc, sp, lm)
        assert (result.perplexity, result.log10_prob, result.tokens, result.lines) == expected, doc
        assert result == scorer.score(doc)
        scored += 1
    assert scored > 300
