"""``flops_per_token`` against numbers worked out by hand from Megatron-LM's FLOP count (causal attention,
GQA, MoE top-k + shared expert, gated linear units, the logits, 3 x forward)."""

from __future__ import annotations

import dataclasses

import pytest

from train.config import ModelConfig
from train.metrics import flops_per_token

# hidden 64, 4 heads of 16, 2 KV groups, seq 128; layer 0 MoE (4 experts, top-2 of width 32 + a shared
# expert of 48), layer 1 dense (ffn 256); SwiGLU; padded vocabulary 512.
SMALL = ModelConfig(
    num_layers=2,
    hidden_size=64,
    num_attention_heads=4,
    num_query_groups=2,
    ffn_hidden_size=256,
    num_experts=4,
    moe_router_topk=2,
    moe_ffn_hidden_size=32,
    moe_shared_expert_size=48,
    moe_layer_freq=2,
    seq_length=128,
    activation="swiglu",
)


def test_small_moe_by_hand():
    # multiply-adds per token:
    # attention, per layer: qkv 64 x (64 + 32 + 32) = 8192; QK^T + AV, causal: 64 x 128 = 8192; out 64 x 64 = 4096
    attention = 2 * (8192 + 8192 + 4096)  # 40,960 over both layers
    dense = 3 * 64 * 256  # 49,152: SwiGLU's two input projections + the output projection
    moe = 3 * 64 * (2 * 32 + 48)  # 21,504: two routed experts + the shared one (router not counted)
    logits = 64 * 512  # 32,768
    assert attention + dense + moe + logits == 144_384
    assert flops_per_token(SMALL, 512) == 6 * 144_384  # 2 FLOPs a multiply-add, 3 x the forward pass


def test_ungated_activation_and_mha():
    model = dataclasses.replace(SMALL, activation="squared-relu", num_query_groups=None)
    attention = 2 * (64 * (64 + 64 + 64) + 64 * 128 + 64 * 64)  # full K and V heads: 45,056
    mlp = 2 * 64 * 256 + 2 * 64 * (2 * 32 + 48)  # two projections each: 32,768 + 14,336
    assert flops_per_token(model, 512) == 6 * (attention + mlp + 64 * 512)


def test_dense_model_and_longer_sequences_cost_more_attention():
    dense = dataclasses.replace(SMALL, num_experts=None)
    assert flops_per_token(dense, 512) == 6 * (2 * 20_480 + 2 * 49_152 + 32_768)
    longer = dataclasses.replace(dense, seq_length=256)
    assert flops_per_token(longer, 512) - flops_per_token(dense, 512) == 6 * 2 * 64 * 128  # q x extra seq, 2 layers


def test_hybrid_mamba_layer():
    model = ModelConfig(
        num_layers=2,
        hidden_size=64,
        num_attention_heads=4,
        num_experts=None,
        ffn_hidden_size=256,
        activation="squared-relu",
        seq_length=128,
        hybrid_layer_pattern="M-",
        position_embedding="none",
        mamba_head_dim=32,
        mamba_state_dim=16,
        mamba_num_groups=2,
    )
    # Mamba-2 forward, d = 2 x 64 = 128, 128 / 32 = 4 heads: in_proj 2 x 64 x (256 + 64 + 4) = 41,472,
    # scan 7 x 128 x 16 = 14,336, out_proj 2 x 128 x 64 = 16,384
    mamba = 41_472 + 14_336 + 16_384
    mlp_and_logits = 2 * (2 * 64 * 256 + 64 * 512)
    assert flops_per_token(model, 512) == pytest.approx(3 * (mamba + mlp_and_logits))


def test_moe_100m_active_flops():
    from hebatron.recipes import load_recipe

    model = load_recipe("moe-100m").model  # squared ReLU, GQA 8 heads / 4 groups of 64, top-2 of 16 + shared
    per_layer = 512 * (512 + 512) + 512 * 1024 + 512 * 512 + 2 * 512 * (2 * 512 + 1024)
    assert flops_per_token(model, 16_384) == 6 * (8 * per_layer + 512 * 16_384)
