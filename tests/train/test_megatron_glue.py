"""``to_transformer_config`` maps every field; models build from Megatron's specs; hybrids refuse CPU."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from hebatron.recipes import load_recipe
from train.config import ModelConfig, TrainConfig
from train.megatron_glue import HybridModelUnavailable, padded_vocab_size, to_transformer_config

# Values unlike the defaults on both sides, so that a field that is not passed on shows.
MODEL = ModelConfig(
    num_layers=3,
    hidden_size=48,
    num_attention_heads=8,
    num_query_groups=4,
    kv_channels=16,
    ffn_hidden_size=96,
    num_experts=6,
    moe_router_topk=3,
    moe_ffn_hidden_size=40,
    moe_shared_expert_size=56,
    moe_layer_freq=1,
    moe_aux_loss_coeff=0.05,
    moe_z_loss_coeff=0.002,
    moe_load_balancing="seq_aux_loss",
    moe_router_score_function="sigmoid",
    moe_router_topk_scaling_factor=2.5,
    moe_router_enable_expert_bias=True,
    moe_token_dispatcher="allgather",
    seq_length=96,
    activation="squared-relu",
    normalization="LayerNorm",
    layernorm_epsilon=1e-6,
    position_embedding="none",
    rotary_base=5000,
    untie_embeddings=False,
    init_method_std=0.014,
    hidden_dropout=0.05,
    attention_dropout=0.07,
    make_vocab_size_divisible_by=32,
    mamba_num_heads=12,
    mamba_head_dim=32,
    mamba_state_dim=64,
    mamba_num_groups=4,
)
TRAIN = TrainConfig(tensor_parallel=2, pipeline_parallel=3, expert_parallel=2, precision="bf16")

#: ModelConfig field -> (TransformerConfig attribute, expected value), or where else it goes.
TRANSFORMER_FIELDS = {
    "num_layers": ("num_layers", 3),
    "hidden_size": ("hidden_size", 48),
    "num_attention_heads": ("num_attention_heads", 8),
    "num_query_groups": ("num_query_groups", 4),
    "kv_channels": ("kv_channels", 16),
    "ffn_hidden_size": ("ffn_hidden_size", 96),
    "num_experts": ("num_moe_experts", 6),
    "moe_router_topk": ("moe_router_topk", 3),
    "moe_ffn_hidden_size": ("moe_ffn_hidden_size", 40),
    "moe_shared_expert_size": ("moe_shared_expert_intermediate_size", 56),
    "moe_layer_freq": ("moe_layer_freq", 1),
    "moe_aux_loss_coeff": ("moe_aux_loss_coeff", 0.05),
    "moe_z_loss_coeff": ("moe_z_loss_coeff", 0.002),
    "moe_load_balancing": ("moe_router_load_balancing_type", "seq_aux_loss"),
    "moe_router_score_function": ("moe_router_score_function", "sigmoid"),
    "moe_router_topk_scaling_factor": ("moe_router_topk_scaling_factor", 2.5),
    "moe_router_enable_expert_bias": ("moe_router_enable_expert_bias", True),
    "moe_token_dispatcher": ("moe_token_dispatcher_type", "allgather"),
    "normalization": ("normalization", "LayerNorm"),
    "layernorm_epsilon": ("layernorm_epsilon", 1e-6),
    "init_method_std": ("init_method_std", 0.014),
    "hidden_dropout": ("hidden_dropout", 0.05),
    "attention_dropout": ("attention_dropout", 0.07),
    "mamba_num_heads": ("mamba_num_heads", 12),
    "mamba_head_dim": ("mamba_head_dim", 32),
    "mamba_state_dim": ("mamba_state_dim", 64),
    "mamba_num_groups": ("mamba_num_groups", 4),
}
#: Fields that the model builder passes to GPTModel / MambaModel, or that shape other fields.
BUILDER_FIELDS = {
    "seq_length",
    "position_embedding",
    "rotary_base",
    "untie_embeddings",
    "make_vocab_size_divisible_by",
    "hybrid_layer_pattern",
    "activation",
}


def test_every_model_field_is_mapped():
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    assert fields == set(TRANSFORMER_FIELDS) | BUILDER_FIELDS, "a ModelConfig field is not mapped (or not tested)"
    config = to_transformer_config(MODEL, TRAIN, impl="local")
    for name, (attr, expected) in TRANSFORMER_FIELDS.items():
        assert getattr(config, attr) == expected, f"{name} -> {attr}"


def test_train_fields_map_to_parallelism_and_precision():
    config = to_transformer_config(MODEL, TRAIN, impl="local")
    assert (
        config.tensor_model_parallel_size,
        config.pipeline_model_parallel_size,
        config.expert_model_parallel_size,
    ) == (2, 3, 2)
    assert config.sequence_parallel  # MoE under tensor parallelism requires it
    assert config.bf16 and not config.fp16 and config.params_dtype == torch.bfloat16
    assert not config.add_bias_linear and not config.moe_grouped_gemm
    single = to_transformer_config(MODEL, TrainConfig(), impl="local")
    assert not single.sequence_parallel and single.params_dtype == torch.float32


@pytest.mark.parametrize(("activation", "func", "gated"), [("swiglu", F.silu, True), ("gelu", F.gelu, False)])
def test_activation_mapping(activation, func, gated):
    config = to_transformer_config(dataclasses.replace(MODEL, activation=activation), TrainConfig(), impl="local")
    assert config.activation_func is func and config.gated_linear_unit is gated


def test_squared_relu_and_defaults():
    from megatron.core.activations import squared_relu

    config = to_transformer_config(MODEL, TrainConfig(), impl="local")
    assert config.activation_func is squared_relu and not config.gated_linear_unit
    dense = to_transformer_config(ModelConfig(num_experts=None, hidden_size=32), TrainConfig(), impl="local")
    assert dense.num_moe_experts is None and dense.ffn_hidden_size == 128
    assert (
        to_transformer_config(
            ModelConfig(moe_ffn_hidden_size=None, ffn_hidden_size=80), TrainConfig(), impl="local"
        ).moe_ffn_hidden_size
        == 80
    )


def test_vocab_padding():
    assert padded_vocab_size(500, ModelConfig(make_vocab_size_divisible_by=64), TrainConfig()) == 512
    assert padded_vocab_size(500, ModelConfig(make_vocab_size_divisible_by=64), TrainConfig(tensor_parallel=2)) == 512
    assert padded_vocab_size(513, ModelConfig(make_vocab_size_divisible_by=64), TrainConfig(tensor_parallel=2)) == 640


def test_nemotron_config_maps_but_cannot_be_built_on_cpu():
    from train.megatron_glue import build_model

    recipe = load_recipe("nemotron3-nano-he")
    config = to_transformer_config(recipe.model, recipe.train, impl="local")
    assert (config.num_layers, config.num_moe_experts, config.moe_router_topk) == (52, 128, 6)
    assert (config.num_query_groups, config.kv_channels, config.mamba_num_heads) == (2, 128, 64)
    if torch.cuda.is_available():
        pytest.skip("CPU-only check")
    with pytest.raises(HybridModelUnavailable, match="Triton GPU kernels.*cannot be built on CPU"):
        build_model(recipe.model, recipe.train, 1000, config)
