"""Decontamination index: the n-gram hashes of benchmark (or eval) text, per task, in datatrove's format.

``build_index(BENCH..., OUT)`` reads benchmark JSONL files — each record a ``text``, or a ``query`` and an
``answer`` (also ``question``/``gold``); the task is the record's ``task`` field, else the file's stem — and runs
``HebrewDecontIndexer`` over them: datatrove's ``NGramsDecontIndexer`` (its n-gram choice: answer n-grams, query
n-grams, and the ones that straddle both) on canonical Hebrew-aware words (``curation.decont.canon``) instead of
an English word tokenizer, fed the records directly instead of through lighteval. ``OUT`` then holds what
datatrove writes — ``<task>.index.hashes``, the xxhash64 of every n-gram as raw uint64 — and ``decont.json``
(the n-gram size, the canonical form's version, per task its n-gram count and source files).

``DecontIndex`` loads such a folder (or builds one in memory from benchmark files) as one sorted hash array
with a task per hash, and says which tasks a text overlaps and on which n-gram.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontIndexer
from datatrove.utils.hashing import HashConfig, create_hash_func
from datatrove.utils.text import TextNormConfig, ngrams

from common.errors import HebatronError
from common.files import write_json_atomic
from common.records import _open as open_text
from curation.decont.canon import CanonicalTokenizer, canonical_words

CANON_VERSION = 1
"""Bumped whenever ``canonical_words`` changes: an index is only usable with the form it was built with."""
META = "decont.json"
HASHES = ".index.hashes"
QUERY_KEYS, ANSWER_KEYS = ("query", "question", "prompt"), ("answer", "gold", "label")


class DecontError(HebatronError, ValueError):
    """A benchmark file or an index that cannot be used; the message names the file (and line)."""


def decont_config(n_grams: int = 12) -> NGramsDecontConfig:
    """datatrove's config with our choices: n-grams of the query too (a leaked passage is usually the question),
    and no text normalization of its own (``canonical_words`` does it)."""
    if isinstance(n_grams, bool) or not isinstance(n_grams, int) or n_grams < 2:
        raise ValueError(f"n-gram size must be an integer of at least 2, got {n_grams!r}")
    off = TextNormConfig(False, False, False, False, False, False, False)
    return NGramsDecontConfig(n_grams=n_grams, find_query_ngrams=True, norm_config=off, hash_config=HashConfig())


@dataclass(frozen=True, slots=True)
class BenchRecord:
    task: str
    text: str
    query: str | None
    source: str


def task_name(name: str) -> str:
    """A task name usable as a file name and in ``decontamination:<task>``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip()) or "task"


def read_benchmarks(paths: Iterable[Path]) -> Iterator[BenchRecord]:
    """The records of benchmark JSONL files; a bad line is a ``DecontError`` naming the file and line."""
    for path in paths:
        path = Path(path)
        stem = path.name.split(".")[0]
        try:
            with open_text(path) as fh:
                for line_no, line in enumerate(fh, 1):
                    if line.strip():
                        yield _record(json.loads(line), path, line_no, stem)
        except json.JSONDecodeError as err:
            raise DecontError(f"{path}:{line_no}: not a JSON object ({err.msg})") from None
        except UnicodeDecodeError as err:
            raise DecontError(f"{path}: not UTF-8 text ({err})") from None


def _record(obj, path: Path, line_no: int, stem: str) -> BenchRecord:
    where = f"{path}:{line_no}"
    if not isinstance(obj, dict):
        raise DecontError(f"{where}: expected a JSON object with `text` or `query`/`answer`")
    query = next((obj[k] for k in QUERY_KEYS if isinstance(obj.get(k), str)), None)
    answer = next((obj[k] for k in ANSWER_KEYS if obj.get(k) is not None), None)
    if isinstance(answer, list):  # several golds: each one counts
        answer = "\n".join(str(a) for a in answer)
    text = obj.get("text") if isinstance(obj.get("text"), str) else answer
    if not isinstance(text, str) and query is None:
        raise DecontError(f"{where}: no `text` and no `query`/`answer` string")
    task = obj.get("task") if isinstance(obj.get("task"), str) and obj["task"].strip() else stem
    return BenchRecord(task_name(task), text if isinstance(text, str) else "", query, str(path))


class HebrewDecontIndexer(NGramsDecontIndexer):
    """datatrove's ``NGramsDecontIndexer`` on canonical Hebrew-aware words, indexing the documents handed to it
    (``text`` = the answer, ``metadata["query"]``, ``metadata["task"]``) — no lighteval task lookup."""

    name = "💥 N-grams build index (Hebrew)"

    def __new__(cls, *args, **kwargs):
        # the parent declares lighteval, which only its task-registry path needs; that path is not used here
        return object.__new__(cls)

    def __init__(self, output_folder, config: NGramsDecontConfig | None = None):
        """OUTPUT_FOLDER None: only ``compute_hashes`` is used (an index built in memory)."""
        PipelineStep.__init__(self)
        self.output_folder = get_datafolder(output_folder) if output_folder is not None else None
        self.lighteval_tasks, self.custom_lighteval_tasks = None, None
        self.config = config or decont_config()
        self.tokenizer = CanonicalTokenizer()
        self.hash_func = create_hash_func(self.config.hash_config)
        self.counts: dict[str, int] = {}

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise ValueError("Decontamination index building requires a single worker.")
        hashes: dict[str, set[int]] = defaultdict(set)
        for doc in data or ():
            hashes[doc.metadata.get("task", "input")].update(self.compute_hashes(doc.text, doc.metadata.get("query")))
            self.stat_update("documents")
        for task, task_hashes in sorted(hashes.items()):
            array = np.array(sorted(task_hashes), dtype=self.config.hash_config.np_descr)
            with self.output_folder.open(f"{task}{HASHES}", mode="wb") as f:
                f.write(array.tobytes())
            self.counts[task] = len(array)
        return iter(())


def _documents(records: Iterable[BenchRecord], sources: dict[str, set[str]]) -> Iterator[Document]:
    for i, r in enumerate(records):
        sources[r.task].add(r.source)
        yield Document(text=r.text, id=str(i), metadata={"task": r.task, "query": r.query})


def build_index(benchmarks: list[Path], out: Path, *, n_grams: int = 12) -> dict:
    """Write the index of BENCHMARKS into OUT (see the module docstring); returns its ``decont.json``."""
    benchmarks = [Path(p) for p in benchmarks]
    for p in benchmarks:
        if not p.is_file():
            raise DecontError(f"{p}: no such benchmark file")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"*{HASHES}"):
        stale.unlink()
    sources: dict[str, set[str]] = defaultdict(set)
    indexer = HebrewDecontIndexer(str(out), decont_config(n_grams))
    indexer.run(_documents(read_benchmarks(benchmarks), sources))
    meta = {
        "format": "datatrove NGramsDecontIndexer (<task>.index.hashes: xxhash64 of n-grams, uint64)",
        "n_grams": n_grams,
        "canonical_form": CANON_VERSION,
        "tasks": {t: {"ngrams": n, "sources": sorted(sources[t])} for t, n in indexer.counts.items()},
    }
    write_json_atomic(out / META, meta)
    return meta


class DecontIndex:
    """Every task's n-gram hashes as one sorted array; ``matches(text)`` names the tasks TEXT overlaps."""

    def __init__(self, tasks: dict[str, np.ndarray], n_grams: int = 12, sources: dict[str, list[str]] | None = None):
        self.n_grams = n_grams
        self.tasks = sorted(tasks)
        self.sources = sources or {}
        self.sizes = {t: len(tasks[t]) for t in self.tasks}
        hashes = [np.asarray(tasks[t], np.uint64) for t in self.tasks]
        owner = [np.full(len(h), i, np.int32) for i, h in enumerate(hashes)]
        allh = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        order = np.argsort(allh, kind="stable")
        self.hashes, self.owner = allh[order], (np.concatenate(owner) if owner else np.zeros(0, np.int32))[order]
        self.hash_func = create_hash_func(HashConfig())

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def from_texts(cls, task: str, texts: Iterable[str], n_grams: int = 12) -> DecontIndex:
        indexer = HebrewDecontIndexer(None, decont_config(n_grams))
        found = {h for t in texts for h in indexer.compute_hashes(t)}
        return cls({task: np.fromiter(found, np.uint64, len(found))}, n_grams)

    @classmethod
    def load(cls, path: Path) -> DecontIndex:
        """An index folder written by ``build_index`` (its ``decont.json`` checked), or a plain folder of
        datatrove ``*.index.hashes`` (12-grams assumed, as datatrove's default)."""
        path = Path(path)
        meta_path = path / META
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else None
        if meta is not None and meta.get("canonical_form") != CANON_VERSION:
            raise DecontError(
                f"{path}: built with canonical form {meta.get('canonical_form')}, this version uses "
                f"{CANON_VERSION}; rebuild it with `hebatron decont-index BENCH... -o {path}`"
            )
        files = sorted(path.glob(f"*{HASHES}"))
        if not files:
            raise DecontError(f"{path}: no *{HASHES} files (build one with `hebatron decont-index BENCH... -o {path}`)")
        tasks = {f.name.removesuffix(HASHES): np.fromfile(f, dtype=np.uint64) for f in files}
        n = meta["n_grams"] if meta else 12
        sources = {t: v.get("sources", []) for t, v in (meta or {}).get("tasks", {}).items()}
        return cls(tasks, n, sources)

    @classmethod
    def merge(cls, indexes: list[DecontIndex]) -> DecontIndex:
        if len({i.n_grams for i in indexes}) > 1:
            raise DecontError(
                f"indexes of different n-gram sizes cannot be used together: {[i.n_grams for i in indexes]}"
            )
        tasks: dict[str, list[np.ndarray]] = defaultdict(list)
        for ix in indexes:
            for i, t in enumerate(ix.tasks):
                tasks[t].append(ix.hashes[ix.owner == i])
        sources = {t: s for ix in indexes for t, s in ix.sources.items()}
        return cls(
            {t: np.unique(np.concatenate(h)) for t, h in tasks.items()}, indexes[0].n_grams if indexes else 12, sources
        )

    def ngrams(self, text: str) -> list[str]:
        return [" ".join(g) for g in ngrams(canonical_words(text), self.n_grams)]

    def matches(self, text: str) -> dict[str, str]:
        """task -> the first n-gram of TEXT found in that task (empty when TEXT overlaps none)."""
        if not len(self.hashes):
            return {}
        grams = self.ngrams(text)
        if not grams:
            return {}
        h = np.fromiter(map(self.hash_func, grams), np.uint64, len(grams))
        at = np.searchsorted(self.hashes, h).clip(max=len(self.hashes) - 1)
        hit = np.flatnonzero(self.hashes[at] == h)
        found: dict[str, str] = {}
        for j in hit:
            # equal hashes sit together: every task holding this n-gram
            k = at[j]
            while k < len(self.hashes) and self.hashes[k] == h[j]:
                found.setdefault(self.tasks[self.owner[k]], grams[j])
                k += 1
        return found


def open_indexes(specs: Iterable[Path | str], *, n_grams: int = 12) -> DecontIndex | None:
    """INDEX_OR_BENCH...: each an index folder or a benchmark JSONL file (indexed in memory); None for none."""
    specs = [Path(s) for s in specs]
    if not specs:
        return None
    folders = [DecontIndex.load(p) for p in specs if p.is_dir()]
    files = [p for p in specs if not p.is_dir()]
    for p in files:
        if not p.is_file():
            raise DecontError(f"{p}: neither a decontamination index folder nor a benchmark file")
    if files:  # indexed exactly as `hebatron decont-index` would, in a temporary folder
        import tempfile

        with tempfile.TemporaryDirectory(prefix="decont-") as tmp:
            build_index(files, Path(tmp), n_grams=n_grams)
            folders.append(DecontIndex.load(Path(tmp)))
    return DecontIndex.merge(folders)
