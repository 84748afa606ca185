"""Typed configuration of the model and of the training run (the ``model:`` and ``train:`` recipe sections).

Pure Python (no torch, no Megatron import), so that recipes load fast and validate anywhere. The one
function that turns these into Megatron's ``TransformerConfig`` is ``train.megatron_glue.to_transformer_config``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from common.layout import ORDERS, PHASES, Order

__all__ = [
    "ModelConfig",
    "TrainConfig",
    "HYBRID_SYMBOLS",
    "LR_SCHEDULES",
    "RECOMPUTE_MODULES",
    "parse_hybrid_pattern",
    "config_fingerprint",
]

#: Megatron's hybrid layer symbols (``megatron.core.ssm.mamba_hybrid_layer_allocation.Symbols``).
HYBRID_SYMBOLS = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}

Activation = Literal["squared-relu", "swiglu", "gelu"]


def parse_hybrid_pattern(pattern: str, num_layers: int | None = None) -> list[str]:
    """One symbol per layer (``M`` Mamba-2, ``*`` attention, ``-`` dense MLP, ``E`` MoE); a clear
    ``ValueError`` for an unknown symbol or a length that is not ``num_layers``."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(
            f"hybrid_layer_pattern must be a non-empty string of {''.join(HYBRID_SYMBOLS)}, got {pattern!r}"
        )
    for i, symbol in enumerate(pattern):
        if symbol not in HYBRID_SYMBOLS:
            raise ValueError(
                f"hybrid_layer_pattern: symbol {symbol!r} at position {i} is not one of "
                + ", ".join(f"{s!r} ({n})" for s, n in HYBRID_SYMBOLS.items())
            )
    if num_layers is not None and len(pattern) != num_layers:
        raise ValueError(f"hybrid_layer_pattern has {len(pattern)} symbols but num_layers is {num_layers}")
    return list(pattern)


def _positive(owner: str, **values: Any) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}")


def _choice(owner: str, name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}.{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


@dataclass(kw_only=True, slots=True)
class ModelConfig:
    """A Megatron-core GPT with MoE layers (or a hybrid Mamba/attention/MoE stack on GPU)."""

    num_layers: int = 2
    """Transformer (or hybrid) layers."""
    hidden_size: int = 64
    """Model width."""
    num_attention_heads: int = 4
    """Query heads."""
    num_query_groups: int | None = None
    """Key/value heads for grouped-query attention; None = one per query head (MHA)."""
    kv_channels: int | None = None
    """Head dimension; None = hidden_size / num_attention_heads."""
    ffn_hidden_size: int | None = None
    """Dense MLP width (dense layers and the default expert width); None = 4 * hidden_size."""
    num_experts: int | None = 4
    """Routed experts per MoE layer; None = a dense model."""
    moe_router_topk: int = 2
    """Experts each token is routed to."""
    moe_ffn_hidden_size: int | None = None
    """Width of one routed expert's FFN; None = ffn_hidden_size."""
    moe_shared_expert_size: int | None = None
    """Width of the shared expert's FFN (every token passes through it); None = no shared expert."""
    moe_layer_freq: int = 1
    """Every k-th transformer layer is MoE, the others dense (ignored with a hybrid pattern: it says)."""
    moe_aux_loss_coeff: float = 1e-2
    """Load-balancing loss coefficient (0 disables it)."""
    moe_z_loss_coeff: float | None = 1e-3
    """Router z-loss coefficient (ST-MoE); None disables it."""
    moe_load_balancing: Literal["aux_loss", "seq_aux_loss", "none"] = "aux_loss"
    """Megatron's load-balancing type: per batch (aux_loss), per sequence (seq_aux_loss) or none."""
    moe_router_score_function: Literal["softmax", "sigmoid"] = "softmax"
    """Router scores: softmax, or sigmoid as in DeepSeek-V3 / Nemotron-3."""
    moe_router_topk_scaling_factor: float | None = None
    """Scale applied to the top-k routing weights (Nemotron-3 Nano: 2.5)."""
    moe_router_enable_expert_bias: bool = False
    """Aux-loss-free balancing: a per-expert bias updated from the token counts."""
    moe_token_dispatcher: Literal["alltoall", "allgather"] = "alltoall"
    """How tokens reach experts on other expert-parallel ranks."""
    seq_length: int = 128
    """Training sequence length (tokens per sample)."""
    activation: Activation = "swiglu"
    """FFN activation: squared-relu (Nemotron), swiglu (gated SiLU) or gelu."""
    normalization: Literal["RMSNorm", "LayerNorm"] = "RMSNorm"
    """Normalization layers."""
    layernorm_epsilon: float = 1e-5
    """Epsilon of the normalization layers."""
    position_embedding: Literal["rope", "none"] = "rope"
    """Rotary position embeddings, or none (Nemotron-3 hybrids: Mamba layers carry position)."""
    rotary_base: int = 10000
    """RoPE base."""
    untie_embeddings: bool = True
    """Separate input embedding and output projection."""
    init_method_std: float = 0.02
    """Std of the normal weight initialisation."""
    hidden_dropout: float = 0.0
    """Dropout after attention/FFN (0 as in modern pretraining)."""
    attention_dropout: float = 0.0
    """Dropout on attention probabilities."""
    make_vocab_size_divisible_by: int = 128
    """The tokenizer's vocabulary is padded to a multiple of this (times the tensor-parallel size)."""
    hybrid_layer_pattern: str | None = None
    """Megatron hybrid pattern, one symbol per layer: M Mamba-2, * attention, - MLP, E MoE (GPU only)."""
    mamba_num_heads: int | None = None
    """Mamba-2 heads (hybrid models); None = Megatron's default."""
    mamba_head_dim: int = 64
    """Mamba-2 head dimension."""
    mamba_state_dim: int = 128
    """Mamba-2 SSM state size."""
    mamba_num_groups: int = 8
    """Mamba-2 groups."""

    def __post_init__(self) -> None:
        _positive(
            "model",
            num_layers=self.num_layers,
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            num_query_groups=self.num_query_groups,
            kv_channels=self.kv_channels,
            ffn_hidden_size=self.ffn_hidden_size,
            num_experts=self.num_experts,
            moe_router_topk=self.moe_router_topk,
            moe_ffn_hidden_size=self.moe_ffn_hidden_size,
            moe_shared_expert_size=self.moe_shared_expert_size,
            moe_layer_freq=self.moe_layer_freq,
            seq_length=self.seq_length,
            rotary_base=self.rotary_base,
            make_vocab_size_divisible_by=self.make_vocab_size_divisible_by,
            mamba_num_heads=self.mamba_num_heads,
            mamba_head_dim=self.mamba_head_dim,
            mamba_state_dim=self.mamba_state_dim,
            mamba_num_groups=self.mamba_num_groups,
        )
        _choice("model", "activation", self.activation, ("squared-relu", "swiglu", "gelu"))
        _choice("model", "normalization", self.normalization, ("RMSNorm", "LayerNorm"))
        _choice("model", "position_embedding", self.position_embedding, ("rope", "none"))
        _choice("model", "moe_load_balancing", self.moe_load_balancing, ("aux_loss", "seq_aux_loss", "none"))
        _choice("model", "moe_router_score_function", self.moe_router_score_function, ("softmax", "sigmoid"))
        _choice("model", "moe_token_dispatcher", self.moe_token_dispatcher, ("alltoall", "allgather"))
        if self.kv_channels is None and self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"model.hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads}), or set kv_channels"
            )
        if self.num_query_groups is not None and self.num_attention_heads % self.num_query_groups:
            raise ValueError(
                f"model.num_attention_heads ({self.num_attention_heads}) must be divisible by "
                f"num_query_groups ({self.num_query_groups})"
            )
        if self.num_experts is not None and self.moe_router_topk > self.num_experts:
            raise ValueError(f"model.moe_router_topk ({self.moe_router_topk}) exceeds num_experts ({self.num_experts})")
        for name in (
            "moe_aux_loss_coeff",
            "moe_z_loss_coeff",
            "hidden_dropout",
            "attention_dropout",
            "init_method_std",
            "layernorm_epsilon",
            "moe_router_topk_scaling_factor",
        ):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"model.{name} must be a non-negative number, got {value!r}")
        for name in ("hidden_dropout", "attention_dropout"):
            if getattr(self, name) >= 1:
                raise ValueError(f"model.{name} must be below 1, got {getattr(self, name)}")
        if self.hybrid_layer_pattern is not None:
            symbols = parse_hybrid_pattern(self.hybrid_layer_pattern, self.num_layers)
            if "E" in symbols and self.num_experts is None:
                raise ValueError("model.hybrid_layer_pattern has MoE layers (E) but num_experts is not set")
            if "*" not in symbols and self.position_embedding != "none":
                raise ValueError("model.position_embedding must be 'none' for a hybrid pattern without attention")

    @property
    def is_hybrid(self) -> bool:
        """A hybrid Mamba/attention/MoE stack (Megatron's MambaModel; GPU only)."""
        return self.hybrid_layer_pattern is not None

    def layer_counts(self) -> dict[str, int]:
        """Layers of each kind: ``{"mamba", "attention", "mlp", "moe"}`` (a plain GPT counts its MoE layers
        by ``moe_layer_freq``; every GPT layer has attention)."""
        if self.hybrid_layer_pattern is not None:
            counts = Counter(parse_hybrid_pattern(self.hybrid_layer_pattern, self.num_layers))
            return {name: counts.get(symbol, 0) for symbol, name in HYBRID_SYMBOLS.items()}
        moe = 0 if self.num_experts is None else sum(1 for i in range(self.num_layers) if i % self.moe_layer_freq == 0)
        return {"mamba": 0, "attention": self.num_layers, "mlp": self.num_layers - moe, "moe": moe}


#: Submodules selective recompute can recompute (``train.recompute_modules``; Megatron's names, less MLA's).
RECOMPUTE_MODULES = ("core_attn", "mlp", "moe", "moe_act", "shared_experts", "layernorm")

#: Learning-rate schedules (``train.lr_schedule``).
LR_SCHEDULES = ("wsd", "wsd-per-phase", "constant")


@dataclass(kw_only=True, slots=True)
class TrainConfig:
    """Batch, schedule (WSD over the whole curriculum), parallelism and curriculum order."""

    micro_batch_size: int = 4
    """Samples per forward/backward on one data-parallel rank."""
    global_batch_size: int = 8
    """Samples per optimizer step over all data-parallel ranks (gradient accumulation fills the rest)."""
    steps_per_phase: int = 20
    """Optimizer steps per curriculum phase (three phases)."""
    lr: float = 1e-3
    """Peak learning rate (the stable part of WSD)."""
    min_lr: float = 1e-4
    """Learning rate at the end of the decay."""
    warmup_fraction: float = 0.05
    """Share of all steps (all phases) spent warming up linearly from 0."""
    stable_fraction: float = 0.75
    """Share of all steps held at the peak learning rate."""
    decay_fraction: float = 0.2
    """Share of all steps decaying to min_lr (the three fractions sum to 1)."""
    decay_style: Literal["linear", "cosine", "exponential", "minus_sqrt"] = "linear"
    """Shape of the WSD decay (Megatron's lr_wsd_decay_style)."""
    weight_decay: float = 0.1
    """AdamW weight decay."""
    adam_beta1: float = 0.9
    """AdamW beta1."""
    adam_beta2: float = 0.95
    """AdamW beta2."""
    adam_eps: float = 1e-8
    """AdamW epsilon."""
    clip_grad: float = 1.0
    """Gradient clipping by global norm (0 disables)."""
    seed: int = 1234
    """Seeds initialisation, dropout and the data order; same seed, same losses on CPU."""
    log_interval: int = 1
    """Steps between log lines and metrics.jsonl records."""
    save_interval: int = 0
    """Also checkpoint every this many steps inside a phase (``checkpoints/step-N``, the latest kept), so an
    interrupted phase resumes from there with the same losses; 0 = at phase ends only."""
    eval_iters: int | Literal["all"] = "all"
    """Global batches of each held-out set (eval/he, eval/en) per evaluation, capped at the set's size;
    ``all``: every sequence of each set once (less the last few that do not fill a micro-batch on every
    data-parallel rank)."""
    eval_seed: int = 0
    """Seeds which held-out sequences are evaluated, and in which order. Independent of ``seed``, so runs of
    every seed and order are scored on the same text (with ``eval_iters: all`` the whole sets, whatever it is)."""
    mcq_items: int = 400
    """Items (sentence pairs) of the held-out Hebrew multiple-choice suite (``train.mcq``) scored per evaluation as
    ``he_acc``; 0 disables it."""
    tensor_parallel: int = 1
    """Tensor-parallel size (Megatron parallel_state); MoE with TP > 1 turns sequence parallelism on."""
    pipeline_parallel: int = 1
    """Pipeline-parallel size."""
    expert_parallel: int = 1
    """Expert-parallel size (experts are split across these ranks)."""
    context_parallel: int = 1
    """Context-parallel size: each sequence is split over this many ranks, whose attention exchanges keys and
    values (Transformer Engine layer spec only; ``model.seq_length`` must be a multiple of 2 x this)."""
    data_parallel: int | None = None
    """Data-parallel size; None = world size / (TP * PP). Given, it must match."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Parameter and compute precision (bf16/fp16 keep fp32 master weights)."""
    use_distributed_optimizer: bool = False
    """Shard optimizer state across data-parallel ranks (ZeRO-1)."""
    recompute_granularity: Literal["selective", "full"] | None = None
    """Activation recompute (memory for compute; the losses do not change): None keeps every activation,
    selective recomputes the submodules of ``recompute_modules`` in the backward pass, full recomputes whole
    layers as ``recompute_method`` says."""
    recompute_method: Literal["uniform", "block"] = "uniform"
    """With full recompute: uniform (the layers in groups of ``recompute_num_layers``, only each group's input
    kept) or block (the first ``recompute_num_layers`` layers of each pipeline stage recomputed, the rest not)."""
    recompute_num_layers: int = 1
    """With full recompute: layers per group (uniform) or layers recomputed per pipeline stage (block)."""
    recompute_modules: tuple[str, ...] = ("core_attn",)
    """With selective recompute, Megatron's submodules to recompute: core_attn, mlp, moe, moe_act (grouped-GEMM
    experts, i.e. the Transformer Engine spec), shared_experts, layernorm."""
    layer_spec: Literal["auto", "local", "te"] = "auto"
    """Megatron layer spec: auto (Transformer Engine when CUDA and TE are present, else local), local (Megatron's
    PyTorch modules, unfused: the reference path) or te (an error where TE cannot run). Megatron saves the model
    weights of both under the same names (``hebatron export`` reads a TE-trained checkpoint with the local spec)."""
    attention_backend: Literal["auto", "flash", "fused", "unfused"] = "auto"
    """Transformer Engine attention kernel: auto (TE picks FlashAttention or cuDNN fused attention), flash,
    fused (cuDNN) or unfused. The local spec always runs Megatron's unfused PyTorch attention."""
    order: Order = "forward"
    """Curriculum order: forward (1→2→3, easy to hard), reversed (3→2→1), shuffled (one blend, no curriculum)."""
    tokens_per_phase: Literal["equal", "proportional"] = "equal"
    """Steps per phase: equal (steps_per_phase each) or proportional (the same total, divided among the phases
    in proportion to the tokens each holds; see ``train.epochs.split_steps``)."""
    max_epochs_warning: float = 4.0
    """Warn when a phase repeats its data more than this many times (epochs = tokens trained / tokens held)."""
    lr_schedule: Literal["wsd", "wsd-per-phase", "constant"] = "wsd"
    """Learning-rate schedule: wsd (one warmup-stable-decay over all phases, so the decay falls on the last
    phase), wsd-per-phase (each phase warms up again and decays over its own steps) or constant (warmup, then
    the peak rate to the end). See ``train.schedule``."""

    anchor_share: Literal["phase", "fixed"] = "phase"
    """English share of each phase: phase (each phase's ``anchor_ratio`` from the manifest, 30/20/10% by
    default, so the order also moves the English share) or fixed (every phase the mean of the manifest's ratios,
    20% by default, drawn from the anchor documents of all phases pooled: the same English in every phase, so
    the order no longer moves it)."""

    def __post_init__(self) -> None:
        _positive(
            "train",
            micro_batch_size=self.micro_batch_size,
            global_batch_size=self.global_batch_size,
            steps_per_phase=self.steps_per_phase,
            log_interval=self.log_interval,
            tensor_parallel=self.tensor_parallel,
            pipeline_parallel=self.pipeline_parallel,
            expert_parallel=self.expert_parallel,
            context_parallel=self.context_parallel,
            data_parallel=self.data_parallel,
            recompute_num_layers=self.recompute_num_layers,
        )
        _choice("train", "recompute_granularity", self.recompute_granularity, (None, "selective", "full"))
        _choice("train", "recompute_method", self.recompute_method, ("uniform", "block"))
        _choice("train", "layer_spec", self.layer_spec, ("auto", "local", "te"))
        _choice("train", "attention_backend", self.attention_backend, ("auto", "flash", "fused", "unfused"))
        modules = self.recompute_modules
        if not isinstance(modules, tuple | list) or not all(m in RECOMPUTE_MODULES for m in modules):
            raise ValueError(
                f"train.recompute_modules must be a list of {', '.join(RECOMPUTE_MODULES)}, got {modules!r}"
            )
        if self.recompute_granularity == "selective" and not modules:
            raise ValueError("train.recompute_modules is empty: selective recompute needs at least one module")
        if self.eval_iters != "all" and (
            isinstance(self.eval_iters, bool) or not isinstance(self.eval_iters, int) or self.eval_iters < 0
        ):
            raise ValueError(f"train.eval_iters must be a non-negative integer or 'all', got {self.eval_iters!r}")
        if isinstance(self.eval_seed, bool) or not isinstance(self.eval_seed, int) or self.eval_seed < 0:
            raise ValueError(f"train.eval_seed must be a non-negative integer, got {self.eval_seed!r}")
        if isinstance(self.mcq_items, bool) or not isinstance(self.mcq_items, int) or self.mcq_items < 0:
            raise ValueError(f"train.mcq_items must be a non-negative integer, got {self.mcq_items!r}")
        if isinstance(self.save_interval, bool) or not isinstance(self.save_interval, int) or self.save_interval < 0:
            raise ValueError(f"train.save_interval must be a non-negative integer, got {self.save_interval!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"train.seed must be a non-negative integer, got {self.seed!r}")
        if self.global_batch_size % self.micro_batch_size:
            raise ValueError(
                f"train.global_batch_size ({self.global_batch_size}) must be a multiple of "
                f"micro_batch_size ({self.micro_batch_size})"
            )
        _choice("train", "order", self.order, ORDERS)
        _choice("train", "tokens_per_phase", self.tokens_per_phase, ("equal", "proportional"))
        _choice("train", "lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("train", "anchor_share", self.anchor_share, ("phase", "fixed"))
        value = self.max_epochs_warning
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"train.max_epochs_warning must be a positive number, got {value!r}")
        _choice("train", "precision", self.precision, ("fp32", "bf16", "fp16"))
        _choice("train", "decay_style", self.decay_style, ("linear", "cosine", "exponential", "minus_sqrt"))
        for name in (
            "lr",
            "min_lr",
            "weight_decay",
            "clip_grad",
            "adam_eps",
            "warmup_fraction",
            "stable_fraction",
            "decay_fraction",
            "adam_beta1",
            "adam_beta2",
        ):
            value = getattr(self, name)
            if not (
                isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
            ):
                raise ValueError(f"train.{name} must be a non-negative number, got {value!r}")
        if self.lr <= 0 or self.min_lr > self.lr:
            raise ValueError(f"train.lr must be positive and at least min_lr, got lr={self.lr}, min_lr={self.min_lr}")
        for name in ("adam_beta1", "adam_beta2", "warmup_fraction", "stable_fraction", "decay_fraction"):
            if getattr(self, name) > 1:
                raise ValueError(f"train.{name} must be within [0, 1], got {getattr(self, name)}")
        total = self.warmup_fraction + self.stable_fraction + self.decay_fraction
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"train: warmup_fraction + stable_fraction + decay_fraction must be 1 (WSD over the "
                f"whole curriculum), got {self.warmup_fraction} + {self.stable_fraction} + "
                f"{self.decay_fraction} = {total:g}"
            )

    @property
    def total_steps(self) -> int:
        """Optimizer steps over the three phases."""
        return len(PHASES) * self.steps_per_phase

    def wsd_steps(self, total: int | None = None) -> tuple[int, int]:
        """(warmup steps, decay steps) of a schedule over ``total`` steps (default ``total_steps``); warmup
        stays below the total."""
        total = self.total_steps if total is None else total
        warmup = min(round(self.warmup_fraction * total), total - 1)
        decay = min(round(self.decay_fraction * total), total - warmup)
        return warmup, decay


#: Fields that may change between a run and its resumption without changing what is computed.
#: Recompute, the layer spec and the attention kernel change memory and speed, not the model or its data.
_NOT_FINGERPRINTED = {
    "log_interval",
    "max_epochs_warning",
    "mcq_items",
    "eval_seed",
    "eval_iters",
    "save_interval",
    "recompute_granularity",
    "recompute_method",
    "recompute_num_layers",
    "recompute_modules",
    "attention_backend",
    "layer_spec",
}

#: Fields added after runs were checkpointed: fingerprinted only when they differ from this value (the
#: behaviour before the field existed), so those runs still resume and any other choice is refused.
_FINGERPRINTED_UNLESS = {
    "tokens_per_phase": "equal",
    "lr_schedule": "wsd",
    "anchor_share": "phase",
    "context_parallel": 1,
}


def config_fingerprint(
    recipe_name: str, model: ModelConfig, train: TrainConfig, tokenizer: dict, data_sha256: str = ""
) -> dict:
    """What a checkpoint must agree with to be resumed: the model, the run's settings, the tokenizer and the
    data (the shard manifest's sha256)."""
    body = {
        "recipe": recipe_name,
        "data": data_sha256,
        "model": dataclasses.asdict(model),
        "train": {
            k: v
            for k, v in dataclasses.asdict(train).items()
            if k not in _NOT_FINGERPRINTED and not (k in _FINGERPRINTED_UNLESS and v == _FINGERPRINTED_UNLESS[k])
        },
        "tokenizer": {k: tokenizer.get(k) for k in ("name", "vocab_size", "eod", "sha256")},
    }
    if train.anchor_share == "fixed":
        # a fixed share draws one English stream for the whole run (train.data.Interleaved); checkpoints of
        # the earlier per-phase draw hold other data and are not resumed
        body["english_stream"] = "run"
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return {"sha256": digest, **body}
