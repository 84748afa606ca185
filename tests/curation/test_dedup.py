"""MinHash sees the normalized text: copies that differ only in encoding details become identical."""

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

from curation.normalize import normalize_hebrew
from curation.words import HEBREW_WORDS


def shingles(text: str) -> set:
    sig = MinhashDedupSignature("/tmp/unused-sigs", MinhashConfig(), language=HEBREW_WORDS)
    return set(np.asarray(sig.get_shingles(text)).ravel().tolist())


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def variants(text: str) -> dict[str, str]:
    return {
        "gershayim": text.replace('"', "\u05f4").replace("'", "\u05f3"),
        "bidi_marks": " ".join(f"\u200f{w}" if i % 3 == 0 else w for i, w in enumerate(text.split(" "))),
        "presentation_forms": text.replace("ש", "\ufb2a").replace("ו", "\ufb4b").replace("ע", "\ufb20"),
    }


def test_variants_are_missed_raw_and_identical_after_normalization(news_docs):
    base = next(d for d in news_docs if '"' in d)
    for name, copy in variants(base).items():
        raw = jaccard(shingles(base), shingles(copy))
        normalized = jaccard(shingles(normalize_hebrew(base)), shingles(normalize_hebrew(copy)))
        assert normalized == 1.0, name
        assert raw < 0.9, name  # without normalization the copy looks like another document
