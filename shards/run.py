"""``shard_run(RUN, anchors, config)``: a scored run → per-phase shards mixed with English anchors + a manifest.

Steps (every input is streamed in batches):

1. check the run is scored (``phase`` in every curated file, ``RUN/cutoffs.json``) and check the anchor files
   (errors name the file and line): a file mostly not English is refused; a non-English document or one that
   is also a curated Hebrew document is left out of the pool, counted per reason (``anchors_excluded``);
2. the tokenizer: train a byte-level BPE on a seeded sample of the Hebrew and the anchor text, or take the
   user's ``tokenizer.json`` / SentencePiece ``.model`` (copied into the run either way);
3. count tokens (+1 end-of-document token per document) of every anchor and every Hebrew document;
4. with ``rehydrate`` on, give every curated document its weight (``curation.rehydration``: FineWeb-2's
   upsampling by cluster size before filtering, from the run's own removal rates or a published preset); a
   document of weight ``w`` is ``w`` rows of its phase, the copies after the first with ids ``ID#r2`` … ``ID#rw``
   (the anchors' convention), so it is still in exactly one phase; weights are whole numbers, so the result
   needs no seed; the Hebrew token counts (and so the anchor targets) include the copies;
5. draw anchors per phase to hit the anchor share (``shards.mix``), give every row a seeded shuffled position;
6. stream Hebrew and anchors again into the shuffle writer (``shards.spill``), write each shard;
7. write ``manifest.json`` (and ``plan.json``: what produced it), the dataset card ``README.md`` (one
   Hugging Face ``datasets`` config per phase and one for the eval set) and move ``tokenizer/`` and ``shards/`` into
   place — built in ``RUN/.shards.tmp-<pid>/``, so a reader never sees a half-written ``RUN/shards/``.

The manifest's ``hebrew`` counts are rows (copies included; ``repeated``: rows beyond the first copy); with
``rehydrate`` each phase also has ``rehydration`` (documents before and after, documents repeated, tokens before,
after and repeated) and the manifest names the weights used.

Memory: per Hebrew document 33 bytes (phase, tokens, characters, row in phase), per anchor document 16 bytes,
plus the drawn anchors' uses; texts only a batch at a time, then the shuffle buffer (256 MB) and one shard.

Re-running with the same inputs (curated files, cut-offs, anchor files — by sha256 — config, recipe, library
versions) finds ``RUN/shards/plan.json`` unchanged and returns the existing manifest without writing; anything
else rebuilds and replaces ``RUN/shards/`` and ``RUN/tokenizer/`` as a whole. The output bytes depend only on
the inputs and the seed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from loguru import logger

from common.errors import HebatronError
from common.files import file_sha256, is_url, run_lock, staging_dir, swap_into_place, write_json_atomic
from common.freshness import check_fresh, current_sha256, record_stage, recorded_files, recorded_outputs
from common.layout import BATCH_ROWS, PHASES, read_json
from common.progress import progress_bar
from shards.anchors import AnchorFile, check_anchors, discover_anchors, iter_anchor_batches, language_model
from shards.card import write_card
from shards.config import ShardConfig
from shards.contamination import REMOVED_FILE, audit, audit_index, decontaminate, fingerprint
from shards.mix import PhaseDraw, draw_anchors, shuffle_positions
from shards.spill import ShuffleWriter
from shards.tokenizer import TextTokenizer, load_tokenizer, train_bpe

__all__ = ["PHASES", "RunNotScoredError", "scored_files", "shard_run"]

PLAN_VERSION = 4


class RunNotScoredError(HebatronError, FileNotFoundError):
    """The run has no scored curated documents (no ``phase`` column or no ``cutoffs.json``)."""


def scored_files(run_dir: Path) -> list[Path]:
    """The curated files of a scored run, as score (or curate) recorded writing them and checked against their
    sha256 (a run without records: the folder's files); ``RunNotScoredError`` naming what is missing otherwise."""
    curated = run_dir / "curated"
    files = recorded_files(run_dir, "curated", reader="shard")
    if files is None:
        files = sorted(curated.glob("*.parquet")) if curated.is_dir() else []
    files = [f for f in files if f.suffix == ".parquet"]
    if not files:
        raise RunNotScoredError(
            f"{curated}: no curated documents; run `hebatron curate INPUT... -o {run_dir}` "
            f"and `hebatron score {run_dir}` first"
        )
    for path in files:
        names = pq.ParquetFile(path).schema_arrow.names
        if missing := [c for c in ("id", "text", "perplexity", "phase") if c not in names]:
            raise RunNotScoredError(
                f"{path}: curated file has no {', '.join(missing)} column(s): the run was "
                f"not scored; run `hebatron score {run_dir}` first"
            )
    if not (run_dir / "cutoffs.json").is_file():
        raise RunNotScoredError(
            f"{run_dir / 'cutoffs.json'} not found: the run was not scored; run `hebatron score {run_dir}` first"
        )
    recorded_files(run_dir, "cutoffs.json", reader="shard")
    return files


@dataclass(slots=True)
class _Hebrew:
    """Per curated file, per row: phase, tokens (+1 EOD), characters, copies (the rehydration weight, 1 without
    it), index among its phase's rows of its first copy."""

    phase: list[np.ndarray]
    tokens: list[np.ndarray]
    chars: list[np.ndarray]
    copies: list[np.ndarray]
    row_in_phase: list[np.ndarray]


@dataclass(slots=True)
class _Pool:
    tokens: np.ndarray
    chars: np.ndarray


def _iter_curated(path: Path, columns: list[str]):
    yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)


def _sample(texts: list[str], rng: np.random.Generator, rate: float) -> list[str]:
    return texts if rate >= 1 else [t for t, keep in zip(texts, rng.random(len(texts)) < rate, strict=True) if keep]


def _training_texts(files: list[Path], anchors: list[AnchorFile], anchor_chars: int, config: ShardConfig):
    """A seeded sample of about ``tokenizer_sample_chars`` Hebrew and as many anchor characters."""
    hebrew_chars = sum(
        int(pc.sum(pc.utf8_length(b.column(0))).as_py() or 0) for f in files for b in _iter_curated(f, ["text"])
    )
    budget = config.tokenizer_sample_chars
    rate = budget / max(hebrew_chars, 1)
    for i, path in enumerate(files):
        rng = np.random.default_rng([config.seed, 0x70C, 0, i])
        for batch in _iter_curated(path, ["text"]):
            yield from _sample([t for t in batch.column(0).to_pylist() if t], rng, rate)
    rate = budget / max(anchor_chars, 1)
    for i, anchor in enumerate(anchors):
        rng = np.random.default_rng([config.seed, 0x70C, 1, i])
        for _, texts in iter_anchor_batches(anchor):
            yield from _sample(texts, rng, rate)


def _tokenizer(
    staging: Path, files: list[Path], anchors: list[AnchorFile], config: ShardConfig, start
) -> TextTokenizer:
    """The run's tokenizer, written under ``staging/tokenizer/`` (moved to ``RUN/tokenizer/`` at the end)."""
    if config.tokenizer is not None:
        user = load_tokenizer(config.tokenizer)
        dest = staging / "tokenizer" / ("tokenizer.json" if user.kind == "hf-tokenizers" else "tokenizer.model")
        dest.parent.mkdir(parents=True)
        shutil.copyfile(user.path, dest)
        return type(user)(dest, name=user.name)
    anchor_chars = sum(len(t) for anchor in anchors for _, texts in iter_anchor_batches(anchor) for t in texts)
    done = start("training tokenizer", 1)
    name = f"hebatron-bpe-{config.vocab_size // 1000}k-he-en-seed{config.seed}"
    tok = train_bpe(
        _training_texts(files, anchors, anchor_chars, config),
        staging / "tokenizer" / "tokenizer.json",
        vocab_size=config.vocab_size,
        name=name,
    )
    done(1)
    return tok


def _count_tokens(tok: TextTokenizer, texts: list[str]) -> np.ndarray:
    return np.fromiter((len(ids) + 1 for ids in tok.encode_batch(texts)), dtype=np.int64, count=len(texts))


def _count_anchors(anchors: list[AnchorFile], tok: TextTokenizer, advance) -> _Pool:
    tokens, chars = [], []
    for anchor in anchors:
        for _, texts in iter_anchor_batches(anchor):
            tokens.append(_count_tokens(tok, texts))
            chars.append(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
        advance(1)
    if not tokens:  # every anchor document was left out
        return _Pool(np.zeros(0, np.int64), np.zeros(0, np.int64))
    return _Pool(np.concatenate(tokens), np.concatenate(chars))


def _count_hebrew(
    files: list[Path], tok: TextTokenizer, advance, weights: _Weights | None = None, removed: list | None = None
) -> _Hebrew:
    """REMOVED: per file, a mask of decontaminated documents (0 copies: in no phase)."""
    out = _Hebrew([], [], [], [], [])
    seen = dict.fromkeys(PHASES, 0)
    for f, path in enumerate(files):
        phases, tokens, chars, copies = [], [], [], []
        for batch in _iter_curated(path, ["text", "phase", "id"]):
            texts = [t or "" for t in batch.column(0).to_pylist()]
            copies.append(weights.of(batch.column(2).to_pylist()) if weights else np.ones(len(texts), np.int64))
            phase = batch.column(1).to_numpy(zero_copy_only=False)
            if batch.column(1).null_count or not np.isin(phase, PHASES).all():
                raise RunNotScoredError(
                    f"{path}: documents without a phase 1..3 (found "
                    f"{sorted(set(batch.column(1).to_pylist()) - set(PHASES))}); "
                    f"re-run `hebatron score {path.parent.parent}`"
                )
            phases.append(phase.astype(np.int8))
            tokens.append(_count_tokens(tok, texts))
            chars.append(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
            advance(len(texts))
        phase = np.concatenate(phases) if phases else np.zeros(0, np.int8)
        copy = np.concatenate(copies) if copies else np.zeros(0, np.int64)
        if removed is not None:
            copy = np.where(removed[f], 0, copy)
        row = np.zeros(len(phase), np.int64)
        for k in PHASES:
            sel = phase == k
            ends = np.cumsum(copy[sel])
            row[sel] = seen[k] + ends - copy[sel]
            seen[k] += int(ends[-1]) if len(ends) else 0
        out.phase.append(phase)
        out.copies.append(copy)
        out.tokens.append(np.concatenate(tokens) if tokens else np.zeros(0, np.int64))
        out.chars.append(np.concatenate(chars) if chars else np.zeros(0, np.int64))
        out.row_in_phase.append(row)
    return out


def _write_hebrew(
    files: list[Path], hebrew: _Hebrew, positions: dict[int, np.ndarray], writer: ShuffleWriter, advance
) -> None:
    for f, path in enumerate(files):
        start = 0
        for batch in _iter_curated(path, ["id", "text", "perplexity"]):
            n = batch.num_rows
            phase, rows = hebrew.phase[f][start : start + n], hebrew.row_in_phase[f][start : start + n]
            copies = hebrew.copies[f][start : start + n]
            for k in PHASES:
                sel = phase == k
                if sel.any():
                    part = batch.filter(pa.array(sel))
                    ids = part.column(0)
                    if (copies[sel] != 1).any():  # rehydration (w rows per document) or decontamination (0)
                        part, ids, row = _expand(part, copies[sel], rows[sel])
                    else:
                        row = rows[sel]
                    m = part.num_rows
                    writer.add(
                        k,
                        positions[k][row],
                        {
                            "id": ids,
                            "text": pc.fill_null(part.column(1), ""),
                            "lang": ["he"] * m,
                            "role": ["hebrew"] * m,
                            "phase": [k] * m,
                            "perplexity": part.column(2),
                        },
                    )
            start += n
            advance(n)


def _expand(part: pa.RecordBatch, copies: np.ndarray, first_row: np.ndarray):
    """Each row of PART ``copies[i]`` times: the rows, their ids (``ID``, ``ID#r2`` …) and their rows in the phase."""
    take = np.repeat(np.arange(len(copies)), copies)
    copy = np.arange(len(take)) - np.repeat(np.cumsum(copies) - copies, copies)  # 0 .. w-1 within a document
    rows = part.take(pa.array(take))
    ids = [i if c == 0 else f"{i}#r{c + 1}" for i, c in zip(rows.column(0).to_pylist(), copy.tolist(), strict=True)]
    return rows, pa.array(ids, pa.string()), first_row[take] + copy


class _Weights:
    """Rehydration weight of each curated document: by its cluster size before filtering."""

    def __init__(self, sizes: dict[str, int], weights: dict[int, int]) -> None:
        self.sizes, self.weights = sizes, weights

    def of(self, ids: list[str]) -> np.ndarray:
        from curation.rehydration import weight_of

        return weight_of(self.weights, np.fromiter((self.sizes.get(i, 1) for i in ids), np.int64, len(ids)))


def _rehydration(run_dir: Path, config: ShardConfig) -> tuple[dict | None, _Weights | None]:
    """The weights asked for (computed, or reused, in ``RUN/rehydration/``) and what the plan and manifest say of
    them; (None, None) when rehydration is off."""
    if config.rehydrate is False:
        return None, None
    from curation.rehydration import compute_rehydration, load_cluster_sizes, preset_weights

    table = compute_rehydration(run_dir, max_repetitions=config.rehydrate_max_repetitions)
    if config.rehydrate is True:
        weights, source = {int(k): v for k, v in table["weights"].items()}, "run"
    else:
        weights, source = preset_weights(config.rehydrate), config.rehydrate
    info = {
        "weights_from": source,
        "weights": {str(k): v for k, v in sorted(weights.items())},
        "cluster_sizes": "rehydration/cluster_sizes.parquet",
        "cluster_sizes_sha256": table["cluster_sizes_sha256"],
        "table": "rehydration/rehydration.json",
        "table_sha256": current_sha256(run_dir / "rehydration" / "rehydration.json"),
    }
    return info, _Weights(load_cluster_sizes(run_dir), weights)


def heldout_anchors(n: int, share: float, seed: int) -> np.ndarray:
    """Pool indices kept out of every phase for evaluation: a seeded share of the pool, at most 1,000."""
    count = min(int(round(n * share)), 1000) if n >= 10 else 0
    return np.sort(np.random.default_rng([seed, 0xE7A1]).permutation(n)[:count])


def _write_anchors(
    anchors: list[AnchorFile],
    draws: list[PhaseDraw],
    hebrew_rows: dict[int, int],
    positions: dict[int, np.ndarray],
    writer: ShuffleWriter,
    advance,
    *,
    heldout: set[int],
    heldout_path: Path,
) -> None:
    uses: dict[int, list[tuple[int, int, int]]] = {}  # pool index -> (phase, row in phase, copy)
    for d in draws:
        for j, (i, copy) in enumerate(zip(d.anchors, d.copies, strict=True)):
            uses.setdefault(i, []).append((d.phase, hebrew_rows[d.phase] + j, copy))
    pool_index = 0
    held_ids: list[str] = []
    held_texts: list[str] = []
    for anchor in anchors:
        for records, texts in iter_anchor_batches(anchor):
            rows: dict[int, tuple[list, list, list]] = {k: ([], [], []) for k in PHASES}
            for record, text in zip(records, texts, strict=True):
                if pool_index in heldout:
                    held_ids.append(f"anchor:{anchor.source}:{record}")
                    held_texts.append(text)
                for phase, row, copy in uses.get(pool_index, ()):
                    ids, txts, pos = rows[phase]
                    ids.append(f"anchor:{anchor.source}:{record}" + (f"#r{copy}" if copy > 1 else ""))
                    txts.append(text)
                    pos.append(row)
                pool_index += 1
            for k, (ids, txts, pos) in rows.items():
                if ids:
                    m = len(ids)
                    writer.add(
                        k,
                        positions[k][np.asarray(pos)],
                        {
                            "id": ids,
                            "text": txts,
                            "lang": ["en"] * m,
                            "role": ["anchor"] * m,
                            "phase": [k] * m,
                            "perplexity": pa.nulls(m, pa.float64()),
                        },
                    )
        advance(1)
    n = len(held_ids)
    pq.write_table(
        pa.table(
            {"id": held_ids, "text": held_texts, "lang": ["en"] * n, "role": ["eval"] * n},
            schema=pa.schema(
                [("id", pa.string()), ("text", pa.string()), ("lang", pa.string()), ("role", pa.string())]
            ),
        ),
        heldout_path,
    )


def _plan(
    files: list[Path],
    anchors: list[AnchorFile],
    run_dir: Path,
    config: ShardConfig,
    recipe: dict | None,
    rehydration: dict | None = None,
) -> dict:
    import tokenizers

    cfg = asdict(config)
    cfg["tokenizer"] = None if config.tokenizer is None else {"sha256": file_sha256(config.tokenizer)}
    cfg["decontaminate"], cfg["audit"] = fingerprint(config.decontaminate), fingerprint(config.audit)
    return {
        "version": PLAN_VERSION,
        "config": json.loads(json.dumps(cfg)),
        # hashed through the freshness cache: recording these same files when the shards are done reads none again
        "curated": [[p.name, current_sha256(p)] for p in files],
        "cutoffs_sha256": current_sha256(run_dir / "cutoffs.json"),
        "anchors": [[a.source, file_sha256(a.path)] for a in anchors],
        "language_model_sha256": current_sha256(language_model()),
        "recipe": recipe,
        "rehydration": rehydration,
        "libraries": {"pyarrow": pa.__version__, "tokenizers": tokenizers.__version__},
    }


def _existing(run_dir: Path, plan: dict) -> dict | None:
    """The manifest already in ``RUN/shards/`` when it was made from exactly this plan and is complete: every
    file it lists has its sha256 (a damaged shard is rewritten, not passed on)."""
    out = run_dir / "shards"
    try:
        if json.loads((out / "plan.json").read_text()) != plan:
            return None
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    listed = [(out / f["path"], f["sha256"]) for p in manifest["phases"].values() for f in p["files"]]
    listed.append((run_dir / manifest["tokenizer"]["path"], manifest["tokenizer"]["sha256"]))
    written = recorded_outputs(run_dir, "shard") or {}
    listed += [(run_dir / name, sha) for name, sha in written.items()]
    return manifest if all(current_sha256(path) == sha for path, sha in listed) else None


def _record(run_dir: Path, files: list[Path], manifest: dict) -> None:
    """Shard's record: it read the scored files and the cutoffs; it wrote the manifest (which lists every shard
    with its sha256), the held-out anchors and the tokenizer."""
    shards = run_dir / "shards"
    written = [shards / "manifest.json", shards / "README.md", shards / manifest["eval"]["anchor"]["path"]]
    contamination = manifest.get("contamination", {})
    written += [shards / contamination["path"]] if "path" in contamination else []
    written += [shards / contamination["decontaminated"]["path"]] if "decontaminated" in contamination else []
    written.append(run_dir / manifest["tokenizer"]["path"])
    record_stage(run_dir, "shard", reads=[*files, run_dir / "cutoffs.json"], writes=written)


def _decontaminate(files: list[Path], config: ShardConfig, out: Path, start, n_docs: int):
    """(per-file masks of the documents removed, the manifest's ``decontaminated`` entry); (None, None) without
    ``decontaminate``."""
    if not config.decontaminate:
        return None, None
    from curation.decont.index import open_indexes

    index = open_indexes(config.decontaminate)
    masks, per_task = decontaminate(files, index, out / REMOVED_FILE, start("decontaminating", n_docs))
    return masks, {"path": REMOVED_FILE, "sources": list(config.decontaminate), "documents": per_task}


def _role(documents: int, characters: int, tokens: int, repeated: int) -> dict:
    return {"documents": documents, "characters": characters, "tokens": tokens, "repeated": repeated}


def shard_run(
    run_dir: Path,
    anchors: list[Path | str],
    config: ShardConfig | None = None,
    *,
    recipe: dict | None = None,
    recipe_name: str | None = None,
    progress: bool = True,
) -> dict:
    """Write ``RUN/shards/phase-{1,2,3}/part-*.parquet`` (Hebrew + anchors, shuffled), ``RUN/shards/manifest.json``
    and ``RUN/tokenizer/``; returns the manifest. Raises ``RunNotScoredError``, ``AnchorError``,
    ``AnchorPoolTooSmall`` / ``MixError``, ``TokenizerError`` (all name the file or say what to change)."""
    run_dir = Path(run_dir).resolve()
    config = config or ShardConfig()
    if recipe is None and recipe_name is not None:
        recipe = {"name": recipe_name, "shards": asdict(config)}
    with run_lock(run_dir):  # first: a second command on the run gets RunLocked, one error line
        files = scored_files(run_dir)
        anchor_files = discover_anchors([a if is_url(a) else Path(a) for a in anchors])
        check_fresh(run_dir, "shard")
        rehydration, weights = _rehydration(run_dir, config)
        plan = _plan(files, anchor_files, run_dir, config, recipe, rehydration)
        if (manifest := _existing(run_dir, plan)) is not None:
            logger.info(f"{run_dir / 'shards'}: already up to date")
            _record(run_dir, files, manifest)
            return manifest
        cutoffs = read_json(run_dir / "cutoffs.json", rerun=f"re-run `hebatron score {run_dir}`").get("cutoffs")
        n_docs = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        with staging_dir(run_dir, "shards") as staging, progress_bar(progress) as start:
            anchor_files, anchors_excluded = check_anchors(
                anchor_files,
                (b.column(0).to_pylist() for f in files for b in _iter_curated(f, ["text"])),
                start("checking anchors", len(anchor_files)),
            )
            out = staging / "shards"
            out.mkdir()
            removed, decontaminated = _decontaminate(files, config, out, start, n_docs)
            tok = _tokenizer(staging, files, anchor_files, config, start)
            pool = _count_anchors(anchor_files, tok, start("counting anchor tokens", len(anchor_files)))
            hebrew = _count_hebrew(files, tok, start("counting Hebrew tokens", n_docs), weights, removed)
            phase = np.concatenate(hebrew.phase)
            copies = np.concatenate(hebrew.copies)
            h_tokens = np.concatenate(hebrew.tokens)  # of one copy
            h_chars = np.concatenate(hebrew.chars)
            per_phase = {k: phase == k for k in PHASES}
            heldout = heldout_anchors(len(pool.tokens), config.heldout_anchor_share, config.seed)
            available = np.setdiff1d(np.arange(len(pool.tokens)), heldout)
            draws = draw_anchors(
                pool.tokens[available],
                [int((h_tokens * copies)[per_phase[k]].sum()) for k in PHASES],
                config.anchor_ratio,
                seed=config.seed,
                allow_repeat=config.allow_repeat,
            )
            for d in draws:  # back to pool indices
                d.anchors = [int(available[j]) for j in d.anchors]
            hebrew_rows = {k: int(copies[per_phase[k]].sum()) for k in PHASES}
            n_rows = {k: hebrew_rows[k] + len(draws[k - 1].anchors) for k in PHASES}
            positions = {k: shuffle_positions(n_rows[k], config.seed, k) for k in PHASES}

            writer = ShuffleWriter(staging, config.shard_rows)
            _write_hebrew(files, hebrew, positions, writer, start("writing Hebrew rows", n_docs))
            (out / "eval").mkdir(parents=True)
            _write_anchors(
                anchor_files,
                draws,
                hebrew_rows,
                positions,
                writer,
                start("writing anchor rows", len(anchor_files)),
                heldout=set(heldout.tolist()),
                heldout_path=out / "eval" / "anchor.parquet",
            )
            phases = {}
            for k, d in zip(PHASES, draws, strict=True):
                sel = per_phase[k]
                w = copies[sel]
                before = int((w > 0).sum())  # documents of the phase (a decontaminated one has 0 copies)
                h = _role(
                    hebrew_rows[k],
                    int((h_chars[sel] * w).sum()),
                    int((h_tokens[sel] * w).sum()),
                    hebrew_rows[k] - before,
                )
                idx = np.asarray(d.anchors, dtype=np.int64)
                a = _role(len(idx), int(pool.chars[idx].sum()), int(pool.tokens[idx].sum()), d.repeated)
                total = h["tokens"] + a["tokens"]
                phases[str(k)] = {
                    "files": writer.finish(out, k, n_rows[k]),
                    "hebrew": h,
                    "anchor": a,
                    "anchor_ratio": round(a["tokens"] / total, 6) if total else 0.0,
                }
                if rehydration is not None:
                    phases[str(k)]["rehydration"] = {
                        "documents_before": before,
                        "documents_after": hebrew_rows[k],
                        "repeated_documents": int((w > 1).sum()),
                        "tokens_before": int(h_tokens[sel].sum()),
                        "tokens_after": h["tokens"],
                        "repeated_tokens": int((h_tokens[sel] * (w - 1)).sum()),
                    }
            tokenizer = {
                "name": tok.name,
                "kind": tok.kind,
                "path": f"tokenizer/{tok.path.name}",
                "vocab_size": tok.vocab_size,
                "eod": tok.eod_id,
                "eod_token": tok.eod_token,
                "sha256": tok.sha256,
            }
            manifest = {
                "phases": phases,
                "anchors_excluded": anchors_excluded,
                "cutoffs": cutoffs,
                "recipe": recipe,
                **({"rehydration": rehydration} if rehydration is not None else {}),
                "tokenizer": tokenizer,
                "eval": {
                    "anchor": {
                        "path": "eval/anchor.parquet",
                        **_role(len(heldout), int(pool.chars[heldout].sum()), int(pool.tokens[heldout].sum()), 0),
                    }
                },
            }
            held = pq.read_table(out / "eval" / "anchor.parquet", columns=["text"]).column(0).to_pylist()
            manifest["contamination"] = audit(
                out,
                phases,
                audit_index(held, config.audit + config.decontaminate),
                lambda texts: _count_tokens(tok, texts),
                start("contamination audit", sum(n_rows.values())),
            )
            if decontaminated is not None:
                manifest["contamination"]["decontaminated"] = decontaminated
            shutil.rmtree(staging / "spill", ignore_errors=True)
            write_json_atomic(out / "manifest.json", manifest)
            write_json_atomic(out / "plan.json", plan)
            write_card(out, manifest)
            swap_into_place(staging / "tokenizer", run_dir / "tokenizer")
            swap_into_place(out, run_dir / "shards")
            _record(run_dir, files, manifest)
    return manifest
