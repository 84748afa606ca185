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
from common.files import InputError, RunLocked, expand_files, run_lock, write_json_atomic, write_text_atomic
from common.freshness import record_stage
from common.layout import RunLayout
from curation.config import CurationConfig
from curation.executors import Executor, SlurmOptions, build_executors, ray_session, sbatch_dry_run
from curation.pipeline import build_stages
from curation.readers import INPUT_SUFFIXES


class CurationError(HebatronError, RuntimeError):
    """A problem the user can fix (bad input paths, a run directory in use or holding another run)."""


def discover_inputs(inputs: list[Path]) -> list[Path]:
    """Input files, sorted: the files given plus the known kinds found in the folders given."""
    try:
        files = expand_files(inputs, INPUT_SUFFIXES, what="input")
    except InputError as e:
        raise CurationError(str(e)) from None
    files = sorted({p.resolve() for p in files})
    if not files:
        raise CurationError(f"no input files ({', '.join(INPUT_SUFFIXES)}) in {', '.join(map(str, inputs))}")
    return files


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
    files = discover_inputs(inputs)
    run_dir = run_dir.resolve()
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
            return json.loads((run_dir / "stats.json").read_text()) | {"resumed": "already complete"}
        paths_file = layout.work / "inputs.txt"
        write_text_atomic(paths_file, "\n".join(rel) + "\n")
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
        record_stage(run_dir, "curate", writes=layout.curate_outputs())  # what score and the catalog will read
    return json.loads((run_dir / "stats.json").read_text())
