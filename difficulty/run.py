"""Score a curated run: every document gets a perplexity and a phase, or moves to ``excluded/`` with a reason.

``score_run(RUN)`` streams ``RUN/curated/*.parquet`` twice, batch by batch (memory: the batch, plus 24
bytes of scores per document — the percentiles need every perplexity):

1. score every document with the reference LM;
2. compute the cut-offs (weighted percentiles of this run's perplexities, or fixed values);
3. rewrite each curated file with two new columns, ``perplexity`` (float64) and ``phase`` (int8, 1..3),
   writing a temporary file and ``os.replace``-ing it; documents that cannot be scored go to
   ``RUN/excluded/perplexity-<file>.parquet`` with the same columns plus ``filter_reason``
   (``perplexity:empty`` …) — written before the curated file is replaced, so a crash never loses one;
4. write ``RUN/cutoffs.json``: the cut-offs, how they were computed, the phase histogram, the LM used.

Re-running is idempotent: previously added columns are recomputed (the scorer is deterministic), documents
already excluded stay excluded, and the cut-offs come out the same.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.files import run_lock, write_json_atomic
from curation.stats import write_stats
from difficulty.phases import Cutoffs, DifficultyConfig, assign_phases, compute_cutoffs
from difficulty.scorer import DocumentScorer, KenLMScorer, UnscorableDocument
from difficulty.step import DROP_PREFIX, drop_reason

__all__ = ["RunNotCuratedError", "score_run"]

ADDED_COLUMNS = ("perplexity", "phase")
REQUIRED_COLUMNS = ("id", "text")
BATCH_ROWS = 1024


class RunNotCuratedError(FileNotFoundError):
    """The run has no curated documents to score."""


@dataclass(slots=True)
class _FileScores:
    path: Path
    perplexity: np.ndarray  # float64, NaN where the document could not be scored
    tokens: np.ndarray  # int64
    chars: np.ndarray  # int64
    reasons: dict[int, str] = field(default_factory=dict)


def _curated_files(run_dir: Path) -> list[Path]:
    curated = run_dir / "curated"
    if not curated.is_dir():
        raise RunNotCuratedError(
            f"{curated}: no curated documents to score; run `hebatron curate INPUT... -o {run_dir}` first"
        )
    files = sorted(curated.glob("*.parquet"))
    if not files:
        raise RunNotCuratedError(
            f"{curated}: holds no .parquet files; run `hebatron curate INPUT... -o {run_dir}` first"
        )
    for path in files:
        names = pq.ParquetFile(path).schema_arrow.names
        if missing := [c for c in REQUIRED_COLUMNS if c not in names]:
            raise ValueError(f"{path}: curated file lacks column(s) {missing} (has {names})")
    return files


def _score_file(path: Path, scorer: DocumentScorer, advance: Callable[[int], None]) -> _FileScores:
    pf = pq.ParquetFile(path)
    n = pf.metadata.num_rows
    scores = _FileScores(path, np.full(n, np.nan), np.zeros(n, np.int64), np.zeros(n, np.int64))
    row = 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=["text"]):
        for text in batch.column(0).to_pylist():
            scores.chars[row] = len(text) if isinstance(text, str) else 0
            try:
                doc = scorer.score(text)
            except UnscorableDocument as err:
                scores.reasons[row] = drop_reason(err)
            else:
                scores.perplexity[row] = doc.perplexity
                scores.tokens[row] = doc.tokens
            row += 1
        advance(batch.num_rows)
    return scores


def _atomic_write_table(path: Path, batches: Iterator[pa.Table], schema: pa.Schema) -> int:
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for table in batches:
                writer.write_table(table)
                rows += table.num_rows
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def _write_excluded(path: Path, new: list[pa.Table], schema: pa.Schema) -> None:
    """Add ``new`` rows to the excluded file ``path``, keeping rows already there (deduplicated by id)."""
    tables = [t for t in new if t.num_rows]
    if not tables:
        return
    if path.exists():
        tables.insert(0, pq.read_table(path))
    merged = pa.concat_tables(tables, promote_options="default")
    _, first = np.unique(np.asarray(merged.column("id").to_pylist(), dtype=object), return_index=True)
    merged = merged.take(np.sort(first))
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_table(path, iter([merged]), merged.schema)


def _rewrite_file(scores: _FileScores, cutoffs: Cutoffs | None, excluded_dir: Path) -> None:
    pf = pq.ParquetFile(scores.path)
    base = [f for f in pf.schema_arrow if f.name not in ADDED_COLUMNS]
    names = [f.name for f in base]
    kept_schema = pa.schema([*base, pa.field("perplexity", pa.float64()), pa.field("phase", pa.int8())])
    excluded_schema = pa.schema([*base, pa.field("filter_reason", pa.string())])
    excluded: list[pa.Table] = []

    def kept_batches() -> Iterator[pa.Table]:
        row = 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=names):
            table = pa.Table.from_batches([batch])
            ppl = scores.perplexity[row : row + table.num_rows]
            ok = np.isfinite(ppl)
            if not ok.all():
                bad = table.filter(pa.array(~ok))
                reasons = [scores.reasons[row + int(i)] for i in np.flatnonzero(~ok)]
                excluded.append(bad.append_column(excluded_schema.field("filter_reason"), pa.array(reasons)))
            good = table.filter(pa.array(ok))
            phases = assign_phases(ppl[ok], cutoffs) if cutoffs is not None else np.zeros(0, np.int8)
            good = good.append_column(kept_schema.field("perplexity"), pa.array(ppl[ok], pa.float64()))
            yield good.append_column(kept_schema.field("phase"), pa.array(phases, pa.int8()))
            row += table.num_rows

    # The curated file is rewritten into memory-bounded batches, but the excluded rows must be safely on disk
    # before the curated file loses them: write the new curated file aside, then the excluded file, then swap.
    tmp = scores.path.with_name(f".{scores.path.name}.scored")
    try:
        _atomic_write_table(tmp, kept_batches(), kept_schema)
        _write_excluded(excluded_dir / f"{DROP_PREFIX}-{scores.path.stem}.parquet", excluded, excluded_schema)
        os.replace(tmp, scores.path)
    finally:
        tmp.unlink(missing_ok=True)


def _excluded_counts(excluded_dir: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for path in sorted(excluded_dir.glob(f"{DROP_PREFIX}-*.parquet")):
        counts.update(pq.read_table(path, columns=["filter_reason"]).column(0).to_pylist())
    return dict(sorted(counts.items()))


def _histogram(ppl: np.ndarray, tokens: np.ndarray, chars: np.ndarray, cutoffs: Cutoffs | None) -> dict:
    phases = assign_phases(ppl, cutoffs) if cutoffs is not None and ppl.size else np.zeros(0, np.int8)
    total_chars = max(int(chars.sum()), 1)
    total_tokens = max(int(tokens.sum()), 1)
    out = {}
    for k in (1, 2, 3):
        sel = phases == k
        p = ppl[sel]
        out[str(k)] = {
            "documents": int(sel.sum()),
            "characters": int(chars[sel].sum()),
            "tokens": int(tokens[sel].sum()),
            "character_share": round(float(chars[sel].sum()) / total_chars, 4),
            "token_share": round(float(tokens[sel].sum()) / total_tokens, 4),
            "perplexity_min": float(p.min()) if p.size else None,
            "perplexity_median": float(np.median(p)) if p.size else None,
            "perplexity_max": float(p.max()) if p.size else None,
        }
    return out


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[str], Callable[[int], None]]]:
    """Yields ``start(description) -> advance(n)``; a no-op when disabled."""
    if not enabled:
        yield lambda _description: (lambda _n: None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, transient=True) as bar:

        def start(description: str) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield start


def score_run(
    run_dir: Path,
    *,
    lm_dir: Path | None = None,
    config: DifficultyConfig | None = None,
    scorer: DocumentScorer | None = None,
    progress: bool = True,
) -> dict:
    """Add ``perplexity`` and ``phase`` to every curated document of ``run_dir``; returns ``cutoffs.json``.

    ``lm_dir`` (or ``config.lm_dir``) names the reference LM; without either, the default HTB model is built
    once and cached. ``scorer`` replaces the KenLM scorer altogether. Raises ``RunNotCuratedError`` (a
    ``FileNotFoundError``) when ``RUN/curated/`` is missing or empty.
    """
    run_dir = Path(run_dir)
    files = _curated_files(run_dir)
    with run_lock(run_dir):
        return _score_run(run_dir, files, lm_dir, config or DifficultyConfig(), scorer, progress)


def _score_run(run_dir: Path, files: list[Path], lm_dir: Path | None, config: DifficultyConfig,
               scorer: DocumentScorer | None, progress: bool) -> dict:
    if scorer is None:
        lm_dir = lm_dir or config.lm_dir
        if lm_dir is None:
            from difficulty.lm import default_reference_lm

            lm_dir = default_reference_lm()
        scorer = KenLMScorer(lm_dir, max_chars=config.max_chars)

    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    with _progress_bar(progress, total) as start:
        advance = start("scoring")
        per_file = [_score_file(path, scorer, advance) for path in files]

        ppl = np.concatenate([s.perplexity for s in per_file])
        tokens = np.concatenate([s.tokens for s in per_file])
        chars = np.concatenate([s.chars for s in per_file])
        ok = np.isfinite(ppl)
        weights = {"tokens": tokens, "characters": chars, "documents": np.ones_like(tokens)}[config.weight]
        cutoffs = compute_cutoffs(ppl[ok], weights[ok], config) if ok.any() or config.cutoffs else None

        advance = start("writing")
        for scores in per_file:
            _rewrite_file(scores, cutoffs, run_dir / "excluded")
            advance(len(scores.perplexity))

    summary = {
        "cutoffs": cutoffs.as_dict() if cutoffs else None,
        "lm": scorer.describe(),
        "documents": {"scored": int(ok.sum()), "excluded": _excluded_counts(run_dir / "excluded")},
        "phases": _histogram(ppl[ok], tokens[ok], chars[ok], cutoffs),
        "files": [str(p.relative_to(run_dir)) for p in files],
    }
    write_json_atomic(run_dir / "cutoffs.json", summary)
    write_stats(run_dir)  # the funnel gains the `perplexity:*` drops
    return summary
