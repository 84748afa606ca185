"""`curate()`: find the inputs, lock the run, hand the stages to an executor, and resume when re-run."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from loguru import logger

from common.errors import HebatronError
from common.files import InputError, RunLocked, expand_files, run_lock, write_json_atomic, write_text_atomic
from common.layout import RunLayout
from curation.config import CurationConfig
from curation.pipeline import Stage, build_stages
from curation.readers import INPUT_SUFFIXES

Executor = Literal["local", "ray", "slurm"]


class CurationError(HebatronError, RuntimeError):
    """A problem the user can fix (bad input paths, a run directory in use or holding another run)."""


@dataclass(kw_only=True, slots=True)
class SlurmOptions:
    partition: str = "cpu"
    time: str = "12:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    venv_path: str | None = None
    dry_run: bool = False
    """Write the sbatch scripts under RUN/.work/logs/<stage>/ without submitting them."""
    sbatch_args: dict[str, str] = field(default_factory=dict)


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
            raise CurationError(f"{layout.root} already holds a curation with other {', '.join(changed)}; "
                                "use a new -o directory (or delete this one) to curate something else")
    else:
        write_json_atomic(plan_file, plan)


# imported once by the forkserver that datatrove's local executor forks its workers from; without this every
# worker of every stage re-imports them (NeMo-Curator alone takes ~2 s to import)
FORKSERVER_PRELOAD = ["curation.pipeline", "datatrove.pipeline.dedup.minhash", "trafilatura", "fasttext"]


def _executors(stages: list[Stage], layout: RunLayout, executor: Executor, workers: int,
               slurm: SlurmOptions | None):
    from curation.logs import route_datatrove_logs

    route_datatrove_logs()
    logs = layout.work / "logs"
    if executor == "local" and workers > 1:
        import multiprocess

        multiprocess.set_forkserver_preload(FORKSERVER_PRELOAD)
    previous = None
    for stage in stages:
        kw = {"tasks": stage.tasks, "logging_dir": str(logs / stage.name), "depends": previous}
        if executor == "local":
            from datatrove.executor import LocalPipelineExecutor

            previous = LocalPipelineExecutor(stage.pipeline, workers=min(workers, stage.tasks), **kw)
        elif executor == "ray":
            from datatrove.executor.ray import RayPipelineExecutor

            previous = RayPipelineExecutor(stage.pipeline, workers=workers, **kw)
        else:
            from datatrove.executor.slurm import SlurmPipelineExecutor

            s = slurm or SlurmOptions()
            previous = SlurmPipelineExecutor(
                stage.pipeline, time=s.time, partition=s.partition, cpus_per_task=s.cpus_per_task,
                mem_per_cpu_gb=s.mem_per_cpu_gb, venv_path=s.venv_path, job_name=f"hebatron-{stage.name}",
                sbatch_args=s.sbatch_args or None, **kw)
    return previous


@contextlib.contextmanager
def _sbatch_dry_run(logs: Path) -> Iterator[list[Path]]:
    """Replaces datatrove's `sbatch` call with writing the script to disk; yields the scripts written."""
    import datatrove.executor.slurm as slurm_mod

    written: list[Path] = []
    original = slurm_mod.launch_slurm_job

    def fake_launch(contents: str, _retriever, *args) -> str:
        path = logs / f"sbatch-{len(written):02d}.slurm"
        path.write_text(f"# sbatch {' '.join(args)}\n{contents}")
        written.append(path)
        return str(1000 + len(written))

    slurm_mod.launch_slurm_job = fake_launch
    try:
        yield written
    finally:
        slurm_mod.launch_slurm_job = original


def curate(inputs: list[Path], run_dir: Path, config: CurationConfig | None = None, *,
           executor: Executor = "local", workers: int = 1, tasks: int | None = None,
           slurm: SlurmOptions | None = None, progress: bool = False) -> dict:
    """Curates INPUTS into RUN/curated and RUN/excluded. Returns the run's stats (or, for a Slurm dry run,
    the sbatch scripts written). Re-running the same call resumes; finished runs are not redone."""
    config = config or CurationConfig()
    files = discover_inputs(inputs)
    run_dir = run_dir.resolve()
    layout = RunLayout(run_dir)
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    rel = [str(f.relative_to(root)) for f in files]
    n_tasks = tasks or len(files)
    plan = {"inputs": [str(f) for f in files], "tasks": n_tasks,
            "config_sha256": hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str)
                                            .encode()).hexdigest()}
    with _locked(run_dir):
        layout.work.mkdir(parents=True, exist_ok=True)
        _check_same_run(layout, plan)
        if (run_dir / "stats.json").exists() and (layout.work / "logs" / "publish" / "completions").exists():
            logger.info(f"{run_dir}: curation already complete")
            return json.loads((run_dir / "stats.json").read_text()) | {"resumed": "already complete"}
        paths_file = layout.work / "inputs.txt"
        write_text_atomic(paths_file, "\n".join(rel) + "\n")
        stages = build_stages(config, layout, str(root), str(paths_file), n_tasks, progress=progress)
        last = _executors(stages, layout, executor, workers, slurm)
        if executor == "slurm" and slurm and slurm.dry_run:
            logs = layout.work / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            with _sbatch_dry_run(logs) as scripts:
                last.run()
            return {"sbatch_scripts": [str(p) for p in scripts]}
        if executor == "ray":
            import ray

            if not ray.is_initialized():
                ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False)
        last.run()
        if executor == "slurm":
            return {"submitted": [s.name for s in stages]}
    return json.loads((run_dir / "stats.json").read_text())
