"""Visual-order Hebrew generated from logical text: a simplified Unicode bidi rendering of right-to-left lines.

Written independently of `curation.visual` (which restores what this renders): each logical line is one
right-to-left paragraph; rules W1, W4, W5, W6, W7, N1, N2 of UAX #9 resolve levels, L2 reorders, and
characters at odd levels take their mirrored glyph.
"""

from __future__ import annotations

import random
import unicodedata

_MIRROR = dict(zip("()[]{}<>«»‹›", ")(][}{><»«›‹", strict=True))
LATIN_WORDS = ("Microsoft", "iPhone", "NASA", "Google Maps", "the New York Times", "CNN", "Intel", "F-16", "BBC")


def _levels(line: str) -> list[int]:
    t = [unicodedata.bidirectional(c) for c in line]
    prev = "R"
    for i, c in enumerate(t):  # W1 (sos is R), AL and AN simplified to R and EN
        t[i] = {"AL": "R", "AN": "EN", "NSM": prev}.get(c, c)
        prev = t[i]
    for i in range(1, len(t) - 1):  # W4
        if t[i] in ("ES", "CS") and t[i - 1] == "EN" and t[i + 1] == "EN":
            t[i] = "EN"
    for i in range(len(t)):  # W5, both directions
        if t[i] == "ET":
            j = i
            while j < len(t) and t[j] == "ET":
                j += 1
            if (i > 0 and t[i - 1] == "EN") or (j < len(t) and t[j] == "EN"):
                for k in range(i, j):
                    t[k] = "EN"
    t = ["N" if c not in ("L", "R", "EN") else c for c in t]  # W6 and the neutrals
    strong = "R"
    for i, c in enumerate(t):  # W7
        if c in ("L", "R"):
            strong = c
        elif c == "EN" and strong == "L":
            t[i] = "L"
    i = 0
    while i < len(t):  # N1, N2 (EN counts as R; sos and eos are R)
        if t[i] != "N":
            i += 1
            continue
        j = i
        while j < len(t) and t[j] == "N":
            j += 1
        left = "R" if i == 0 or t[i - 1] in ("R", "EN") else "L"
        right = "R" if j == len(t) or t[j] in ("R", "EN") else "L"
        for k in range(i, j):
            t[k] = left if left == right else "R"
        i = j
    return [1 if c == "R" else 2 for c in t]


def render_visual(line: str) -> str:
    """How a right-to-left LINE appears on screen, left to right (what visual-order pages store)."""
    levels = _levels(line)
    runs, start = [], 0
    for i in range(1, len(line) + 1):
        if i == len(line) or levels[i] != levels[start]:
            runs.append((line[start:i], levels[start]))
            start = i
    return "".join(
        text if level == 2 else "".join(_MIRROR.get(c, c) for c in reversed(text)) for text, level in reversed(runs)
    )


def mixed_sentence(sentence: str, rng: random.Random) -> str:
    """SENTENCE with a Latin word, a number, a bracket or a percentage put in at random places."""
    words = sentence.split()
    for _ in range(rng.randint(0, 3)):
        at = rng.randint(0, len(words))
        kind = rng.choice(("latin", "number", "bracket", "percent", "decimal"))
        piece = {
            "latin": lambda: rng.choice(LATIN_WORDS),
            "number": lambda: str(rng.randint(1, 99999)),
            "bracket": lambda: f"({rng.choice(words)})" if words else "(1)",
            "percent": lambda: f"{rng.randint(1, 99)}%",
            "decimal": lambda: f"{rng.randint(0, 99)}.{rng.randint(0, 9)}",
        }[kind]()
        words.insert(at, piece)
    return " ".join(words)


def logical_page(sentences: list[str], rng: random.Random, n_paragraphs: int, per_paragraph: int) -> str:
    """A page of N_PARAGRAPHS lines of PER_PARAGRAPH consecutive sentences each, with Latin words and numbers."""
    start = rng.randrange(0, len(sentences) - n_paragraphs * per_paragraph)
    picked = [mixed_sentence(s, rng) for s in sentences[start : start + n_paragraphs * per_paragraph]]
    return "\n".join(" ".join(picked[i : i + per_paragraph]) for i in range(0, len(picked), per_paragraph))


def visual_page(text: str) -> str:
    return "\n".join(render_visual(line) for line in text.split("\n"))


def page_set(sentences: list[str], seed: int, n: int) -> list[str]:
    """N logical pages, short (one sentence) to long (five paragraphs of four sentences)."""
    rng = random.Random(seed)
    return [logical_page(sentences, rng, rng.choice((1, 1, 2, 3, 5)), rng.choice((1, 2, 4))) for _ in range(n)]


def calibrate(logical: list[tuple[float, int]], visual: list[tuple[float, int]]) -> tuple[float, int]:
    """(threshold, min_evidence) from (score, evidence) of logical and visual pages: the least evidence above
    which the two score ranges do not meet, and the middle of the gap between them there."""
    for min_evidence in range(1, 64):
        top = max((s for s, e in logical if e >= min_evidence), default=0.0)
        bottom = min((s for s, e in visual if e >= min_evidence), default=1.0)
        if top < bottom:
            return round((top + bottom) / 2, 2), min_evidence
    raise AssertionError("logical and visual scores overlap at every evidence level")
