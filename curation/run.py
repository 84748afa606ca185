"""`curate()`: find the inputs, lock the run, hand the stages to an executor, and resume when re-run."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from loguru import logger

from common.errors import HebatronError
from common.files import InputError, RunLocked, expand_files, run_lock, write_json_atomic
from common.freshness import record_stage
from common.layout import DamagedFileError, RunLayout, read_json
from curation.config import CurationConfig
from curation.executors import Executor, SlurmOptions, build_executors, ray_session, sbatch_dry_run
from curation.pipeline import build_stages
from curation.readers import INPUT_KINDS, INPUT_SUFFIXES
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


SKIPPED_NAMES = 10  # how many skipped files one warning names


def _warn_other_kinds(folder: Path, others: list[Path]) -> None:
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
            raise CurationError(
                f"{layout.root} already holds a curation with other {', '.join(changed)}; "
                "use a new -o directory (or delete this one) to curate something else"
            )
    else:
        write_json_atomic(plan_file, plan)


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
# worker of every stage re-imports them (NeMo-Curator alone takes ~2 s to import)
FORKSERVER_PRELOAD = ["curation.pipeline", "datatrove.pipeline.dedup.minhash", "trafilatura", "fasttext"]


def curate(
    inputs: list[Path],
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
    the sbatch scripts written). Re-running the same call resumes; finished runs are not redone."""
    config = config or CurationConfig()
    run_dir = run_dir.resolve()
    files = discover_inputs(inputs, run_dir)
    layout = RunLayout(run_dir)
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    rel = [str(f.relative_to(root)) for f in files]
    n_tasks = tasks or len(files)
    plan = {
        "inputs": [str(f) for f in files],
        "tasks": n_tasks,
        "config_sha256": hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str).encode()).hexdigest(),
    }
    with _locked(run_dir):
        layout.work.mkdir(parents=True, exist_ok=True)
        _check_same_run(layout, plan)
        if (run_dir / "stats.json").exists() and (layout.work / "logs" / "publish" / "completions").exists():
            logger.info(f"{run_dir}: curation already complete")
            return _published_stats(layout) | {"resumed": "already complete"}
        paths_file = layout.work / "inputs.json"  # a JSON list: any file name, newlines and spaces included
        write_json_atomic(paths_file, rel)
        stages = build_stages(config, layout, str(root), str(paths_file), n_tasks, progress=progress)
        last = build_executors(stages, layout.work / "logs", executor, workers, slurm=slurm, preload=FORKSERVER_PRELOAD)
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
