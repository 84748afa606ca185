"""``tokenize_run(RUN)``: the shards → Megatron indexed datasets, one per phase and role.

Writes ``RUN/tokens/phase-k/{hebrew,anchor}.{bin,idx}`` with megatron-core's ``IndexedDatasetBuilder``: the
rows of the phase's shards in shard order (already shuffled), each document one sequence followed by the
tokenizer's end-of-document token, token ids as ``uint16`` when the vocabulary allows (Megatron's
``DType.optimal_dtype``). The tokenizer is the one the manifest names (``RUN/tokenizer/…``, checked by
sha256); the shards are checked against the manifest's sha256 first. Token totals — end-of-document tokens
included — equal the manifest's ``tokens``; a difference is an error, never a silent mismatch.

``RUN/tokens/phase-k/lineage.parquet`` (``shards.lineage``) says where each shard row's tokens are: its
``.bin`` prefix, its document number there and its first token and token count.

``RUN/tokens/tokens.json`` summarizes: per phase and role the prefix, documents and tokens, and the
``blend`` to hand Megatron (``[weight, prefix, weight, prefix]`` with token-share weights, prefixes relative to
``RUN/tokens``). A role without documents in a phase (anchor ratio 0, or an empty phase) gets no files — its
``prefix`` is null and it is left out of the blend — because Megatron cannot map an empty ``.bin``.

Everything is built in ``RUN/.tokens.tmp-<pid>/`` and moved into place at the end; a re-run with the same
manifest and tokenizer returns the existing summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from loguru import logger

from common.errors import HebatronError
from common.files import file_sha256, run_lock, staging_dir, swap_into_place, write_json_atomic
from common.freshness import check_fresh, current_sha256, record_stage, recorded_files, recorded_outputs
from common.layout import BATCH_ROWS, ROLES, read_manifest
from common.progress import progress_bar
from common.sources import heldout_hebrew_documents
from shards.lineage import LINEAGE_FILE, Lineage
from shards.tokenizer import TextTokenizer, load_tokenizer

__all__ = ["ROLES", "TokenizeError", "read_manifest", "tokenize_run"]


class TokenizeError(HebatronError, ValueError):
    """The shards, manifest or tokenizer do not fit together; the message says what to re-run."""


def _tokenizer(run_dir: Path, manifest: dict, override: Path | None) -> TextTokenizer:
    want = manifest["tokenizer"]
    path = Path(override) if override is not None else run_dir / want["path"]
    tok = load_tokenizer(path)
    if tok.sha256 != want["sha256"]:
        raise TokenizeError(
            f"{path} is not the tokenizer the shards were counted with ({want['name']}, sha256 "
            f"{want['sha256'][:12]}…); run `hebatron shard {run_dir} --tokenizer {path}` first"
        )
    if tok.eod_id != want["eod"]:
        raise TokenizeError(f"{path}: end-of-document id {tok.eod_id} differs from the manifest's {want['eod']}")
    return tok


def _check_shards(run_dir: Path, manifest: dict, advance) -> None:
    for phase in manifest["phases"].values():
        for f in phase["files"]:
            path = run_dir / "shards" / f["path"]
            if not path.is_file():
                raise TokenizeError(f"{path} is missing; re-run `hebatron shard {run_dir}`")
            if file_sha256(path) != f["sha256"]:
                raise TokenizeError(
                    f"{path} does not match the manifest's sha256 (changed after sharding); "
                    f"re-run `hebatron shard {run_dir}`"
                )
            advance(1)


def _tokenize_phase(
    shard_dir: Path, files: list[dict], tok: TextTokenizer, prefixes: dict[str, Path], dtype, advance, lineage=None
) -> dict[str, dict]:
    """Tokenize one phase's shards into a dataset per role; a role without documents gets no files (Megatron
    cannot map an empty ``.bin``). LINEAGE (a ``Lineage``) is told where each row's tokens went."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builders: dict[str, IndexedDatasetBuilder] = {}
    counts = {r: {"documents": 0, "tokens": 0} for r in ROLES}
    for f in files:
        row = 0
        for batch in pq.ParquetFile(shard_dir / f["path"]).iter_batches(
            batch_size=BATCH_ROWS, columns=["text", "role", "id"]
        ):
            texts, roles = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            doc_ids = batch.column(2).to_pylist()
            for role, ids, doc_id in zip(roles, tok.encode_batch(texts), doc_ids, strict=True):
                if role not in counts:
                    raise TokenizeError(f"{shard_dir / f['path']}: unknown role {role!r} (expected {ROLES})")
                if role not in builders:
                    builders[role] = IndexedDatasetBuilder(f"{prefixes[role]}.bin", dtype=dtype)
                doc = np.asarray([*ids, tok.eod_id], dtype=dtype)
                builders[role].add_document(doc, [doc.size])
                if lineage is not None:
                    lineage.add(
                        doc_id, f["path"], row, role, counts[role]["documents"], counts[role]["tokens"], doc.size
                    )
                counts[role]["documents"] += 1
                counts[role]["tokens"] += int(doc.size)
                row += 1
            advance(batch.num_rows)
    for role, builder in builders.items():
        builder.finalize(f"{prefixes[role]}.idx")
    return counts


def _write_dataset(prefix: Path, texts: list[str], tok: TextTokenizer, dtype) -> dict:
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
    tokens = 0
    for ids in tok.encode_batch(texts):
        doc = np.asarray([*ids, tok.eod_id], dtype=dtype)
        builder.add_document(doc, [doc.size])
        tokens += int(doc.size)
    builder.finalize(f"{prefix}.idx")
    return {"documents": len(texts), "tokens": tokens}


def _tokenize_eval(run_dir: Path, tok: TextTokenizer, out: Path, dtype) -> dict:
    """``eval/he`` (HTB dev+test) and ``eval/en`` (the anchors held out of every phase), for held-out loss."""
    out.mkdir()
    result = {
        "he": {
            "prefix": "eval/he",
            "source": "HTB treebank dev+test splits",
            **_write_dataset(out / "he", heldout_hebrew_documents(), tok, dtype),
        }
    }
    held = run_dir / "shards" / "eval" / "anchor.parquet"
    texts = pq.read_table(held, columns=["text"]).column(0).to_pylist() if held.is_file() else []
    result["en"] = (
        {
            "prefix": "eval/en",
            "source": "anchor documents held out of every phase",
            **_write_dataset(out / "en", texts, tok, dtype),
        }
        if texts
        else {
            "prefix": None,
            "source": "none held out (heldout_anchor_share = 0 or a tiny pool)",
            "documents": 0,
            "tokens": 0,
        }
    )
    return result


def _existing(run_dir: Path, manifest_sha: str) -> dict | None:
    try:
        summary = json.loads((run_dir / "tokens" / "tokens.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if summary.get("manifest_sha256") != manifest_sha:
        return None
    prefixes = [
        run_dir / "tokens" / r["prefix"]
        for p in summary["phases"].values()
        for r in (p["hebrew"], p["anchor"])
        if r["prefix"]
    ]
    ok = all(Path(f"{p}.bin").is_file() and Path(f"{p}.idx").is_file() for p in prefixes)
    # and what tokenize recorded writing is as it wrote it (a damaged token file is rewritten, never recorded)
    written = recorded_outputs(run_dir, "tokenize") or {}
    return summary if ok and all(current_sha256(run_dir / n) == sha for n, sha in written.items()) else None


def _record(run_dir: Path) -> None:
    """Tokenize's record: it read the manifest; it wrote tokens.json and the token files (what train reads)."""
    tokens = run_dir / "tokens"
    written = sorted(p for p in tokens.rglob("*") if p.is_file())
    record_stage(run_dir, "tokenize", reads=[run_dir / "shards" / "manifest.json"], writes=written)


def tokenize_run(run_dir: Path, *, tokenizer: Path | None = None, progress: bool = True) -> dict:
    """Write ``RUN/tokens/`` from ``RUN/shards/`` (see the module docstring); returns ``tokens.json``.
    ``tokenizer`` may name the manifest's tokenizer file elsewhere; any other tokenizer is refused
    (``TokenizeError``: re-shard with it first, so the manifest's counts stay true)."""
    run_dir = Path(run_dir).resolve()
    with run_lock(run_dir):  # first: a second command on the run gets RunLocked, one error line
        # the manifest and the held-out anchors as shard wrote them (the manifest then vouches for every shard)
        recorded_files(run_dir, "shards", reader="tokenize")
        manifest = read_manifest(run_dir)
        manifest_sha = current_sha256(run_dir / "shards" / "manifest.json")
        check_fresh(run_dir, "tokenize")
        tok = _tokenizer(run_dir, manifest, tokenizer)
        if (summary := _existing(run_dir, manifest_sha)) is not None:
            logger.info(f"{run_dir / 'tokens'}: already up to date")
            _record(run_dir)
            return summary
        from megatron.core.datasets.indexed_dataset import DType  # after the checks: a refusal stays quick

        dtype = DType.optimal_dtype(tok.vocab_size)
        n_files = sum(len(p["files"]) for p in manifest["phases"].values())
        n_rows = sum(f["rows"] for p in manifest["phases"].values() for f in p["files"])
        with staging_dir(run_dir, "tokens") as staging, progress_bar(progress) as start:
            _check_shards(run_dir, manifest, start("checking shards", n_files))
            advance = start("tokenizing", n_rows)
            phases = {}
            for k, phase in sorted(manifest["phases"].items()):
                (staging / f"phase-{k}").mkdir()
                prefixes = {r: staging / f"phase-{k}" / r for r in ROLES}
                lineage = Lineage(int(k))
                counts = _tokenize_phase(run_dir / "shards", phase["files"], tok, prefixes, dtype, advance, lineage)
                for role in ROLES:
                    want = {key: phase[role][key] for key in ("documents", "tokens")}
                    if counts[role] != want:
                        raise TokenizeError(
                            f"phase {k} {role}: tokenized {counts[role]} but the manifest says "
                            f"{want}; re-run `hebatron shard {run_dir}`"
                        )
                total = sum(c["tokens"] for c in counts.values())
                entry = {
                    r: {"prefix": f"phase-{k}/{r}" if counts[r]["documents"] else None, **counts[r]} for r in ROLES
                }
                entry["anchor_ratio"] = round(counts["anchor"]["tokens"] / total, 6) if total else 0.0
                entry["lineage"] = lineage.write(staging, f"phase-{k}/{LINEAGE_FILE}")
                entry["blend"] = [
                    x
                    for r in ROLES
                    if counts[r]["tokens"]
                    for x in (round(counts[r]["tokens"] / total, 6), f"phase-{k}/{r}")
                ]
                phases[k] = entry
            summary = {
                "phases": phases,
                "dtype": np.dtype(dtype).name,
                "tokenizer": manifest["tokenizer"],
                "eval": _tokenize_eval(run_dir, tok, staging / "eval", dtype),
                "manifest_sha256": manifest_sha,
            }
            write_json_atomic(staging / "tokens.json", summary)
            swap_into_place(staging, run_dir / "tokens")
            _record(run_dir)
    return summary
