"""Text-level transforms that turn a copy of an article into a near-duplicate.

Each takes the article body and a seeded ``random.Random`` and returns a changed body; each
changes the text (callers pick only transforms for which ``applicable`` is true). Page-level
variants (another site's boilerplate, the other charset) are made by the page builder.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from hebatron.sample_crawl.compose import Body

HEB = "\u05d0-\u05ea"
GERESH, GERSHAYIM = "\u05f3", "\u05f4"
LRM, RLM, RLE, PDF = "\u200e", "\u200f", "\u202b", "\u202c"

# Letters that have a presentation form: wide letters and the alef-lamed ligature fold back under
# NFKC; the dagesh forms decompose into letter + dagesh (U+05BC), which niqqud stripping removes.
PRESENTATION_FORMS = {
    "א": "\ufb21",
    "ד": "\ufb22",
    "ה": "\ufb23",
    "כ": "\ufb24",
    "ל": "\ufb25",
    "ם": "\ufb26",
    "ר": "\ufb27",
    "ת": "\ufb28",
    "ע": "\ufb20",
    "ב": "\ufb31",
    "פ": "\ufb44",
    "ש": "\ufb2a",
}
ALEF_LAMED = "\ufb4f"

_ASCII_GERSHAYIM = re.compile(f'(?<=[{HEB}])"(?=[{HEB}])')
_ASCII_GERESH = re.compile(f"(?<=[{HEB}])'")
_HEB_PUNCT = re.compile(f"[{GERESH}{GERSHAYIM}]")


def _map(body: Body, fn: Callable[[str], str]) -> Body:
    return Body(fn(body.headline), tuple(fn(p) for p in body.paragraphs))


def _text(body: Body) -> str:
    return body.headline + "\n" + "\n".join(body.paragraphs)


def gershayim(body: Body, rng: random.Random) -> Body:
    """Swap ASCII " and ' inside Hebrew words for ״ and ׳ (or back, if the text uses the Hebrew ones)."""
    if _HEB_PUNCT.search(_text(body)):
        return _map(body, lambda t: t.replace(GERSHAYIM, '"').replace(GERESH, "'"))
    return _map(body, lambda t: _ASCII_GERESH.sub(GERESH, _ASCII_GERSHAYIM.sub(GERSHAYIM, t)))


def bidi_marks(body: Body, rng: random.Random) -> Body:
    """Sprinkle RLM/LRM marks and wrap some paragraphs in an RLE…PDF embedding, as editors and CMSs do."""

    def sprinkle(text: str) -> str:
        out = []
        for word in text.split(" "):
            if re.search(r"[0-9A-Za-z]", word) and rng.random() < 0.7:
                word = LRM + word + LRM
            elif word[-1:] in ".,:" and rng.random() < 0.4:
                word += RLM
            elif rng.random() < 0.05:
                word = RLM + word
            out.append(word)
        return " ".join(out)

    paras = tuple(RLE + sprinkle(p) + PDF if rng.random() < 0.3 else sprinkle(p) for p in body.paragraphs)
    paras = (RLM + paras[0],) + paras[1:]  # at least one mark on every copy
    return Body(body.headline + RLM, paras)


def presentation_forms(body: Body, rng: random.Random) -> Body:
    """Write two to four letters (and sometimes alef-lamed) with Hebrew presentation forms."""
    letters = rng.sample(sorted(PRESENTATION_FORMS), rng.randint(2, 4))
    use_ligature = rng.random() < 0.5

    def swap(text: str) -> str:
        if use_ligature:
            text = re.sub("אל", lambda m: ALEF_LAMED if rng.random() < 0.6 else m.group(), text)
        return "".join(PRESENTATION_FORMS[c] if c in letters and rng.random() < 0.6 else c for c in text)

    out = Body(body.headline, tuple(swap(p) for p in body.paragraphs))
    if _text(out) == _text(body):  # no chosen letter occurred: force one change
        first = next(c for c in body.paragraphs[0] if c in PRESENTATION_FORMS)
        out = Body(
            body.headline,
            (body.paragraphs[0].replace(first, PRESENTATION_FORMS[first], 1),) + out.paragraphs[1:],
        )
    return out


def word_edits(body: Body, rng: random.Random, vocabulary: tuple[str, ...] = ()) -> Body:
    """Delete, repeat, replace or swap a few words: 1-4% of the words (never more than 5%)."""
    paras = [p.split(" ") for p in body.paragraphs]
    n_words = sum(len(p) for p in paras)
    n_edits = max(1, min(int(0.05 * n_words), round(rng.uniform(0.01, 0.04) * n_words)))
    for _ in range(n_edits):
        p = rng.choices(range(len(paras)), weights=[len(x) for x in paras])[0]
        words = paras[p]
        i = rng.randrange(len(words))
        op = rng.choice(("delete", "repeat", "replace", "swap") if len(words) > 3 else ("repeat", "replace"))
        if op == "delete":
            del words[i]
        elif op == "repeat":
            words.insert(i, words[i])
        elif op == "replace":
            words[i] = rng.choice(vocabulary) if vocabulary else words[i][::-1]
        elif i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
        else:
            words[i - 1], words[i] = words[i], words[i - 1]
    if paras == [p.split(" ") for p in body.paragraphs]:  # e.g. two equal words swapped
        paras[0].insert(0, paras[0][0])
    return Body(body.headline, tuple(" ".join(w) for w in paras))


TEXT_VARIANTS: dict[str, Callable[..., Body]] = {
    "gershayim": gershayim,
    "bidi_marks": bidi_marks,
    "presentation_forms": presentation_forms,
    "word_edits": word_edits,
}


def applicable(variant: str, body: Body) -> bool:
    """Whether ``variant`` would change this body's text."""
    if variant == "gershayim":
        text = _text(body)
        return bool(_ASCII_GERSHAYIM.search(text) or _ASCII_GERESH.search(text) or _HEB_PUNCT.search(text))
    if variant == "presentation_forms":
        return any(c in PRESENTATION_FORMS for c in body.paragraphs[0])
    return True
