"""Phase checkpoints: ``TRAIN_DIR/checkpoints/phase-k/`` with Megatron's ``dist_checkpointing``.

With ``train.save_interval`` N, every N-th step inside a phase also saves ``TRAIN_DIR/checkpoints/step-{n}/``
(the same contents, plus each rank's RNG state in ``rng-rank{r}.pt`` and the step within the phase in the
marker), so an interrupted phase resumes where its last step checkpoint left it, with the same losses as an
uninterrupted run; only the latest one is kept, and a phase checkpoint removes them.

Each holds the model and optimizer as sharded tensors (any rank layout can read them back), the learning
rate scheduler and the step, and ``hebatron.json`` — written last, by one rank, after every rank finished:
its presence marks the checkpoint complete. ``hebatron.json`` carries the configuration fingerprint that a
resumption must match, the curriculum position and the evaluation after the phase.

``dist_checkpointing.save`` starts a helper process with the ``spawn`` method, which re-imports the main
script: the program that trains must keep its entry point under ``if __name__ == "__main__":`` (the
``hebatron`` CLI does, also under ``torchrun -m hebatron``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch.distributed as dist

from common.errors import HebatronError
from common.files import write_json_atomic

__all__ = [
    "CheckpointMismatch",
    "Completed",
    "completed_slots",
    "save_phase",
    "load_phase",
    "save_step",
    "latest_step",
    "remove_steps",
    "rng_state",
    "restore_rng",
    "MARKER",
]

MARKER = "hebatron.json"


class CheckpointMismatch(HebatronError, ValueError):
    """A checkpoint in TRAIN_DIR was written by another recipe or configuration."""


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished phase checkpoint, as recorded in its ``hebatron.json``."""

    path: Path
    info: dict


def phase_dir(train_dir: Path, phase: int) -> Path:
    return train_dir / "checkpoints" / f"phase-{phase}"


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def completed_slots(train_dir: Path, phases: list[int], fingerprint: dict) -> list[Completed]:
    """The finished checkpoints at the start of the curriculum ``phases`` (the longest complete prefix).
    Raises ``CheckpointMismatch`` when any checkpoint in TRAIN_DIR has another fingerprint."""
    for path in sorted((train_dir / "checkpoints").glob("phase-*")):
        info = _read_marker(path)
        if info is not None and info.get("fingerprint", {}).get("sha256") != fingerprint["sha256"]:
            raise CheckpointMismatch(_mismatch_message(path, info.get("fingerprint", {}), fingerprint))
    done = []
    for i, phase in enumerate(phases):
        info = _read_marker(phase_dir(train_dir, phase))
        if info is None or info.get("slot") != i:
            break
        done.append(Completed(phase_dir(train_dir, phase), info))
    return done


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _mismatch_message(path: Path, theirs: dict, ours: dict) -> str:
    a = _flatten({k: v for k, v in theirs.items() if k != "sha256"})
    b = _flatten({k: v for k, v in ours.items() if k != "sha256"})
    diffs = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    shown = "; ".join(diffs[:6]) + (f"; and {len(diffs) - 6} more" if len(diffs) > 6 else "")
    return (
        f"{path} was written by recipe {theirs.get('recipe')!r} with another configuration ({shown}). "
        f"Resume with the same recipe and options, or train into a new -o directory."
    )


#: How a distributed optimizer's state is laid out: one tensor per data-parallel buffer shard, saved and
#: loaded in parallel (the fingerprint pins the parallel layout, so no resharding is needed).
_OPTIMIZER_METADATA = {"distrib_optim_sharding_type": "dp_reshardable"}


def _sharded_state(model, optimizer, scheduler, *, is_loading: bool) -> dict:
    model_state = model.sharded_state_dict()
    return {
        "model": model_state,
        "optimizer": optimizer.sharded_state_dict(model_state, is_loading=is_loading, metadata=_OPTIMIZER_METADATA),
        "scheduler": scheduler.state_dict(),
    }


def save_phase(train_dir: Path, phase: int, model, optimizer, scheduler, info: dict, *, is_writer: bool) -> Path:
    """Save after ``phase`` (collective: every rank calls it). ``model`` is the unwrapped Megatron model."""
    return _save(phase_dir(train_dir, phase), model, optimizer, scheduler, info, is_writer=is_writer)


def step_dir(train_dir: Path, step: int) -> Path:
    return train_dir / "checkpoints" / f"step-{step}"


def save_step(train_dir: Path, step: int, model, optimizer, scheduler, info: dict, *, is_writer: bool) -> Path:
    """Save at global ``step`` inside a phase, with every rank's RNG state (collective); older step
    checkpoints are removed once this one is complete."""
    path = _save(step_dir(train_dir, step), model, optimizer, scheduler, info, is_writer=is_writer, rng=rng_state())
    remove_steps(train_dir, is_writer=is_writer, keep=path)
    return path


def remove_steps(train_dir: Path, *, is_writer: bool, keep: Path | None = None) -> None:
    """Remove the step checkpoints (but ``keep``): a later checkpoint covers them."""
    if is_writer:
        for path in (train_dir / "checkpoints").glob("step-*"):
            if path != keep:
                shutil.rmtree(path, ignore_errors=True)


def latest_step(train_dir: Path, slot: int, after_step: int, fingerprint: dict) -> Completed | None:
    """The latest complete step checkpoint inside curriculum slot ``slot`` past global step ``after_step``
    (None when there is none). Raises ``CheckpointMismatch`` for one with another fingerprint."""
    best = None
    for path in (train_dir / "checkpoints").glob("step-*"):
        info = _read_marker(path)
        if info is None or path.name.endswith(".tmp"):
            continue
        if info.get("fingerprint", {}).get("sha256") != fingerprint["sha256"]:
            raise CheckpointMismatch(_mismatch_message(path, info.get("fingerprint", {}), fingerprint))
        if info.get("slot") == slot and info.get("step", 0) > after_step:
            if best is None or info["step"] > best.info["step"]:
                best = Completed(path, info)
    return best


def rng_state() -> dict:
    """This process's random generators: torch's CPU (and CUDA) states and Megatron's named RNG streams."""
    import torch
    from megatron.core.tensor_parallel import get_cuda_rng_tracker

    state = {"cpu": torch.get_rng_state(), "tracker": get_cuda_rng_tracker().get_states()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(path: Path) -> None:
    """Set this rank's generators to the state saved in the step checkpoint at ``path``."""
    import torch
    from megatron.core.tensor_parallel import get_cuda_rng_tracker

    state = torch.load(path / f"rng-rank{dist.get_rank()}.pt", weights_only=False)
    torch.set_rng_state(state["cpu"])
    get_cuda_rng_tracker().set_states(state["tracker"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


def _save(final: Path, model, optimizer, scheduler, info: dict, *, is_writer: bool, rng: dict | None = None) -> Path:
    import torch
    from megatron.core import dist_checkpointing

    tmp = final.with_name(final.name + ".tmp")
    if is_writer:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    dist.barrier()
    dist_checkpointing.save(_sharded_state(model, optimizer, scheduler, is_loading=False), str(tmp))
    if rng is not None:
        torch.save(rng, tmp / f"rng-rank{dist.get_rank()}.pt")
    dist.barrier()
    if is_writer:
        marker = tmp / MARKER
        write_json_atomic(marker, info)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    dist.barrier()
    return final


def load_phase(path: Path, model, optimizer, scheduler) -> None:
    """Restore model, optimizer and scheduler from a phase (or step) checkpoint (collective)."""
    from megatron.core import dist_checkpointing

    state = dist_checkpointing.load(_sharded_state(model, optimizer, scheduler, is_loading=True), str(path))
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
