"""Document perplexity under the reference LM, computed as CCNet computes it.

For a document split into lines, each line normalized (``difficulty.normalize``) and encoded to SentencePiece
pieces, KenLM scores every line as a sentence (with ``<s>`` and ``</s>``) and

    perplexity = 10 ** (-Σ_lines log10 p(line) / Σ_lines (pieces(line) + 1))

(the ``+ 1`` is the end-of-sentence token). Lines that are empty after normalization are skipped. CCNet's
``mine`` pipeline actually normalizes the whole document first — which deletes the newlines, so it scores a
document as one long sentence; we keep the line structure its ``DocLM`` was written for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from difficulty.lm import LMFiles, resolve_lm
from difficulty.normalize import normalize_lines

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DocScore",
    "DocumentScorer",
    "KenLMScorer",
    "UnscorableDocument",
    "UnscorableReason",
]

#: Longer documents are not scored. Common Crawl truncates every record at 1 MiB, so no web page yields a
#: million characters of text; such a "document" is a dump, not prose.
DEFAULT_MAX_CHARS = 1_000_000

UnscorableReason = Literal["empty", "no_pieces", "too_long"]


class UnscorableDocument(ValueError):
    """A document the LM cannot give a perplexity: ``reason`` is one of ``UnscorableReason``."""

    def __init__(self, reason: UnscorableReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: UnscorableReason = reason


@dataclass(frozen=True, slots=True)
class DocScore:
    """One document's score: ``perplexity`` and what it was computed from."""

    perplexity: float
    log10_prob: float
    """Σ log10 p over all scored lines (≤ 0)."""
    tokens: int
    """Σ (pieces + 1) over all scored lines: the perplexity's denominator and the document's weight."""
    lines: int
    """Lines scored (non-empty after normalization)."""


@runtime_checkable
class DocumentScorer(Protocol):
    """Anything that can rate a document's difficulty as a perplexity (lower = easier)."""

    def score(self, text: str) -> DocScore:
        """Score ``text``; raise ``UnscorableDocument`` when it cannot be scored."""
        ...

    def perplexity(self, text: str) -> float:
        """``score(text).perplexity``."""
        ...

    def describe(self) -> dict:
        """A JSON-able description of the model, for reports."""
        ...


class KenLMScorer:
    """CCNet-style perplexity with a SentencePiece + KenLM reference model.

    The models are loaded on first use and dropped when pickled, so the scorer can be shipped to
    datatrove's worker processes; KenLM's binary is mmap-ed, so workers on one machine share its pages.
    """

    def __init__(self, model_dir: Path | str, *, max_chars: int = DEFAULT_MAX_CHARS, lang: str = "he") -> None:
        if max_chars <= 0:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        self.files: LMFiles = resolve_lm(Path(model_dir), lang=lang)
        self.max_chars = max_chars
        self._sp = None
        self._lm = None
        self._encode = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sp"] = state["_lm"] = state["_encode"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def _load(self) -> None:
        sp_model, kenlm_model = str(self.files.sp_model), str(self.files.kenlm_model)
        stamps = tuple(os.stat(p).st_mtime_ns for p in (sp_model, kenlm_model))
        self._sp, self._lm = _load_models(sp_model, kenlm_model, stamps)
        self._encode = _piece_encoder(self._sp)

    def describe(self) -> dict:
        return {"kind": "kenlm", "max_chars": self.max_chars, **self.files.describe()}

    def _lines(self, text: str) -> list[str]:
        if not isinstance(text, str) or not text or text.isspace():
            raise UnscorableDocument("empty", "the document has no text")
        if len(text) > self.max_chars:
            raise UnscorableDocument("too_long", f"{len(text):,} characters > max_chars={self.max_chars:,}")
        lines = normalize_lines(text)
        if not lines:
            raise UnscorableDocument("no_pieces", "nothing is left after normalization")
        return lines

    def score(self, text: str) -> DocScore:
        lines = self._lines(text)
        if self._lm is None:
            self._load()
        # Line by line: SentencePiece's batch call saves nothing on one core (measured: BENCHMARKS.md).
        encode, lm_score = self._encode, self._lm.score
        if len(lines) == 1:  # the common case for short documents, without the loop
            pieces = encode(lines[0])
            if not pieces:
                raise UnscorableDocument("no_pieces", "SentencePiece produced no pieces")
            log10_prob = 0.0 + lm_score(" ".join(pieces))  # as the loop sums (-0.0 becomes 0.0)
            tokens = len(pieces) + 1
            return DocScore(10.0 ** (-log10_prob / tokens), log10_prob, tokens, 1)
        log10_prob = 0.0
        tokens = scored = 0
        for line in lines:
            pieces = encode(line)
            if pieces:
                log10_prob += lm_score(" ".join(pieces))
                tokens += len(pieces) + 1
                scored += 1
        if not scored:
            raise UnscorableDocument("no_pieces", "SentencePiece produced no pieces")
        return DocScore(10.0 ** (-log10_prob / tokens), log10_prob, tokens, scored)

    def score_many(self, texts: Sequence[str]) -> list[DocScore | UnscorableDocument]:
        """Score several documents: per text, its ``DocScore`` or the ``UnscorableDocument`` (why not)."""
        out: list[DocScore | UnscorableDocument] = []
        for text in texts:
            try:
                out.append(self.score(text))
            except UnscorableDocument as err:
                out.append(err)
        return out

    def perplexity(self, text: str) -> float:
        return self.score(text).perplexity

    def line_perplexities(self, text: str) -> list[float]:
        """Perplexity of each non-empty normalized line of ``text`` (CCNet's ``SentencesLM``)."""
        if self._lm is None:
            self._load()
        out = []
        for line in normalize_lines(text):
            pieces = self._encode(line)
            if pieces:
                out.append(10.0 ** (-self._lm.score(" ".join(pieces)) / (len(pieces) + 1)))
        return out


@lru_cache(maxsize=4)
def _load_models(sp_model: str, kenlm_model: str, stamps: tuple[int, ...]):
    """SentencePiece and KenLM models, loaded once per process and file version (datatrove runs each task on a
    fresh copy of its steps, which would load them again)."""
    import sentencepiece as spm

    try:
        import kenlm
    except ImportError:
        raise ImportError("scoring needs the KenLM query module: pip install ufal.kenlm (or kenlm)") from None
    return spm.SentencePieceProcessor(model_file=sp_model), kenlm.Model(kenlm_model)


def _piece_encoder(sp) -> Callable[[str], list[str]]:
    """``sp.encode(line, out_type=str)``, minus the wrapper's per-call argument handling (~3 µs of ~12).

    Uses the extension method behind ``encode`` when it exists and agrees with ``encode`` on a probe string;
    otherwise (another sentencepiece version) the public method.
    """

    def public(line: str) -> list[str]:
        return sp.encode(line, out_type=str)

    raw = getattr(getattr(sp, "_processor", None), "_EncodeAsPieces", None)
    if raw is None:
        return public

    def fast(line: str) -> list[str]:
        # (text, enable_sampling, nbest_size, alpha, add_bos, add_eos, reverse, emit_unk_piece, return_bytes)
        return raw(line, False, 0, 0.0, False, False, False, False, False)

    probe = "ראש הממשלה, Tel-Aviv 0000 ״בדיקה״ 😀"
    try:
        return fast if fast(probe) == public(probe) else public
    except (TypeError, ValueError, RuntimeError):
        return public
