"""CCNet-style text normalization for the reference language model.

The reference LM is trained and queried on normalized text, as in CCNet (Wenzek et al. 2020,
``cc_net/text_normalizer.py``, ``normalize(line)`` with its defaults ``accent=True, case=True, numbers=True,
punct=1``), which does, in this order:

1. strip surrounding whitespace (``str.strip``), then lowercase;
2. decompose (NFD) and drop every combining mark of category ``Mn`` — for Hebrew this removes niqqud
   and cantillation (U+0591–U+05C7 marks), for Latin script the accents;
3. every decimal digit (any script, category ``Nd``, fullwidth ``０``–``９`` included) becomes ``0``;
4. typographic punctuation becomes ASCII (``“”„«»`` → ``"``, ``–`` → ``-``, ``—`` → `` - ``, ``…`` → ``...``, …);
5. control characters (U+0000–U+001F, U+007F–U+009F) are dropped.

Nothing is stripped after step 1: a line ending in an em dash ends in ``" - "``, as in CCNet. CCNet's table
also maps the fullwidth digit ``１`` to ``"``, an entry that never fires because step 3 has already made it ``0``;
here too the digit rule wins.

Deliberate differences from CCNet (the only ones; ``tests/difficulty/test_normalize.py`` checks every BMP code
point, Hebrew edge cases and the HTB train split against a plain implementation of the steps above):

- bidi formatting marks (``common.text.BIDI_MARKS``: LRM/RLM U+200E/F, the Arabic letter mark U+061C,
  embeddings/overrides U+202A–U+202E, isolates U+2066–U+2069) are removed before step 1, so they neither
  survive (CCNet keeps them) nor shield surrounding whitespace from the strip;
- a tab inside a line becomes a space rather than vanishing (CCNet deletes it with the other control
  characters, gluing the words on either side together);
- ``normalize_lines`` drops the lines whose result is empty or whitespace only (``str.isspace``): they give no
  SentencePiece pieces.

Hebrew-specific punctuation (maqaf ``־``, geresh ``׳``, gershayim ``״``, sof pasuq ``׃``) is category ``P*``
but not in CCNet's table, so it is kept as is; the LM learns it.

Everything except the strip and the NFD step is one precomputed ``str.translate`` table, applied only to the
runs of characters it changes (found by one regex scan) unless a line has many of them.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from common.text import BIDI_MARKS

__all__ = ["BIDI_MARKS", "UNICODE_PUNCT", "normalize_line", "normalize_lines"]

#: Typographic punctuation → ASCII, as CCNet maps it.
UNICODE_PUNCT: dict[str, str] = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"',
    "１": '"', "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":",
    "？": "?", "！": "!", "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ",
    "～": "~", "’": "'", "…": "...", "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]",
    "％": "%", "►": "-",
}  # fmt: skip

#: What the line is stripped of first: Python's whitespace (``str.strip``) and the bidi marks.
_STRIP = "".join(sorted({chr(cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace()} | BIDI_MARKS))


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        if cat == "Mn":
            table[cp] = None
        elif cat == "Nd":
            table[cp] = "0"
    for cp in [*range(0x00, 0x20), *range(0x7F, 0xA0)]:
        table[cp] = None
    table[ord("\t")] = " "
    for ch in BIDI_MARKS:
        table[ord(ch)] = None
    for src, dst in UNICODE_PUNCT.items():
        if unicodedata.category(src) != "Nd":  # digits became 0 before CCNet looks at punctuation
            table[ord(src)] = dst
    return table


_TABLE = _build_table()
# The same table for whole documents, keeping the newlines that separate lines.
_DOC_TABLE = {**_TABLE, ord("\n"): "\n"}
# str.translate looks each character up in the table; a list indexed by code point is twice as fast as a
# dict. It covers the BMP; a text with an astral character (rare) is translated with the full dict instead.
_BMP_TABLE: list[int | str | None] = [_TABLE.get(cp, cp) for cp in range(0x10000)]
_BMP_DOC_TABLE: list[int | str | None] = [_DOC_TABLE.get(cp, cp) for cp in range(0x10000)]
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


def _char_class(cps: list[int]) -> str:
    """A regex character class matching exactly the code points ``cps`` (sorted)."""
    ranges: list[tuple[int, int]] = []
    for cp in cps:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return "[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges) + "]"


# What the tables change: the line table deletes the newline, the document table keeps it. Most non-ASCII
# lines hold few such characters, or none: a regex scan finds them ~5x faster than ``translate`` walks the
# line, so runs of them are translated one by one, and a line holding many is translated whole.
_LINE_CHANGED_RE = re.compile(_char_class([cp for cp in range(0x10000) if _BMP_TABLE[cp] not in (cp, chr(cp))]) + "+")
_DOC_CHANGED_RE = re.compile(
    _char_class([cp for cp in range(0x10000) if _BMP_DOC_TABLE[cp] not in (cp, chr(cp))]) + "+"
)
_MAX_RUNS = 8


def _translate_run(match: re.Match) -> str:
    return match.group().translate(_BMP_TABLE)


def _translate(text: str, table: dict, bmp_table: list, changed_re: re.Pattern) -> str:
    """Lowercase, drop ``Mn`` marks and apply ``table`` (the text must already be stripped)."""
    text = text.lower()
    if text.isascii():
        return text.translate(table)
    # Most Hebrew text is already NFD (its letters do not decompose), so the NFD call is usually skipped.
    # Lowercasing can itself create marks (İ → i + U+0307), which the table then drops.
    if not unicodedata.is_normalized("NFD", text):
        text = unicodedata.normalize("NFD", text)
    if _ASTRAL_RE.search(text):
        return text.translate(table)
    # The tables differ only in the newline, which a run holds only for the line table; the tables' targets
    # are their own fixed points, so translating a partly translated text whole gives the same result.
    text, runs = changed_re.subn(_translate_run, text, count=_MAX_RUNS)
    return text if runs < _MAX_RUNS else text.translate(bmp_table)


def normalize_line(line: str) -> str:
    """Normalize one line of text the way the reference LM was trained (see the module docstring).

    >>> normalize_line("  שָׁלוֹם, עוֹלָם!  ")
    'שלום, עולם!'
    >>> normalize_line("Ünïcode “quotes” in 2024…")
    'unicode "quotes" in 0000...'
    """
    return _translate(line.strip(_STRIP), _TABLE, _BMP_TABLE, _LINE_CHANGED_RE)


def normalize_lines(text: str) -> list[str]:
    r"""Split ``text`` on newlines and normalize each line, dropping the lines that end up empty or blank.

    Equal to ``[n for n in map(normalize_line, text.split("\n")) if n and not n.isspace()]``, but translates
    the whole text in one pass: one ``translate`` call per document instead of one per line.

    >>> normalize_lines("כותרת\n\n  פסקה ראשונה, 12 מילים\r\n\u200f")
    ['כותרת', 'פסקה ראשונה, 00 מילים']
    """
    if "\n" not in text:  # one line: no split and join
        line = _translate(text.strip(_STRIP), _TABLE, _BMP_TABLE, _LINE_CHANGED_RE)
        return [line] if line and not line.isspace() else []
    stripped = "\n".join([line.strip(_STRIP) for line in text.split("\n")])
    return [
        line
        for line in _translate(stripped, _DOC_TABLE, _BMP_DOC_TABLE, _DOC_CHANGED_RE).split("\n")
        if line and not line.isspace()
    ]
