"""Bridges megatron-core 0.16.1's CUDA assumptions so that the same trainer runs on CPU (gloo).

Applied by ``apply()`` only when ``torch.cuda.is_available()`` is false; on a GPU nothing here is touched
except the two library fixes that do not depend on the device (``fix_missing_te_general_gemm`` and
``allow_sequence_parallel_torch_norm``, used only without Transformer Engine). Each bridge says what in
Megatron needs it. We patch names, never Megatron's code: the model is still built from Megatron's specs.

What is bridged, and why:

1. ``torch.cuda.current_device()`` is passed as ``device=`` in ~90 places (parameters, buffers, the DDP
   grad buffers, the optimizer's scalars) → it returns the CPU device.
2. The CUDA RNG states tracker (named RNG streams for initialisation, dropout and the MoE router, forked
   by ``get_cuda_rng_tracker().fork()``) calls ``torch.cuda.get_rng_state`` → a tracker of CPU generator
   states, seeded the same way by ``model_parallel_cuda_manual_seed``; activation recompute's save and
   restore of the device RNG state is a no-op (the CPU state it saves beside it is the one in use).
3. ``torch.cuda.Stream / Event / stream / current_stream / synchronize``, used by the alltoall token
   dispatcher (device-to-host copies on a side stream) and DDP → no-op stand-ins.
4. Literal ``device="cuda"`` in the FP32 optimizer, ``clip_grads``, the pipeline schedules and DDP, plus
   ``.cuda()`` calls and ``param.type() == 'torch.cuda.FloatTensor'`` checks → a ``TorchFunctionMode`` that
   maps ``cuda`` to ``cpu`` and reports a CPU tensor's type string as its CUDA twin.
   Activation recompute replays the forward inside ``backward()``, where the mode is off → the replay
   re-enters it.
5. 0.16.1 bug without Transformer Engine: the MoE router's gating linear reads ``te_general_gemm``, which
   is only defined when TE imports → ``NameError``. It is defined as ``None`` (the torch path).
6. At expert parallelism > 1 the alltoall dispatcher converts its split sizes to numpy only for CUDA
   tensors; gloo's ``all_to_all_single`` needs plain sizes → CPU tensors are converted too.
7. Tensor parallelism with MoE requires sequence parallelism, which the torch-norm fallback
   (``WrappedTorchNorm``, used without Apex/TE) refuses → the norm is built and its parameters tagged
   ``sequence_parallel`` as Apex's fused norm does, so that their grads are all-reduced across TP ranks.
8. Megatron decorates small functions (router scores, activations, bias-dropout-add) with
   ``torch.compile``; on CPU each new tokens-per-expert count recompiles (up to a second, at random steps)
   and compiling dwarfs a tiny model's step → they run eagerly (dynamo disabled).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = [
    "apply",
    "CpuRNGStatesTracker",
    "CudaToCpuMode",
    "fix_missing_te_general_gemm",
    "allow_sequence_parallel_torch_norm",
]

_CPU = torch.device("cpu")
_APPLIED = False
_MODE: CudaToCpuMode | None = None


def apply() -> bool:
    """Install every bridge (idempotent). Returns False, doing nothing, when CUDA is available."""
    global _APPLIED, _MODE
    if torch.cuda.is_available():
        return False
    if _APPLIED:
        return True
    _patch_current_device()
    _install_cpu_rng_tracker()
    _patch_streams()
    fix_missing_te_general_gemm()
    _patch_split_sizes_to_numpy()
    allow_sequence_parallel_torch_norm()
    _run_compiled_functions_eagerly()
    _MODE = CudaToCpuMode()
    _MODE.__enter__()  # stays active for the life of the process: Megatron code runs all through training
    _recompute_under_mode(_MODE)
    _APPLIED = True
    return True


# 1. current_device -------------------------------------------------------------------------------------


def _patch_current_device() -> None:
    torch.cuda.current_device = lambda: _CPU  # type: ignore[assignment]


# 2. RNG tracker ----------------------------------------------------------------------------------------


def _tracker_base():
    from megatron.core.tensor_parallel.random import CudaRNGStatesTracker

    return CudaRNGStatesTracker


class CpuRNGStatesTracker(_tracker_base()):  # type: ignore[misc]
    """Megatron's named RNG streams kept as CPU generator states; ``fork`` swaps the CPU default generator."""

    def add(self, name: str, seed: int) -> None:
        self._is_initialized = True
        if seed in self.seeds_:
            raise Exception(f"seed {seed} already exists")
        self.seeds_.add(seed)
        if name in self.states_:
            raise Exception(f"rng state {name} already exists")
        generator = torch.Generator()
        generator.manual_seed(seed)
        self.states_[name] = generator.get_state()

    @contextlib.contextmanager
    def fork(self, name: str = "model-parallel-rng"):
        if name not in self.states_:
            raise Exception(f"rng state {name} is not added")
        outer = torch.get_rng_state()
        torch.set_rng_state(self.states_[name])
        try:
            yield
        finally:
            self.states_[name] = torch.get_rng_state()
            torch.set_rng_state(outer)


def _install_cpu_rng_tracker() -> None:
    from megatron.core.tensor_parallel import random as mrandom

    mrandom._CUDA_RNG_STATE_TRACKER = CpuRNGStatesTracker()
    mrandom._CUDA_RNG_STATE_TRACKER_INITIALIZED = True
    # Activation recompute saves and restores "all" RNG states (CPU, device, tracker) around the replayed
    # forward; on CPU the device generator is the CPU one, already saved beside it.
    mrandom._get_cuda_rng_state = lambda *args, **kwargs: torch.empty(0, dtype=torch.uint8)
    mrandom._set_cuda_rng_state = lambda *args, **kwargs: None


# 3. streams and events ---------------------------------------------------------------------------------


class _NoOpEvent:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def record(self, *args: Any, **kwargs: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def wait(self, *args: Any, **kwargs: Any) -> None:
        pass

    def query(self) -> bool:
        return True


class _NoOpStream:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def wait_stream(self, *args: Any) -> None:
        pass

    def wait_event(self, *args: Any) -> None:
        pass

    def record_event(self, event: Any = None) -> _NoOpEvent:
        return event or _NoOpEvent()

    def synchronize(self) -> None:
        pass

    def __eq__(self, other: object) -> bool:  # the dispatcher compares the current and its side stream
        return isinstance(other, _NoOpStream)

    def __hash__(self) -> int:
        return 0


_STREAM = _NoOpStream()


def _patch_streams() -> None:
    torch.cuda.Stream = _NoOpStream  # type: ignore[assignment, misc]
    torch.cuda.Event = _NoOpEvent  # type: ignore[assignment, misc]
    torch.cuda.current_stream = lambda *a, **k: _STREAM  # type: ignore[assignment]
    torch.cuda.default_stream = lambda *a, **k: _STREAM  # type: ignore[assignment]
    torch.cuda.stream = lambda *a, **k: contextlib.nullcontext()  # type: ignore[assignment]
    torch.cuda.synchronize = lambda *a, **k: None  # type: ignore[assignment]
    torch.Tensor.record_stream = lambda self, stream: None  # type: ignore[assignment, method-assign]


# 4. literal "cuda" devices -----------------------------------------------------------------------------


def _is_cuda(device: Any) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    if isinstance(device, str):
        return device.startswith("cuda")
    return False


_CUDA_TYPE = {
    "torch.FloatTensor": "torch.cuda.FloatTensor",
    "torch.HalfTensor": "torch.cuda.HalfTensor",
    "torch.BFloat16Tensor": "torch.cuda.BFloat16Tensor",
}


class CudaToCpuMode(TorchFunctionMode):
    """Rewrites ``device='cuda'`` (any torch function), ``.cuda()`` and ``.to('cuda')`` to the CPU, and
    answers ``tensor.type()`` with the CUDA type string that Megatron's optimizer and clip_grads assert."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.cuda:
            return args[0]
        if func is torch.Tensor.type and len(args) == 1 and not kwargs:
            name = func(*args)
            return _CUDA_TYPE.get(name, name)
        if "device" in kwargs and _is_cuda(kwargs["device"]):
            kwargs = {**kwargs, "device": _CPU}
        if func is torch.Tensor.to and len(args) > 1 and _is_cuda(args[1]):
            args = (args[0], _CPU, *args[2:])
        return func(*args, **kwargs)


def _recompute_under_mode(mode: CudaToCpuMode) -> None:
    """``backward()`` is a torch function, so the mode is off while it runs; activation recompute replays the
    forward inside it, and that forward needs the mode again."""
    from megatron.core.tensor_parallel import random as mrandom

    def with_mode(method):
        def wrapped(*args, **kwargs):
            with mode:
                return method(*args, **kwargs)

        return wrapped

    mrandom.CheckpointFunction.backward = staticmethod(with_mode(mrandom.CheckpointFunction.backward))
    mrandom.CheckpointWithoutOutput._recompute = with_mode(mrandom.CheckpointWithoutOutput._recompute)


# 5. te_general_gemm ------------------------------------------------------------------------------------


def fix_missing_te_general_gemm() -> None:
    """megatron-core 0.16.1 reads ``te_general_gemm`` in the router even when Transformer Engine is absent."""
    from megatron.core.transformer.moe import moe_utils

    if not hasattr(moe_utils, "te_general_gemm"):
        moe_utils.te_general_gemm = None


# 6. alltoall split sizes -------------------------------------------------------------------------------


def _patch_split_sizes_to_numpy() -> None:
    from megatron.core.transformer.moe import token_dispatcher

    original = token_dispatcher.maybe_move_tensor_to_cpu

    def maybe_move_tensor_to_cpu(tensor, as_numpy: bool = False, record_stream: bool = False):
        if as_numpy and torch.is_tensor(tensor) and not tensor.is_cuda:
            return tensor.numpy()
        return original(tensor, as_numpy=as_numpy, record_stream=record_stream)

    token_dispatcher.maybe_move_tensor_to_cpu = maybe_move_tensor_to_cpu


# 7. sequence-parallel torch norm -----------------------------------------------------------------------


def allow_sequence_parallel_torch_norm() -> None:
    """Let ``WrappedTorchNorm`` be built under sequence parallelism, tagging its parameters as Apex does."""
    from megatron.core.transformer.torch_norm import WrappedTorchNorm

    if getattr(WrappedTorchNorm, "_hebatron_sp", False):
        return
    original = WrappedTorchNorm.__new__

    def __new__(cls, config, hidden_size, eps=1e-5, **kwargs):
        if not config.sequence_parallel:
            return original(cls, config, hidden_size, eps, **kwargs)
        config.sequence_parallel = False
        try:
            norm = original(cls, config, hidden_size, eps, **kwargs)
        finally:
            config.sequence_parallel = True
        for param in norm.parameters():
            param.sequence_parallel = True
        return norm

    WrappedTorchNorm.__new__ = staticmethod(__new__)  # type: ignore[method-assign]
    WrappedTorchNorm._hebatron_sp = True


# 8. torch.compile -------------------------------------------------------------------------------------


def _run_compiled_functions_eagerly() -> None:
    import torch._dynamo

    torch._dynamo.config.disable = True
