"""Calibrates the lid.176 Hebrew threshold on labelled text.

Positives: HTB train-split news (never dev/test) cut into texts of 1, 2, 4 and 8 sentences, and classical
Hebrew passages (Bible, Mishnah). Negatives: hand-written Yiddish and Arabic, English prose from the
standard library's docs, and Hebrew/English mixes where Hebrew is a minority (one Hebrew sentence in
English prose, which a Hebrew corpus should not take).
For each threshold it prints Hebrew recall per length and the false-accept rate of the negatives.

    .venv/bin/python benchmarks/calibrate_lid.py
"""

from __future__ import annotations

import random

from common.sources import (
    classical_hebrew_passages,
    english_paragraphs,
    hand_written,
    htb_train_sentences,
)
from curation.config import LanguageConfig, QualityConfig
from curation.language import LanguageID
from curation.normalize import normalize_hebrew
from curation.quality import hebrew_letter_share

THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def labelled(seed: int = 0) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    rng = random.Random(seed)
    sents = [s.text for s in htb_train_sentences()]
    positives = {
        f"news_{n}_sent": [" ".join(sents[i : i + n]) for i in range(0, len(sents) - n + 1, n)][:2000]
        for n in (1, 2, 4, 8)
    }
    positives["classical"] = [" ".join(p.units) for p in classical_hebrew_passages()[:1000]]
    english = list(english_paragraphs())
    negatives = {
        "yiddish": [" ".join(rng.sample(hand_written("yiddish"), 3)) for _ in range(200)],
        "arabic": [" ".join(rng.sample(hand_written("arabic"), 3)) for _ in range(200)],
        "english": english,
        "en_with_one_he_sentence": [f"{p} {rng.choice(sents)}" for p in english],
    }
    return positives, negatives


def main() -> None:
    lid = LanguageID(LanguageConfig(threshold=0.0))
    positives, negatives = labelled()

    def he_scores(texts: list[str]) -> list[float]:
        out = []
        for t in texts:
            lang, score, pairs = lid.predict(normalize_hebrew(t))
            out.append(score if lang == "he" else 0.0)
        return out

    scores = {k: he_scores(v) for k, v in (positives | negatives).items()}
    # what the pipeline does next: the Hebrew-letter share filter (default 0.6) on the mixes LID let through
    share_ok = [
        hebrew_letter_share(t) >= QualityConfig().min_hebrew_letter_share for t in negatives["en_with_one_he_sentence"]
    ]
    header = (
        "| threshold | "
        + " | ".join(f"{k} kept" for k in positives)
        + " | "
        + " | ".join(f"{k} accepted" for k in negatives)
        + " | mix accepted after letter share |"
    )
    print(header)
    print("|" + "---|" * (2 + len(positives) + len(negatives)))
    for t in THRESHOLDS:
        cells = [f"{sum(s >= t for s in scores[k]) / len(scores[k]):.3f}" for k in (*positives, *negatives)]
        mix = scores["en_with_one_he_sentence"]
        after = sum(s >= t and ok for s, ok in zip(mix, share_ok, strict=True)) / len(mix)
        print(f"| {t} | " + " | ".join(cells) + f" | {after:.3f} |")


if __name__ == "__main__":
    main()
