"""datatrove's Gopher repetition rules, with the same decisions computed without a Python loop per word.

datatrove's `GopherRepetitionFilter` builds every n-gram as a joined string in a Python loop (top 2-, 3-, 4-grams,
then duplicated 5- to 10-grams: ~9 passes over the words of each document), which made it the costliest
filter. Here:
- top n-gram: counted as tuples of words (`Counter(zip(...))`, in C). Words never hold whitespace, so two tuples
  are equal exactly when datatrove's space-joined strings are; the Counter sees them in the same order, so the
  same n-gram is the top one on ties, and its length is the words' lengths plus the n - 1 spaces.
- duplicated n-grams: datatrove joins the n words without a separator and skips n words after each repeat.
  The joined strings are built and counted in C; the scan then looks only at strings that occur twice or more.
tests/curation/test_repetition.py checks that the decisions equal datatrove's.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress

from datatrove.data import Document
from datatrove.pipeline.filters.gopher_repetition_filter import (
    GopherRepetitionFilter,
    find_duplicates,
)
from datatrove.utils.text import split_into_words


def _shifted(words: list[str], n: int):
    return zip(*(words[k:] for k in range(n)), strict=False)


def top_n_gram_chars(words: list[str], n: int) -> int:
    """datatrove's `find_top_duplicate(get_n_grams(words, n))`: the top n-gram's length times its count; 0
    when there are fewer than n words."""
    counts = Counter(_shifted(words, n))
    if not counts:
        return 0
    top, count = counts.most_common(1)[0]
    return (sum(map(len, top)) + n - 1) * count


def duplicate_n_gram_chars(words: list[str], n: int) -> int:
    """datatrove's `find_all_duplicate(words, n)`: scanning the joined n-grams, a string seen before counts its
    length and skips the next n - 1 positions. Only strings that occur twice or more can be met again, so only
    their positions are scanned (a string met once changes nothing); for ordinary text that is a few."""
    joined = list(map("".join, _shifted(words, n)))
    counts = Counter(joined)
    if len(counts) == len(joined):
        return 0
    again = {gram for gram, count in counts.items() if count > 1}
    seen: set[str] = set()
    repeated, resume = 0, 0
    for i in compress(range(len(joined)), map(again.__contains__, joined)):
        if i < resume:
            continue
        gram = joined[i]
        if gram in seen:
            repeated += len(gram)
            resume = i + n
        else:
            seen.add(gram)
    return repeated


class FastGopherRepetition(GopherRepetitionFilter):
    """`GopherRepetitionFilter` with its rules in its order and its drop reasons, faster (module docstring)."""

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        if not text:
            return False, "empty"
        paragraphs = self.paragraph_exp.split(text.strip())
        paragraphs_duplicates, char_duplicates = find_duplicates(paragraphs)
        if self.dup_para_frac and paragraphs_duplicates / len(paragraphs) > self.dup_para_frac:
            return False, "dup_para_frac"
        if self.dup_para_char_frac and char_duplicates / len(text) > self.dup_para_char_frac:
            return False, "dup_para_char_frac"
        lines = self._line_splitter.split(text)
        line_duplicates, char_duplicates = find_duplicates(lines)
        if self.dup_line_frac and line_duplicates / len(lines) > self.dup_line_frac:
            return False, "dup_line_frac"
        if self.dup_line_char_frac and char_duplicates / len(text) > self.dup_line_char_frac:
            return False, "dup_line_char_frac"
        words = split_into_words(text, self.language)
        for n, n_frac in self.top_n_grams:
            if top_n_gram_chars(words, n) / len(text) > n_frac:
                return False, f"top_{n}_gram"
        for n, n_frac in self.dup_n_grams:
            if duplicate_n_gram_chars(words, n) / len(text) > n_frac:
                return False, f"duplicated_{n}_n_grams"
        return True
