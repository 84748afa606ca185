"""Hebrew text normalization, applied to every document before language ID, filtering and dedup.

Policy (what `normalize_hebrew` does, in order):
1. Unicode NFKC: folds Hebrew presentation forms (U+FB1D–FB4F, e.g. ﬠ ﬡ ﬣ, ligatures, letters with
   dagesh/shin dots precomposed) and full-width characters into the plain letters and marks.
2. Bidi control marks are removed: LRM/RLM/ALM (U+200E, U+200F, U+061C), embeddings and overrides
   (U+202A–202E), isolates (U+2066–2069). They carry no text and break word matching.
3. Geresh and gershayim (U+05F3 ׳, U+05F4 ״) become ASCII `'` and `"`, the form most Hebrew web text
   uses, so that צה״ל and צה"ל are the same word for filters and dedup. Maqaf (U+05BE) is kept.
4. Niqqud: vowel points are kept by default (`niqqud="keep"`; `"strip"` removes them); cantillation
   marks (te'amim, U+0591–05AF) are always removed: they are liturgical typography, not text.
5. Whitespace: other Unicode spaces become a space, runs of spaces collapse, lines are stripped, runs of
   more than one blank line collapse to one; zero-width spaces/joiners and the BOM are removed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from datatrove.pipeline.formatters.base import BaseFormatter

from common.text import BIDI_MARKS, CANTILLATION, GERESH, GERSHAYIM, NIQQUD_CODEPOINTS, ZERO_WIDTH
from curation.config import NormalizeConfig

NiqqudPolicy = Literal["keep", "strip"]

_DELETE = {ord(c): None for c in BIDI_MARKS | ZERO_WIDTH}
_DELETE.update({cp: None for cp in CANTILLATION})
_GERESH = {ord(GERESH): "'", ord(GERSHAYIM): '"'}
NIQQUD = {cp: None for cp in NIQQUD_CODEPOINTS}

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_hebrew(text: str, niqqud: NiqqudPolicy = "keep") -> str:
    """Normalize Hebrew text as described in the module docstring. Idempotent."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_DELETE).translate(_GERESH)
    if niqqud == "strip":
        text = text.translate(NIQQUD)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    # NFKC once more: deleting marks can leave a base letter + combining sequence that now composes
    return unicodedata.normalize("NFKC", text)


class HebrewNormalizer(BaseFormatter):
    """datatrove formatter step that applies `normalize_hebrew` to every document, as the config says."""

    name = "🔤 Hebrew normalizer"

    def __init__(self, config: NormalizeConfig | None = None):
        super().__init__()
        self.niqqud: NiqqudPolicy = (config or NormalizeConfig()).niqqud

    def format(self, text: str) -> str:
        return normalize_hebrew(text, self.niqqud)
