"""`curate()`: find the inputs, lock the run, hand the stages to an executor, and resume when re-run."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from loguru import logger

from common.errors import HebatronError
from common.files import InputError, RunLocked, expand_files, expand_urls, is_url, run_lock, write_json_atomic
from common.freshness import record_stage
from common.layout import DamagedFileError, RunLayout, read_json
from curation.config import CurationConfig
from curation.executors import Executor, SlurmOptions, build_executors, ray_session, sbatch_dry_run
from curation.pipeline import build_stages
from curation.readers import INPUT_KINDS, INPUT_SUFFIXES
from curation.splits import split_inputs
from curation.stats import report_damaged_input, write_stats


class CurationError(HebatronError, RuntimeError):
    """A problem the user can fix (bad input paths, a run directory in use or holding another run)."""


def _inside_a_run(path: Path, top: Path, run_dir: Path | None) -> bool:
    """Whether PATH lies in RUN_DIR or in another hebatron run (a folder with `.work/plan.json`) at or below TOP."""
    for folder in path.parents:
        if folder == run_dir or (folder / ".work" / "plan.json").is_file():
            return True
        if folder == top:
            return False
    return False


def discover_inputs(inputs: list[Path], run_dir: Path | None = None) -> list[Path]:
    """Input files, sorted: the files given plus the known kinds found in the folders given. A folder's files
    that belong to RUN_DIR or to any other run directory in it (its curated Parquet, its work files) are not
    inputs, so a run kept inside its input folder can be resumed. The other files of a folder given (other
    suffixes) are named in one warning line per folder."""
    run_dir = run_dir.resolve() if run_dir is not None else None
    files: set[Path] = set()
    skipped = 0
    for given in inputs:
        others: list[Path] = []
        try:
            found = expand_files([given], INPUT_SUFFIXES, what="input", skipped=others)
        except InputError as e:
            raise CurationError(str(e)) from None
        if not given.is_dir():
            files.update(p.resolve() for p in found)
            continue
        top = given.resolve()
        for p in (p.resolve() for p in found):
            if _inside_a_run(p, top, run_dir):
                skipped += 1
            else:
                files.add(p)
        _warn_other_kinds(given, [p for p in others if not _inside_a_run(p.resolve(), top, run_dir)])
    if not files:
        note = f" ({skipped} files of hebatron runs left out)" if skipped else ""
        raise CurationError(f"no input files ({INPUT_KINDS}) in {', '.join(map(str, inputs))}{note}")
    return sorted(files)


@dataclass(frozen=True, slots=True)
class RemoteInputs:
    """Input objects of one fsspec file system: ROOT (a URL) is their common folder, FILES their paths below it."""

    root: str
    files: list[str]
    versions: dict[str, list]
    """URL -> [size, etag] of each object (what the storage reports), so a re-run notices a changed input."""


_VERSION_KEYS = ("ETag", "etag", "md5Hash", "blob_id", "sha", "mtime", "LastModified")


def _version(info: dict) -> list:
    tag = next((info[k] for k in _VERSION_KEYS if info.get(k) is not None), None)
    return [info.get("size"), str(tag) if tag is not None else None]


def _common_folder(paths: list[str]) -> str:
    """The deepest folder holding all PATHS, by "/"-separated parts (so `https://host/...` keeps its `//`)."""
    common = paths[0].split("/")[:-1]
    for other in (p.split("/")[:-1] for p in paths[1:]):
        n = next((i for i, (a, b) in enumerate(zip(common, other, strict=False)) if a != b), None)
        common = common[: min(len(common), len(other)) if n is None else n]
    return "/".join(common)


def discover_remote(urls: list[str]) -> RemoteInputs:
    """The input objects that URLS name (objects, prefixes, globs; see `common.files.expand_urls`), sorted, all
    on one file system: read through one datatrove DataFolder at their common root."""
    try:
        fs, objects = expand_urls(urls, INPUT_SUFFIXES, what="input")
    except InputError as e:
        raise CurationError(str(e)) from None
    root = _common_folder(list(objects))
    files = [p[len(root) :].removeprefix("/") for p in objects]
    versions = {fs.unstrip_protocol(p): _version(info) for p, info in objects.items()}
    return RemoteInputs(fs.unstrip_protocol(root), files, versions)


SKIPPED_NAMES = 10  # how many skipped files one warning names


#: what `datasets.save_to_disk` writes beside its `.arrow` files: part of the dataset, not a file skipped
SAVE_TO_DISK_FILES = frozenset({"dataset_info.json", "state.json", "dataset_dict.json"})


def _warn_other_kinds(folder: Path, others: list[Path]) -> None:
    others = [p for p in others if not (p.name in SAVE_TO_DISK_FILES and any(p.parent.glob("*.arrow")))]
    if not others:
        return
    names = [str(p.relative_to(folder)) for p in others[:SKIPPED_NAMES]]
    more = f" and {len(others) - len(names)} more" if len(others) > len(names) else ""
    kinds = "file" if len(others) == 1 else "files"
    logger.warning(f"skipped {len(others)} {kinds} of other kinds in {folder}: {', '.join(names)}{more}")


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    try:
        with run_lock(run_dir):
            yield
    except RunLocked as e:
        raise CurationError(str(e)) from None


def _check_same_run(layout: RunLayout, plan: dict) -> None:
    """A run directory holds one curation: re-running it resumes; other inputs or settings are refused."""
    plan_file = layout.work / "plan.json"
    if plan_file.exists():
        previous = json.loads(plan_file.read_text())
        if previous != plan:
            changed = sorted(k for k in plan if previous.get(k) != plan[k])
            was, now = previous.get("input_versions") or {}, plan.get("input_versions") or {}
            edited = [f"{u} changed since: size, etag {was[u]} -> {v}" for u, v in now.items() if was.get(u, v) != v]
            note = f" ({edited[0]})" if edited else ""
            raise CurationError(
                f"{layout.root} already holds a curation with other {', '.join(changed)}{note}; "
                "use a new -o directory (or delete this one) to curate something else"
            )
    else:
        write_json_atomic(plan_file, plan)


def _resumed_parts(layout: RunLayout, plan: dict, tasks: int | None) -> list | None:
    """The input parts of the run started in LAYOUT with the same inputs and settings, unless other TASKS are
    asked for (then the plan check refuses it)."""
    try:
        previous = json.loads((layout.work / "plan.json").read_text())
        parts = json.loads((layout.work / "inputs.json").read_text())
    except (OSError, ValueError):
        return None
    same = all(previous.get(k) == v for k, v in plan.items()) and tasks in (None, previous.get("tasks"))
    return parts if same and isinstance(parts, list) else None


def _published_stats(layout: RunLayout) -> dict:
    """RUN/stats.json; a damaged one is computed again from the published files (and recorded again)."""
    try:
        return read_json(layout.stats, rerun="curate into a new run directory")
    except DamagedFileError as e:
        logger.warning(f"{e}; written again from {layout.curated} and {layout.excluded}")
        stats = write_stats(layout.root)
        record_stage(layout.root, "curate", writes=layout.curate_outputs())
        return stats


# imported once by the forkserver that datatrove's local executor forks its workers from; without this every
# worker of every stage re-imports them (pandas, which pyarrow imports on the first Parquet batch written, took
# ≈ 0.3 s of each worker's first task in every stage)
FORKSERVER_PRELOAD = ["curation.pipeline", "datatrove.pipeline.dedup.minhash", "fasttext", "pyarrow.parquet", "pandas"]


def curate(
    inputs: list[Path | str],
    run_dir: Path,
    config: CurationConfig | None = None,
    *,
    executor: Executor = "local",
    workers: int = 1,
    tasks: int | None = None,
    slurm: SlurmOptions | None = None,
    progress: bool = False,
) -> dict:
    """Curates INPUTS into RUN/curated and RUN/excluded. Returns the run's stats (or, for a Slurm dry run,
    the sbatch scripts written). Re-running the same call resumes; finished runs are not redone. INPUTS are
    local paths or, all on one file system, fsspec URLs (`s3://bucket/prefix/`, `s3://bucket/p/*.jsonl.gz`)."""
    config = config or CurationConfig()
    run_dir = Path(run_dir).resolve()
    layout = RunLayout(run_dir)
    plan: dict = {}
    urls = [str(i) for i in inputs if is_url(i)]
    if urls and len(urls) < len(inputs):
        local = next(i for i in inputs if not is_url(i))
        raise CurationError(f"{local} is local and {urls[0]} is not; curate local and remote inputs separately")
    if urls:
        remote = discover_remote(urls)
        root, rel = remote.root, remote.files
        plan["inputs"] = list(remote.versions)
        plan["input_versions"] = remote.versions
    else:
        files = discover_inputs([Path(i) for i in inputs], run_dir)
        local_root = Path(os.path.commonpath([str(f.parent) for f in files]))
        root, rel = str(local_root), [str(f.relative_to(local_root)) for f in files]
        plan["inputs"] = [str(f) for f in files]
    plan["config_sha256"] = hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str).encode()).hexdigest()
    with _locked(run_dir):
        layout.work.mkdir(parents=True, exist_ok=True)
        # a large local file: several parts, read in parallel (a remote object is read whole); a resumed run
        # keeps the parts it started with, whatever the workers now
        parts = _resumed_parts(layout, plan, tasks)
        if parts is None:
            parts = rel if urls else split_inputs(Path(root), rel, config.reader.split_bytes, tasks or workers)
        plan["tasks"] = tasks or len(parts)
        n_tasks = plan["tasks"]
        _check_same_run(layout, plan)
        if (run_dir / "stats.json").exists() and (layout.work / "logs" / "publish" / "completions").exists():
            logger.info(f"{run_dir}: curation already complete")
            return _published_stats(layout) | {"resumed": "already complete"}
        paths_file = layout.work / "inputs.json"  # a JSON list: any file name, newlines and spaces included
        write_json_atomic(paths_file, parts)
        stages = build_stages(config, layout, root, str(paths_file), n_tasks, progress=progress)
        preload = FORKSERVER_PRELOAD + (["trafilatura"] if config.extract.extractor == "trafilatura" else [])
        last = build_executors(stages, layout.work / "logs", executor, workers, slurm=slurm, preload=preload)
        if executor == "slurm" and slurm and slurm.dry_run:
            logs = layout.work / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            with sbatch_dry_run(logs) as scripts:
                last.run()
            return {"sbatch_scripts": [str(p) for p in scripts]}
        with ray_session(executor, workers):
            last.run()
        if executor == "slurm":
            return {"submitted": [s.name for s in stages]}
        report_damaged_input(run_dir)
    return _published_stats(layout)
