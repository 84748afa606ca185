"""ModelConfig / TrainConfig validation, the WSD split, the hybrid pattern and the shipped recipes."""

from __future__ import annotations

import dataclasses

import pytest

from hebatron.recipes import RecipeError, load_recipe
from train.config import ModelConfig, TrainConfig, config_fingerprint, parse_hybrid_pattern

NEMOTRON_PATTERN = "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_size": 30, "num_attention_heads": 4}, "divisible by num_attention_heads"),
        ({"num_attention_heads": 4, "num_query_groups": 3}, "divisible by num_query_groups"),
        ({"num_experts": 4, "moe_router_topk": 5}, "exceeds num_experts"),
        ({"activation": "relu"}, "model.activation must be one of"),
        ({"position_embedding": "alibi"}, "model.position_embedding"),
        ({"num_layers": 0}, "model.num_layers must be a positive integer"),
        ({"hidden_dropout": 1.0}, "below 1"),
        ({"num_layers": 3, "hybrid_layer_pattern": "M*"}, "has 2 symbols but num_layers is 3"),
        ({"num_layers": 2, "hybrid_layer_pattern": "MX"}, "symbol 'X' at position 1"),
        (
            {"num_layers": 2, "hybrid_layer_pattern": "ME", "num_experts": None, "position_embedding": "none"},
            "num_experts is not set",
        ),
    ],
)
def test_model_config_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"global_batch_size": 6, "micro_batch_size": 4}, "multiple of micro_batch_size"),
        ({"warmup_fraction": 0.1, "stable_fraction": 0.1, "decay_fraction": 0.1}, "must be 1"),
        ({"lr": 1e-4, "min_lr": 1e-3}, "at least min_lr"),
        ({"order": "random"}, "train.order must be one of"),
        ({"precision": "fp8"}, "train.precision"),
        ({"steps_per_phase": 0}, "steps_per_phase must be a positive integer"),
        ({"seed": -1}, "train.seed"),
    ],
)
def test_train_config_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_wsd_spans_the_whole_curriculum():
    train = TrainConfig(steps_per_phase=100, warmup_fraction=0.05, stable_fraction=0.75, decay_fraction=0.2)
    assert train.total_steps == 300
    assert train.wsd_steps() == (15, 60)
    tiny = TrainConfig(steps_per_phase=1, warmup_fraction=1.0, stable_fraction=0.0, decay_fraction=0.0)
    assert tiny.wsd_steps()[0] < tiny.total_steps  # Megatron needs warmup < total


def test_hybrid_pattern_parsing_and_counts():
    assert parse_hybrid_pattern("M*E-") == ["M", "*", "E", "-"]
    model = ModelConfig(
        num_layers=52,
        hybrid_layer_pattern=NEMOTRON_PATTERN,
        num_experts=128,
        moe_router_topk=6,
        position_embedding="none",
    )
    assert model.is_hybrid
    assert model.layer_counts() == {"mamba": 23, "attention": 6, "mlp": 0, "moe": 23}
    assert ModelConfig(num_layers=4, moe_layer_freq=2).layer_counts() == {
        "mamba": 0,
        "attention": 4,
        "mlp": 2,
        "moe": 2,
    }


def test_hybrid_pattern_agrees_with_megatron():
    from megatron.core.ssm.mamba_hybrid_layer_allocation import allocate_layers

    assert allocate_layers(52, 0.0, 0.0, override_pattern=NEMOTRON_PATTERN) == parse_hybrid_pattern(NEMOTRON_PATTERN)


def test_nemotron_recipe_states_the_30b_a3b_shape():
    recipe = load_recipe("nemotron3-nano-he")
    m = recipe.model
    assert m.num_layers == 52 == len(m.hybrid_layer_pattern)
    counts = m.layer_counts()
    assert (counts["mamba"], counts["moe"], counts["attention"]) == (23, 23, 6)
    assert (m.hidden_size, m.num_experts, m.moe_router_topk, m.moe_ffn_hidden_size) == (2688, 128, 6, 1856)
    assert m.moe_shared_expert_size is not None
    assert (m.num_attention_heads, m.num_query_groups) == (32, 2)
    assert (m.activation, m.normalization, m.position_embedding) == ("squared-relu", "RMSNorm", "none")


@pytest.mark.parametrize("name", ["tiny-moe", "moe-100m", "nemotron3-nano-he"])
def test_training_recipes_load(name):
    recipe = load_recipe(name)
    assert recipe.name == name
    assert recipe.model.num_experts and recipe.train.steps_per_phase > 0


def test_recipe_rejects_unknown_train_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  stepz_per_phase: 3\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="unknown key 'train.stepz_per_phase'"):
        load_recipe(path)


def test_fingerprint_ignores_log_interval_only():
    tok = {"name": "t", "vocab_size": 100, "eod": 0, "sha256": "x"}
    base = config_fingerprint("r", ModelConfig(), TrainConfig(), tok)["sha256"]
    assert config_fingerprint("r", ModelConfig(), TrainConfig(log_interval=7), tok)["sha256"] == base
    assert config_fingerprint("r", ModelConfig(), TrainConfig(seed=2), tok)["sha256"] != base
    assert config_fingerprint("r", ModelConfig(hidden_size=32), TrainConfig(), tok)["sha256"] != base
    assert config_fingerprint("r", ModelConfig(), TrainConfig(), {**tok, "sha256": "y"})["sha256"] != base
    assert config_fingerprint("r", ModelConfig(), TrainConfig(), tok, "manifest-2")["sha256"] != base
    assert dataclasses.asdict(TrainConfig())["order"] == "forward"
