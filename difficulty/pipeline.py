"""Scoring as datatrove stages, handed to the Local, Ray or Slurm executor like curation's.

    score          a task per curated file: RUN/curated/<f>.parquet → PerplexityScorer → .work/score/scored/,
                   the documents it cannot score → .work/score/excluded/ (``perplexity:<reason>``)
    score_cutoffs  1 task: weighted percentiles of every scored perplexity → .work/score/cutoffs.json
    score_phases   a task per file: the scored rows with their phase → .work/score/out/curated/<f>.parquet, the
                   run's excluded/perplexity-<f>.parquet merged with the new drops → .work/score/out/excluded/
    score_publish  1 task: the staged files renamed into RUN/excluded/ (first) and RUN/curated/, RUN/cutoffs.json,
                   RUN/stats.json and step_stats.json, the freshness record (RUN/.stages/score.json)

A document is in RUN/curated or RUN/excluded at every moment (briefly in both, never in neither): excluded files
are renamed into place before the curated files that lose those documents, and each rename is atomic. The
publish step only renames staged files that are still there, so running it again finishes an interrupted one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers.parquet import ParquetWriter

from common.files import atomic_path, write_json_atomic
from common.freshness import record_stage
from common.layout import BATCH_ROWS, PHASES
from curation.dependency_check import use_fast_check
from curation.executors import Stage
from difficulty.phases import Cutoffs, DifficultyConfig, assign_phases, compute_cutoffs
from difficulty.scorer import DocumentScorer
from difficulty.step import DROP_PREFIX, PerplexityScorer

use_fast_check()  # datatrove checks each step's dependencies by name (curation/dependency_check.py)

__all__ = ["ADDED_COLUMNS", "STAGE_NAMES", "Stage", "base_schema", "build_stages", "publish_scores"]

ADDED_COLUMNS = ("perplexity", "phase")
"""Columns scoring adds to a curated file (and drops from it before scoring it again)."""
TOKENS = "perplexity_tokens"
STAGE_NAMES = ("score", "score_cutoffs", "score_phases", "score_publish")
_NULL_TEXT = "text_is_null"  # metadata: the text was null (datatrove's steps need a string)


def base_schema(schema: pa.Schema) -> pa.Schema:
    """A curated file's own columns: ``schema`` without what scoring added."""
    return pa.schema([f for f in schema if f.name not in (*ADDED_COLUMNS, TOKENS)])


def kept_schema(base: pa.Schema) -> pa.Schema:
    return base.append(pa.field("perplexity", pa.float64())).append(pa.field("phase", pa.int8()))


def excluded_schema(base: pa.Schema) -> pa.Schema:
    return base.append(pa.field("filter_reason", pa.string()))


class CuratedReader(ParquetReader):
    """Reads curated rows as documents, every one of them: datatrove's reader skips a row without text, but
    here it must reach the scorer and leave as ``perplexity:empty``. Columns other than ``id`` and ``text``
    become metadata; ``perplexity`` and ``phase`` from an earlier scoring are dropped."""

    name = "📒 Curated Parquet"

    def __init__(self, data_folder: str, paths_file: str, advance: Callable[[int], None] | None = None):
        super().__init__(data_folder, paths_file, batch_size=BATCH_ROWS)
        self.add_file_path = False
        self.advance = advance  # a progress callback, only when the tasks run in this process

    def _default_adapter(self, data: dict, path: str, id_in_file: int | str) -> dict:
        text, doc_id = data.pop("text"), data.pop("id")
        for name in (*ADDED_COLUMNS, TOKENS):
            data.pop(name, None)
        if text is None:
            text, data[_NULL_TEXT] = "", True
        return {"text": text, "id": doc_id, "metadata": data}

    def get_document_from_dict(self, data: dict, source_file: str, id_in_file: int | str) -> Document:
        return Document(**self.adapter(data, source_file, id_in_file))

    def read_file(self, filepath: str) -> DocumentsPipeline:
        n = 0
        for doc in super().read_file(filepath):
            yield doc
            n += 1
            if self.advance and n % 256 == 0:
                self.advance(256)
        if self.advance:
            self.advance(n % 256)


class RowWriter(ParquetWriter):
    """Writes documents back as flat rows of ``schema``: ``id``, ``text`` and the metadata named there."""

    name = "💾 Scored Parquet"

    def __init__(self, output_folder: str, output_filename: str, schema: pa.Schema):
        super().__init__(
            output_folder,
            output_filename,
            compression="zstd",
            schema=schema,
            max_file_size=-1,
            use_content_defined_chunking=False,
            write_page_index=False,
            batch_size=BATCH_ROWS,
        )
        self.columns = [n for n in schema.names if n not in ("id", "text")]

    def _default_adapter(self, document: Document) -> dict:
        meta = document.metadata
        text = None if meta.get(_NULL_TEXT) else document.text
        return {"id": document.id, "text": text, **{c: meta.get(c) for c in self.columns}}


def _read_cutoffs(path: Path) -> Cutoffs | None:
    c = json.loads(path.read_text(encoding="utf-8"))["cutoffs"]
    if c is None:
        return None
    pct = tuple(c["percentiles"]) if c["percentiles"] else None
    return Cutoffs(low=c["low"], high=c["high"], method=c["method"], percentiles=pct, weight=c["weight"])


def _histogram(ppl: np.ndarray, tokens: np.ndarray, chars: np.ndarray, cutoffs: Cutoffs | None) -> dict:
    phases = assign_phases(ppl, cutoffs) if cutoffs is not None and ppl.size else np.zeros(0, np.int8)
    total_chars, total_tokens = max(int(chars.sum()), 1), max(int(tokens.sum()), 1)
    out = {}
    for k in PHASES:
        sel = phases == k
        p = ppl[sel]
        out[str(k)] = {
            "documents": int(sel.sum()),
            "characters": int(chars[sel].sum()),
            # the reference LM's SentencePiece pieces, not the trainer's BPE tokens (the shard manifest's)
            "lm_pieces": int(tokens[sel].sum()),
            "character_share": round(float(chars[sel].sum()) / total_chars, 4),
            "lm_piece_share": round(float(tokens[sel].sum()) / total_tokens, 4),
            "perplexity_min": float(p.min()) if p.size else None,
            "perplexity_median": float(np.median(p)) if p.size else None,
            "perplexity_max": float(p.max()) if p.size else None,
        }
    return out


class ComputeCutoffs(PipelineStep):
    """Reads every scored perplexity (24 bytes a document) and writes the cut-offs and the phase histogram."""

    name = "📏 Perplexity cut-offs"

    def __init__(self, scored_folder: str, stems: list[str], output: str, config: DifficultyConfig):
        super().__init__()
        self.scored_folder, self.stems, self.output, self.config = scored_folder, stems, output, config

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        ppl, tokens, chars = [np.zeros(0)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for rank in range(len(self.stems)):
            path = Path(self.scored_folder) / f"{rank:05d}.parquet"
            if not path.exists():  # every document of that file was excluded
                continue
            for batch in pq.ParquetFile(path).iter_batches(BATCH_ROWS, columns=["perplexity", TOKENS, "text"]):
                ppl.append(batch.column(0).to_numpy(zero_copy_only=False))
                tokens.append(batch.column(1).to_numpy(zero_copy_only=False).astype(np.int64))
                chars.append(pc.utf8_length(batch.column(2)).fill_null(0).to_numpy(zero_copy_only=False))
        p, t, c = np.concatenate(ppl), np.concatenate(tokens), np.concatenate(chars).astype(np.int64)
        weights = {"tokens": t, "characters": c, "documents": np.ones_like(t)}[self.config.weight]
        cutoffs = compute_cutoffs(p, weights, self.config) if p.size or self.config.cutoffs else None
        self.stat_update("scored", value=int(p.size))
        write_json_atomic(
            self.output,
            {
                "cutoffs": cutoffs.as_dict() if cutoffs else None,
                "scored": int(p.size),
                "phases": _histogram(p, t, c, cutoffs),
            },
        )
        return iter(())


def _merge_excluded(tables: list[pa.Table]) -> pa.Table:
    """The rows of ``tables``, the first one of each id kept (a document excluded earlier stays as it was)."""
    merged = pa.concat_tables(tables, promote_options="default")
    _, first = np.unique(np.asarray(merged.column("id").to_pylist(), dtype=object), return_index=True)
    return merged.take(np.sort(first))


class AssignPhases(PipelineStep):
    """For one curated file: the scored rows with their phase, staged as the new curated file, and the run's
    excluded file for it merged with the documents the scorer dropped."""

    name = "🪜 Phases"

    def __init__(self, run_dir: str, work: str, stems: list[str], base: pa.Schema):
        super().__init__()
        self.run_dir, self.work, self.stems, self.base = run_dir, work, stems, base

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        stem, work = self.stems[rank], Path(self.work)
        cutoffs = _read_cutoffs(work / "cutoffs.json")
        schema = kept_schema(self.base)
        out = work / "out" / "curated"
        out.mkdir(parents=True, exist_ok=True)
        scored = work / "scored" / f"{rank:05d}.parquet"
        with atomic_path(out / f"{stem}.parquet") as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            batches = pq.ParquetFile(scored).iter_batches(BATCH_ROWS) if scored.exists() else []
            for batch in batches:
                ppl = batch.column("perplexity").to_numpy(zero_copy_only=False)
                phases = assign_phases(ppl, cutoffs) if len(ppl) else np.zeros(0, np.int8)
                columns = [batch.column(n) for n in self.base.names] + [
                    pa.array(ppl, pa.float64()),
                    pa.array(phases, pa.int8()),
                ]
                w.write_table(pa.Table.from_arrays(columns, schema=schema))
                self.stat_update("kept", value=batch.num_rows)
            if not scored.exists():
                w.write_table(schema.empty_table())

        name = f"{DROP_PREFIX}-{stem}.parquet"
        new = work / "excluded" / f"{DROP_PREFIX}-{rank:05d}.parquet"
        if new.exists():
            tables = [pq.read_table(p) for p in (Path(self.run_dir) / "excluded" / name, new) if p.exists()]
            merged = _merge_excluded(tables)
            self.stat_update("excluded", value=pq.ParquetFile(new).metadata.num_rows)
            (work / "out" / "excluded").mkdir(parents=True, exist_ok=True)
            with atomic_path(work / "out" / "excluded" / name) as tmp:
                pq.write_table(merged, tmp, compression="zstd")
        return iter(())


def _excluded_counts(excluded_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted(excluded_dir.glob(f"{DROP_PREFIX}-*.parquet")):
        for reason in pq.read_table(path, columns=["filter_reason"]).column(0).to_pylist():
            counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def publish_scores(run_dir: Path, work: Path, stems: list[str], lm: dict) -> dict:
    """Rename the staged files into RUN (excluded first), write RUN/cutoffs.json, the stats and the freshness
    record, and drop the bulky work files. Safe to call again after an interruption."""
    from curation.stats import write_stats

    (work / "publishing").touch()  # from here on RUN/curated may already hold new files
    for sub in ("excluded", "curated"):
        (run_dir / sub).mkdir(exist_ok=True)
        for staged in sorted((work / "out" / sub).glob("*.parquet")) if (work / "out" / sub).is_dir() else []:
            staged.replace(run_dir / sub / staged.name)
    computed = json.loads((work / "cutoffs.json").read_text(encoding="utf-8"))
    summary = {
        "cutoffs": computed["cutoffs"],
        "lm": lm,
        "documents": {"scored": computed["scored"], "excluded": _excluded_counts(run_dir / "excluded")},
        "phases": computed["phases"],
        "files": [f"curated/{stem}.parquet" for stem in stems],
    }
    write_json_atomic(run_dir / "cutoffs.json", summary)
    write_stats(run_dir)  # the funnel gains the `perplexity:*` drops
    written = [run_dir / "curated" / f"{stem}.parquet" for stem in stems]
    written += sorted((run_dir / "excluded").glob(f"{DROP_PREFIX}-*.parquet"))
    record_stage(run_dir, "score", writes=[*written, run_dir / "cutoffs.json", run_dir / "stats.json"])
    for sub in ("scored", "excluded", "out"):
        shutil.rmtree(work / sub, ignore_errors=True)
    return summary


class PublishScores(PipelineStep):
    name = "📦 Publish scores"

    def __init__(self, run_dir: str, work: str, stems: list[str], lm: dict):
        super().__init__()
        self.run_dir, self.work, self.stems, self.lm = run_dir, work, stems, lm

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        publish_scores(Path(self.run_dir), Path(self.work), self.stems, self.lm)
        return iter(())


def build_stages(
    run_dir: Path,
    work: Path,
    stems: list[str],
    base: pa.Schema,
    config: DifficultyConfig,
    scorer: DocumentScorer,
    lm: dict,
    advance: Callable[[int], None] | None = None,
) -> list[Stage]:
    """The four scoring stages for the curated files ``stems`` (listed in ``work/inputs.txt``)."""
    w = str(work)
    tag = "${rank}.parquet"  # rank k reads the k-th file of inputs.txt, i.e. stems[k]
    scorer_step = PerplexityScorer(
        scorer=scorer,
        max_chars=config.max_chars,
        exclusion_writer=RowWriter(f"{w}/excluded", f"{DROP_PREFIX}-{tag}", excluded_schema(base)),
    )
    scored_schema = base.append(pa.field("perplexity", pa.float64())).append(pa.field(TOKENS, pa.int64()))
    n = len(stems)
    return [
        Stage(
            "score",
            [
                CuratedReader(str(run_dir / "curated"), f"{w}/inputs.txt", advance),
                scorer_step,
                RowWriter(f"{w}/scored", tag, scored_schema),
            ],
            n,
        ),
        Stage("score_cutoffs", [ComputeCutoffs(f"{w}/scored", stems, f"{w}/cutoffs.json", config)], 1),
        Stage("score_phases", [AssignPhases(str(run_dir), w, stems, base)], n),
        Stage("score_publish", [PublishScores(str(run_dir), w, stems, lm)], 1),
    ]
