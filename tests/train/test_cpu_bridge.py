"""The CPU stand-ins for Megatron's CUDA assumptions behave as the code that uses them expects."""

from __future__ import annotations

import numpy as np
import torch

from train import cpu_bridge


def test_cuda_devices_map_to_cpu():
    with cpu_bridge.CudaToCpuMode():
        x = torch.zeros(3, device="cuda")
        y = torch.tensor([1.0], device=torch.device("cuda", 0))
        assert x.device.type == y.device.type == "cpu"
        assert x.cuda() is x and x.to("cuda").device.type == "cpu"
        assert y.type() == "torch.cuda.FloatTensor"  # what Megatron's clip_grads and optimizers assert
        assert y.to(torch.bfloat16).type() == "torch.cuda.BFloat16Tensor"
        assert y.type(torch.float64).dtype == torch.float64  # the converting form is untouched
    assert torch.zeros(1).type() == "torch.FloatTensor"  # outside the mode, nothing changes


def test_rng_tracker_forks_named_streams():
    tracker = cpu_bridge.CpuRNGStatesTracker()
    tracker.add("model-parallel-rng", 7)
    torch.manual_seed(0)
    outer = torch.get_rng_state()
    with tracker.fork("model-parallel-rng"):
        a = torch.rand(4)
    with tracker.fork("model-parallel-rng"):
        b = torch.rand(4)  # the stream continues where it stopped
    assert torch.equal(torch.get_rng_state(), outer)  # the default generator is left as it was
    again = cpu_bridge.CpuRNGStatesTracker()
    again.add("model-parallel-rng", 7)
    with again.fork("model-parallel-rng"):
        assert torch.equal(torch.rand(4), a) and not torch.equal(torch.rand(4), a)
    assert not torch.equal(a, b)


def test_split_sizes_become_numpy():
    cpu_bridge._patch_split_sizes_to_numpy()
    from megatron.core.transformer.moe import token_dispatcher

    sizes = token_dispatcher.maybe_move_tensor_to_cpu(torch.tensor([3, 5]), as_numpy=True)
    assert isinstance(sizes, np.ndarray) and sizes.tolist() == [3, 5]
    kept = torch.tensor([1])
    assert token_dispatcher.maybe_move_tensor_to_cpu(kept) is kept


def test_te_general_gemm_defined_without_transformer_engine():
    cpu_bridge.fix_missing_te_general_gemm()
    from megatron.core.transformer.moe import moe_utils

    assert hasattr(moe_utils, "te_general_gemm")


def test_norm_under_sequence_parallel_is_tagged():
    from megatron.core.transformer.torch_norm import WrappedTorchNorm
    from megatron.core.transformer.transformer_config import TransformerConfig

    cpu_bridge.allow_sequence_parallel_torch_norm()
    config = TransformerConfig(num_layers=1, hidden_size=8, num_attention_heads=2, normalization="RMSNorm")
    config.sequence_parallel = True
    norm = WrappedTorchNorm(config=config, hidden_size=8)
    assert isinstance(norm, torch.nn.RMSNorm) and config.sequence_parallel
    assert all(getattr(p, "sequence_parallel", False) for p in norm.parameters())
