"""The fast Gopher repetition rules decide as datatrove's own, document by document, with the same reason."""

from __future__ import annotations

import random

from datatrove.data import Document
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter

from curation.config import GopherRepetitionConfig
from curation.quality import datatrove_kwargs
from curation.repetition import FastGopherRepetition, duplicate_n_gram_chars, top_n_gram_chars
from curation.words import HEBREW_WORDS


def documents(news_docs: list[str], htb_train: list[str]) -> list[str]:
    rng = random.Random(0)
    docs = list(news_docs)
    for doc in news_docs[:40]:
        sents = doc.split(". ")
        docs.append(". ".join(sents + rng.sample(sents, k=min(3, len(sents)))))  # repeated sentences
        words = doc.split()
        start = rng.randrange(max(1, len(words) - 12))
        docs.append(" ".join(words + words[start : start + rng.randint(5, 12)] * rng.randint(1, 4)))  # n-grams
        docs.append("\n".join(rng.choice(htb_train[:50]) for _ in range(12)))  # repeated lines
    docs += ["אב ג דה", "אבג ד ה " * 30, "", "מילה"]  # joins that collide without a separator; short texts
    return docs


def test_fast_rules_decide_as_datatrove(news_docs, htb_train):
    kwargs = datatrove_kwargs(GopherRepetitionConfig())
    fast = FastGopherRepetition(language=HEBREW_WORDS, **kwargs)
    reference = GopherRepetitionFilter(language=HEBREW_WORDS, **kwargs)
    docs = documents(news_docs, htb_train)
    decisions = [fast.filter(Document(text=t, id=str(i))) for i, t in enumerate(docs)]
    assert decisions == [reference.filter(Document(text=t, id=str(i))) for i, t in enumerate(docs)]
    assert sum(d is True for d in decisions) > 30 and sum(d is not True for d in decisions) > 30


def test_n_gram_counts_equal_datatrove_helpers(news_docs):
    from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_top_duplicate, get_n_grams

    for text in [*news_docs[:20], "אב ג דה אבג ד ה " * 5, "a b", "x"]:
        words = HEBREW_WORDS.word_tokenize(text)
        for n in (2, 3, 4):
            n_grams = get_n_grams(words, n)
            assert top_n_gram_chars(words, n) == (find_top_duplicate(n_grams) if n_grams else 0)
        for n in range(5, 11):
            assert duplicate_n_gram_chars(words, n) == find_all_duplicate(words, n)
