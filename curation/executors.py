"""Running a list of datatrove stages on the Local, Ray or Slurm executor: one helper for every stage that is
built of datatrove steps (curation, scoring).

A stage is a pipeline and a task count; stages run in order (each ``depends`` on the previous), each with its
logging folder ``LOGS/<stage>/`` holding datatrove's completion markers and stats, so a re-run skips finished
tasks. Light to import: datatrove's executors load only when used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Executor = Literal["local", "ray", "slurm"]
EXECUTORS: tuple[Executor, ...] = ("local", "ray", "slurm")


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    pipeline: list[Any]
    """datatrove PipelineSteps."""
    tasks: int


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


def build_executors(
    stages: Sequence[Stage],
    logs: Path,
    executor: Executor,
    workers: int,
    *,
    slurm: SlurmOptions | None = None,
    preload: Sequence[str] = (),
):
    """The executors of STAGES chained by ``depends``; returns the last (running it runs them all).
    PRELOAD: modules the forkserver imports once for local workers (without it every worker of every stage
    re-imports them); ``curation.pool_worker`` is always among them (workers leave Ctrl-C to the command)."""
    from curation.logs import route_datatrove_logs

    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    route_datatrove_logs()
    if executor == "local" and workers > 1:
        import multiprocess

        multiprocess.set_forkserver_preload([*preload, "curation.pool_worker"])
    previous = None
    for stage in stages:
        kw = {"tasks": stage.tasks, "logging_dir": str(logs / stage.name), "depends": previous}
        if executor == "local":
            from curation.local_executor import LocalExecutor

            previous = LocalExecutor(stage.pipeline, workers=min(workers, stage.tasks), **kw)
        elif executor == "ray":
            from datatrove.executor.ray import RayPipelineExecutor

            previous = RayPipelineExecutor(stage.pipeline, workers=workers, **kw)
        else:
            from datatrove.executor.slurm import SlurmPipelineExecutor

            s = slurm or SlurmOptions()
            previous = SlurmPipelineExecutor(
                stage.pipeline,
                time=s.time,
                partition=s.partition,
                cpus_per_task=s.cpus_per_task,
                mem_per_cpu_gb=s.mem_per_cpu_gb,
                venv_path=s.venv_path,
                job_name=f"hebatron-{stage.name}",
                sbatch_args=s.sbatch_args or None,
                **kw,
            )
    return previous


@contextlib.contextmanager
def ray_session(executor: Executor, workers: int) -> Iterator[None]:
    """Starts a local Ray for the Ray executor unless one is running (``ray.init()`` joins a cluster)."""
    if executor == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False)
    yield


@contextlib.contextmanager
def sbatch_dry_run(logs: Path) -> Iterator[list[Path]]:
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
