"""Visual-order Hebrew: text stored reversed, in display order, as old `iso-8859-8` sites served it.

Such text is made of real Hebrew letters, so language ID calls it `he` with confidence; only the letter order
gives it away. Hebrew writes five letters differently at the end of a word (ך ם ן ף ץ, against כ מ נ פ צ
elsewhere): in logical order the final forms end words, in visual order they start them. The evidence for
visual order is the share of word edges that only reversed text shows (a final form first, a non-final one
last) among all the edges that tell (`visual_score`).

`to_logical` restores a page line by line, as the inverse of the simple rendering such sites used: each line
is one right-to-left paragraph without explicit bidi controls, its characters in the order they appear on
screen from left to right. It reverses the line, keeps runs of Latin words and numbers in their own order
(Latin words with the spaces, punctuation and numbers between them; a number with its separators `2,000`
`12:30` `1995-2000` and its `%` `$`), and swaps mirrored brackets back. What it cannot know: a number
directly followed by a Latin word (`5 iPhone`) is displayed as `iPhone 5` and is restored as that; explicit
embeddings, left-to-right paragraphs and lines wrapped before reversal (their order within a paragraph is
kept, so a wrapped paragraph stays wrapped) are not modelled. On a visual page, lines that read as logical
are kept as they are (pages mixing both exist). After restoring, the page must read as logical text; one that
still does not (logical and visual text within one line, say) is excluded as `reader:visual_order`.

The step runs right after HTML extraction: markup is logical even on visual pages, only the text is not.
"""

from __future__ import annotations

import re
import unicodedata

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from curation.config import VisualOrderConfig

FINALS = "ךםןףץ"
NON_FINALS = "כמנפצ"
_MARKS = re.compile("[\u0591-\u05c7]")  # niqqud and cantillation: not letters, they would split words
# whole Hebrew words, not touching a digit, a quote or a geresh: abbreviations (צה"ל, כ70, מ') end in any letter
_WORD = re.compile("(?<![\\w'\"\u05f3\u05f4])[\u05d0-\u05ea]{2,}(?![\\w'\"\u05f3\u05f4])")
MIRRORED = dict(zip("()[]{}<>«»‹›", ")(][}{><»«›‹", strict=True))


def order_evidence(text: str) -> tuple[int, int]:
    """(visual, logical): word edges that only reversed text shows (a final form first, a non-final form of
    the same letter last), and those that logical text shows (final last, non-final first)."""
    visual = logical = 0
    for word in _WORD.findall(_MARKS.sub("", text)):
        first, last = word[0], word[-1]
        visual += (first in FINALS) + (last in NON_FINALS)
        logical += (last in FINALS) + (first in NON_FINALS)
    return visual, logical


def visual_score(text: str) -> tuple[float, int]:
    """The share of visual-order evidence in `text` (0: logical, 1: visual) and how much evidence there was."""
    visual, logical = order_evidence(text)
    total = visual + logical
    return (visual / total if total else 0.0), total


def _bidi_class(ch: str) -> str:
    """Simplified bidi class: R (Hebrew, Arabic and their marks), L, EN (digits), ET, ES, CS, or N."""
    cls = unicodedata.bidirectional(ch)
    if cls in ("R", "AL") or (cls == "NSM" and "\u0591" <= ch <= "\u05c7"):
        return "R"
    if cls in ("L", "EN", "ET", "ES", "CS"):
        return cls
    return "EN" if cls == "AN" else "N"


def _ltr_runs(line: str) -> list[tuple[int, int]]:
    """(start, end) of the runs that a right-to-left display keeps left to right, found in the visual line."""
    classes = [_bidi_class(c) for c in line]
    n, runs, i = len(line), [], 0
    while i < n:
        if classes[i] == "ET" and i + 1 < n and classes[i + 1] == "EN":  # "$50"
            start = i
            i += 1
        elif classes[i] in ("L", "EN"):
            start = i
        else:
            i += 1
            continue
        has_l, end = False, i

        def consume(end: int) -> int:  # letters and digits, and the "%" after a number ("50%")
            nonlocal has_l
            while end < n and (classes[end] in ("L", "EN") or (classes[end] == "ET" and classes[end - 1] == "EN")):
                has_l |= classes[end] == "L"
                end += 1
            return end

        end = consume(end)
        while True:  # try to extend over the gap to the next L or EN
            k = end
            while k < n and classes[k] not in ("L", "EN", "R"):
                k += 1
            if k >= n or classes[k] == "R":
                break
            gap = classes[end:k]
            single_sep = len(gap) == 1 and gap[0] in ("ES", "CS")  # "2,000", "F-16"
            if classes[k] == "L":  # between Latin letters anything joins; a number joins a letter it touches
                joins = has_l or not gap
            else:  # a number after Latin across spaces ("Windows 95"), or after a number across one separator
                joins = (has_l and line[end:k].isspace()) or (single_sep and classes[end - 1] in ("EN", "L"))
            if not joins:
                break
            end = consume(k)
        runs.append((start, end))
        i = end
    return runs


def line_to_logical(line: str) -> str:
    """One visual line in logical order: reversed, left-to-right runs kept, mirrored brackets swapped back."""
    segments, at = [], 0
    for start, end in _ltr_runs(line):
        segments.append("".join(MIRRORED.get(c, c) for c in reversed(line[at:start])))
        segments.append(line[start:end])
        at = end
    segments.append("".join(MIRRORED.get(c, c) for c in reversed(line[at:])))
    return "".join(reversed(segments))


def to_logical(text: str) -> str:
    """Visual-order text restored to logical order, line by line (the lines keep their order)."""
    return "\n".join(line_to_logical(line) for line in text.split("\n"))


class VisualOrder(BaseFilter):
    """Restores visual-order Hebrew to logical order (`metadata["visual_order"] = "restored"`, counted as
    `visual_order_restored`), or excludes it as `reader:visual_order` when it cannot be read as either order
    or still does not read as logical once restored."""

    name = "🔃 Visual-order Hebrew"

    def __init__(self, config: VisualOrderConfig | None = None, *, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.config = config or VisualOrderConfig()

    def judge(self, text: str) -> str:
        """ "logical", "visual" or "unclear" (enough evidence, but between the two)."""
        score, evidence = visual_score(text)
        if evidence < self.config.min_evidence or score <= self.config.max_logical_score:
            return "logical"
        return "visual" if score > self.config.threshold else "unclear"

    def is_visual(self, text: str) -> bool:
        return self.judge(text) == "visual"

    def restore(self, text: str) -> str:
        """A visual page in logical order: each line that reads as visual, or that gives no sign either way, is
        restored; a line that reads as logical (pages mixing both exist) is kept as it is."""
        lines = text.split("\n")
        for i, line in enumerate(lines):
            score, evidence = visual_score(line)
            if not evidence or score >= self.config.threshold:
                lines[i] = line_to_logical(line)
        return "\n".join(lines)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not self.config.enabled:
            return True
        verdict = self.judge(doc.text)
        if verdict == "logical":
            return True
        restored = self.restore(doc.text) if verdict == "visual" else doc.text
        if visual_score(restored)[0] > self.config.max_logical_score:
            doc.metadata["visual_order"] = "unrestorable"
            return False, "reader:visual_order"
        doc.text = restored
        doc.metadata["visual_order"] = "restored"
        self.stat_update("visual_order_restored")
        return True
