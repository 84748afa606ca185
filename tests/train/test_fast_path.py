"""The fast path's settings reach Megatron: kernel fusions on the Transformer Engine spec only, activation
recompute, context parallelism and the attention backend — and what each may not be combined with."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from hebatron.recipes import load_recipe
from tests.train.conftest import ROOT
from train.config import ModelConfig, TrainConfig, config_fingerprint
from train.megatron_glue import kernel_settings, te_kernels, to_transformer_config

MOE = ModelConfig(num_layers=4, hidden_size=32, num_attention_heads=4, seq_length=64, activation="swiglu")
ALL = {"rope": True, "permute": True, "router": True, "wgrad": True}
NONE = dict.fromkeys(ALL, False)
FUSIONS = (
    "apply_rope_fusion",
    "gradient_accumulation_fusion",
    "bias_activation_fusion",
    "bias_dropout_fusion",
    "moe_permute_fusion",
    "moe_router_fusion",
    "moe_grouped_gemm",
)


def test_te_spec_turns_every_available_fusion_on():
    on = kernel_settings(MOE, "te", ALL)
    assert all(on[name] for name in FUSIONS), on
    assert not on["masked_softmax_fusion"] and not on["persist_layer_norm"]  # kernels of the local modules


def test_te_spec_leaves_off_what_the_installed_te_lacks_or_the_model_cannot_use():
    missing = kernel_settings(MOE, "te", NONE)
    assert missing["moe_grouped_gemm"] and missing["bias_dropout_fusion"] and missing["bias_activation_fusion"]
    for name in ("apply_rope_fusion", "gradient_accumulation_fusion", "moe_permute_fusion", "moe_router_fusion"):
        assert not missing[name], name
    squared = kernel_settings(dataclasses.replace(MOE, activation="squared-relu", position_embedding="none"), "te", ALL)
    assert not squared["bias_activation_fusion"] and not squared["apply_rope_fusion"]  # no such fused kernels
    dense = kernel_settings(dataclasses.replace(MOE, num_experts=None), "te", ALL)
    assert not (dense["moe_grouped_gemm"] or dense["moe_permute_fusion"] or dense["moe_router_fusion"])


def test_local_spec_keeps_every_fusion_off():
    assert not any(kernel_settings(MOE, "local", ALL).values())
    config = to_transformer_config(MOE, TrainConfig(attention_backend="flash"), impl="local")
    assert not any(getattr(config, name) for name in FUSIONS)
    assert config.attention_backend.name == "local"


def test_te_config_builds_here_with_the_fusions_this_machine_has():
    config = to_transformer_config(MOE, TrainConfig(attention_backend="flash"), impl="te")
    assert config.attention_backend.name == "flash" and config.moe_grouped_gemm and config.bias_dropout_fusion
    assert config.apply_rope_fusion == te_kernels()["rope"]
    assert config.moe_permute_fusion == te_kernels()["permute"]


@pytest.mark.parametrize("impl", ["local", "te"])
def test_recompute_maps(impl):
    full = TrainConfig(recompute_granularity="full", recompute_method="block", recompute_num_layers=3)
    config = to_transformer_config(MOE, full, impl=impl)
    assert (config.recompute_granularity, config.recompute_method, config.recompute_num_layers) == ("full", "block", 3)
    selective = TrainConfig(recompute_granularity="selective", recompute_modules=("mlp", "moe"))
    config = to_transformer_config(MOE, selective, impl=impl)
    assert config.recompute_granularity == "selective" and config.recompute_modules == ["mlp", "moe"]
    assert config.recompute_method is None and config.recompute_num_layers is None
    assert to_transformer_config(MOE, TrainConfig(), impl=impl).recompute_granularity is None


def test_recompute_refusals():
    with pytest.raises(ValueError, match="recompute_num_layers \\(3\\) exceeds the layers of a pipeline stage"):
        to_transformer_config(
            MOE, TrainConfig(recompute_granularity="full", recompute_num_layers=3, pipeline_parallel=2), impl="local"
        )
    moe_act = TrainConfig(recompute_granularity="selective", recompute_modules=("moe_act",))
    with pytest.raises(ValueError, match="moe_act recomputes grouped-GEMM experts"):
        to_transformer_config(MOE, moe_act, impl="local")
    assert to_transformer_config(MOE, moe_act, impl="te").recompute_modules == ["moe_act"]
    with pytest.raises(ValueError, match="train.recompute_modules must be a list of core_attn"):
        TrainConfig(recompute_modules=("attention",))
    with pytest.raises(ValueError, match="recompute_modules is empty"):
        TrainConfig(recompute_granularity="selective", recompute_modules=())
    with pytest.raises(ValueError, match="recompute_granularity must be one of"):
        TrainConfig(recompute_granularity="layers")
    with pytest.raises(ValueError, match="recompute_num_layers must be a positive integer"):
        TrainConfig(recompute_num_layers=0)


def test_context_parallel_maps_and_its_refusals():
    cp = TrainConfig(context_parallel=2)
    assert to_transformer_config(MOE, cp, impl="te").context_parallel_size == 2
    with pytest.raises(ValueError, match="context parallelism needs the Transformer Engine layer spec"):
        to_transformer_config(MOE, cp, impl="local")
    with pytest.raises(ValueError, match=r"seq_length \(64\) must be a multiple of 2 x train.context_parallel \(6\)"):
        to_transformer_config(MOE, TrainConfig(context_parallel=3), impl="te")
    with pytest.raises(ValueError, match="train.context_parallel must be a positive integer"):
        TrainConfig(context_parallel=0)
    with pytest.raises(ValueError, match="attention_backend must be one of"):
        TrainConfig(attention_backend="sdpa")


def test_fingerprint_keeps_runs_resumable_across_memory_settings():
    tok = {"name": "t", "vocab_size": 10, "eod": 0, "sha256": "x"}
    base = config_fingerprint("r", MOE, TrainConfig(), tok)
    assert "context_parallel" not in base["train"]  # runs checkpointed before the field existed still resume
    same = TrainConfig(
        recompute_granularity="full", recompute_num_layers=2, recompute_modules=("mlp",), attention_backend="fused"
    )
    assert config_fingerprint("r", MOE, same, tok)["sha256"] == base["sha256"]
    assert config_fingerprint("r", MOE, TrainConfig(context_parallel=2), tok)["sha256"] != base["sha256"]


def test_recipe_keys_load():
    recipe = load_recipe("moe-100m")
    assert recipe.train.recompute_granularity is None and recipe.train.context_parallel == 1


#: A tiny local-spec MoE model on CPU: gradients with full and selective recompute equal those without.
RECOMPUTE_GRADS = """
import dataclasses, warnings
warnings.filterwarnings("ignore")
import torch
from train import distributed
from train.config import ModelConfig, TrainConfig
from train.megatron_glue import build_model, to_transformer_config

model = ModelConfig(num_layers=2, hidden_size=32, num_attention_heads=4, num_experts=4, seq_length=16,
                    make_vocab_size_divisible_by=64)
tokens = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))
positions = torch.arange(16).expand_as(tokens)
distributed.init_world(TrainConfig())
grads = []
for train in (TrainConfig(), TrainConfig(recompute_granularity="full", recompute_num_layers=1),
              TrainConfig(recompute_granularity="selective", recompute_modules=("core_attn", "mlp", "moe"))):
    distributed.seed_all(1)
    config = to_transformer_config(model, train, impl="local")
    net = build_model(model, train, 64, config, impl="local")
    net.train()
    calls = []  # core attention runs once, and once more in the backward pass when it is recomputed
    net.decoder.layers[0].self_attention.core_attention.register_forward_hook(lambda *a: calls.append(1))
    net(tokens, positions, None, labels=tokens).sum().backward()
    grads.append(torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None]))
    assert len(calls) == (1 if train.recompute_granularity is None else 2), (train, len(calls))
assert grads[0].abs().sum() > 0
for g in grads[1:]:
    assert g.shape == grads[0].shape and torch.allclose(g, grads[0], atol=1e-6), (g - grads[0]).abs().max()
distributed.shutdown()
print("ok")
"""


def test_recompute_gives_the_same_gradients_on_cpu():
    result = subprocess.run(
        [sys.executable, "-c", RECOMPUTE_GRADS], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-3000:]
    )


def test_layer_spec_choice():
    from train.megatron_glue import backend

    assert backend("local") == "local"
    assert to_transformer_config(MOE, TrainConfig(layer_spec="local")).attention_backend.name == "local"
    with pytest.raises(ValueError, match="layer_spec must be one of"):
        TrainConfig(layer_spec="apex")
    import torch

    if not torch.cuda.is_available():
        assert backend("auto") == "local"
        with pytest.raises(ValueError, match="train.layer_spec is te, but CUDA is not available"):
            to_transformer_config(MOE, TrainConfig(layer_spec="te"))
