"""Process groups: torch.distributed (NCCL on GPU, gloo on CPU) and Megatron's parallel_state.

Under ``torchrun`` the world comes from the environment; a plain ``python`` call is a world of one. The
tensor/pipeline/context/expert sizes of ``TrainConfig`` map one to one onto ``initialize_model_parallel``; the
data-parallel size is what remains of the world (context-parallel ranks read the same samples).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from common.errors import HebatronError
from train.config import TrainConfig

__all__ = ["World", "init_world", "lock_name", "shutdown", "seed_all", "select_device", "DeviceUnavailable"]


class DeviceUnavailable(HebatronError, RuntimeError):
    """``--device cuda`` where CUDA is absent or unusable (or ``--device cpu`` where CUDA cannot be hidden)."""


def select_device(device: str | None) -> None:
    """Make ``device`` the one training uses, or say in one line why it cannot be: ``cuda`` demands a usable
    CUDA device (never a silent fall-back to CPU); ``cpu`` hides the GPUs (``CUDA_VISIBLE_DEVICES=""``, before
    CUDA starts); None keeps the default (CUDA when available). Call before anything touches CUDA."""
    if device is None:
        return
    if device not in ("cpu", "cuda"):
        raise DeviceUnavailable(f"--device must be cpu or cuda, got {device!r}")
    if device == "cpu":
        if torch.cuda.is_initialized():
            raise DeviceUnavailable(
                "--device cpu: CUDA was already started in this process; set CUDA_VISIBLE_DEVICES=''"
            )
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        if torch.cuda.is_available():
            raise DeviceUnavailable("--device cpu: CUDA stays visible to torch; set CUDA_VISIBLE_DEVICES='' instead")
        return
    reason = _cuda_unusable()
    if reason is not None:
        raise DeviceUnavailable(f"--device cuda: {reason}")


def _cuda_unusable() -> str | None:
    """Why CUDA cannot train here, or None."""
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU-only build; install a CUDA build of torch"
    if not torch.cuda.is_available():
        try:
            torch.cuda.init()
        except Exception as e:  # the driver's own reason
            return f"CUDA is not usable: {str(e).splitlines()[0]}"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        return "no CUDA device is visible" + (f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else "")
    try:
        (torch.ones(1, device="cuda") + 1).item()
    except Exception as e:  # e.g. a GPU architecture this torch build has no kernels for
        return f"a CUDA kernel failed to run on {torch.cuda.get_device_name()}: {str(e).splitlines()[0]}"
    return None


@dataclass(frozen=True, slots=True)
class World:
    rank: int
    world_size: int
    data_parallel_rank: int
    data_parallel_size: int
    device: torch.device
    backend: str

    @property
    def is_logger(self) -> bool:
        """The rank that prints and writes files: the last one, which holds the last pipeline stage's loss."""
        return self.rank == self.world_size - 1


def lock_name() -> str:
    """The lock file this process takes in TRAIN_DIR (``common.files.run_lock``); before the process group
    exists, so from the environment. Every rank of a job locks, each its own file: rank 0 takes ``.lock``
    (the one lock a job holds, the file every hebatron command takes), rank r ``.lock.rank-r``. Two jobs
    cannot both hold ``.lock``, and every rank of the second one is refused at once with the same one line,
    instead of waiting in a collective for a rank 0 that has left."""
    rank = int(os.environ.get("RANK", 0))
    return ".lock" if rank == 0 else f".lock.rank-{rank}"


def init_world(train: TrainConfig) -> World:
    """Start torch.distributed and Megatron's model-parallel groups for ``train``'s sizes."""
    from megatron.core import parallel_state

    from train import cpu_bridge

    cuda = torch.cuda.is_available()
    if not cuda:
        cpu_bridge.apply()
    backend = "nccl" if cuda else "gloo"
    if not dist.is_initialized():
        if "WORLD_SIZE" in os.environ and "RANK" in os.environ:
            if cuda:
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
            dist.init_process_group(backend=backend)
        else:
            dist.init_process_group(backend=backend, store=dist.HashStore(), rank=0, world_size=1)
    world_size = dist.get_world_size()
    model_parallel = train.tensor_parallel * train.pipeline_parallel * train.context_parallel
    if world_size % model_parallel:
        raise ValueError(
            f"world size {world_size} is not divisible by tensor_parallel ({train.tensor_parallel}) "
            f"x pipeline_parallel ({train.pipeline_parallel}) x context_parallel ({train.context_parallel})"
        )
    dp = world_size // model_parallel
    if train.data_parallel is not None and train.data_parallel != dp:
        raise ValueError(
            f"train.data_parallel is {train.data_parallel} but world size {world_size} / "
            f"(TP {train.tensor_parallel} x PP {train.pipeline_parallel} x CP {train.context_parallel}) = {dp}"
        )
    if (dp * train.tensor_parallel * train.context_parallel) % train.expert_parallel:
        raise ValueError(
            f"expert_parallel ({train.expert_parallel}) must divide data_parallel x tensor_parallel x "
            f"context_parallel ({dp} x {train.tensor_parallel} x {train.context_parallel}) on {world_size} processes"
        )
    if train.global_batch_size % (train.micro_batch_size * dp):
        raise ValueError(
            f"train.global_batch_size ({train.global_batch_size}) must be a multiple of "
            f"micro_batch_size x data-parallel size ({train.micro_batch_size} x {dp})"
        )
    if parallel_state.model_parallel_is_initialized():
        parallel_state.destroy_model_parallel()
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=train.tensor_parallel,
        pipeline_model_parallel_size=train.pipeline_parallel,
        expert_model_parallel_size=train.expert_parallel,
        context_parallel_size=train.context_parallel,
        expert_tensor_parallel_size=1,
    )
    return World(
        rank=dist.get_rank(),
        world_size=world_size,
        data_parallel_rank=parallel_state.get_data_parallel_rank(),
        data_parallel_size=parallel_state.get_data_parallel_world_size(),
        device=torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu"),
        backend=backend,
    )


def seed_all(seed: int) -> None:
    """Seed every generator Megatron uses (CPU, CUDA and the model/expert/data-parallel RNG streams)."""
    from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed

    torch.manual_seed(seed)
    model_parallel_cuda_manual_seed(seed)


def shutdown() -> None:
    from megatron.core import parallel_state

    if parallel_state.model_parallel_is_initialized():
        parallel_state.destroy_model_parallel()
    if dist.is_initialized():
        dist.destroy_process_group()
