"""A fast Hebrew word tokenizer for datatrove's filters and MinHash.

datatrove splits Hebrew with spaCy's blank `he` tokenizer: rule-based, no model, but it builds a lexeme for
every new word form it meets, which costs ~20 ms per news page and grows without bound on a large crawl
(Hebrew attaches prefixes, so nearly every page brings new forms). This tokenizer applies the same rules
with one regular expression: runs of letters, marks and digits (ב-1972, ה50 and 1,200 stay whole, as spaCy
keeps them), joined by internal geresh/gershayim (צה"ל, ג'ורג'), and every other visible character as a
token of its own.

datatrove accepts a `WordTokenizer` instance wherever it takes a language, so passing `HEBREW_WORDS` as the
`language` of its filters and of `MinhashDedupSignature` is all it takes. Instances compare equal, so
datatrove's per-text tokenization cache is shared by every step that splits the same document.
"""

from __future__ import annotations

import regex
from datatrove.utils.word_tokenizers import WordTokenizer

_TOKEN = regex.compile(
    r"""[\p{L}\p{M}\p{N}]+(?:(?:['"\u2019]|[-.,:/](?=\p{N}))[\p{L}\p{M}\p{N}]+)*
      | [^\s\p{L}\p{M}\p{N}]""",
    regex.VERBOSE,
)
_SENTENCE = regex.compile(r"[^\n.!?\u05c3]*(?:[.!?\u05c3]+|\n|$)")


class HebrewWordTokenizer(WordTokenizer):
    def __init__(self) -> None:
        super().__init__("he")

    def word_tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text)

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        """Sentence spans (datatrove uses them to split documents into sentences)."""
        spans = []
        for m in _SENTENCE.finditer(text):
            start, end = m.span()
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append((start, end))
        return spans

    def sent_tokenize(self, text: str) -> list[str]:
        return [text[a:b] for a, b in self.span_tokenize(text)]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __reduce__(self):
        return (HebrewWordTokenizer, ())


HEBREW_WORDS = HebrewWordTokenizer()
