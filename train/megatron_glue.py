"""The one place where our configs meet Megatron-core: ``to_transformer_config`` and the model builders.

Models are assembled from Megatron's layer specs — the local spec (pure PyTorch) on CPU, the Transformer
Engine spec when CUDA and TE are present — and from Megatron's ``MambaModel`` stack for hybrid patterns.
Nothing of Megatron is forked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from common.errors import HebatronError
from train.config import ModelConfig, TrainConfig

if TYPE_CHECKING:
    from megatron.core.transformer.transformer_config import TransformerConfig

__all__ = [
    "to_transformer_config",
    "backend",
    "build_model",
    "padded_vocab_size",
    "describe_kernels",
    "kernel_settings",
    "te_kernels",
    "HybridModelUnavailable",
]

Backend = Literal["local", "te"]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class HybridModelUnavailable(HebatronError, RuntimeError):
    """A hybrid (Mamba) recipe cannot be built here."""


def backend(choice: str = "auto") -> Backend:
    """The layer spec ``train.layer_spec`` asks for: ``auto`` is ``te`` when CUDA and Transformer Engine are
    both present, else ``local`` (pure PyTorch modules); ``te`` where TE cannot run is one clear error."""
    if choice == "local":
        return "local"
    reason = None
    if not torch.cuda.is_available():
        reason = "CUDA is not available"
    else:
        try:
            import transformer_engine  # noqa: F401
        except ImportError as e:
            reason = f"transformer_engine does not import ({e}); pip install the gpu extra"
    if reason is None:
        return "te"
    if choice == "te":
        raise ValueError(f"train.layer_spec is te, but {reason}")
    return "local"


def to_transformer_config(model: ModelConfig, train: TrainConfig, *, impl: Backend | None = None) -> TransformerConfig:
    """Our ``ModelConfig`` + ``TrainConfig`` as Megatron's ``TransformerConfig`` — every field, explicitly."""
    from megatron.core.activations import squared_relu
    from megatron.core.transformer.transformer_config import TransformerConfig

    impl = impl or backend(train.layer_spec)
    _check_parallel(model, train, impl)
    activation_func, gated = {
        "squared-relu": (squared_relu, False),
        "swiglu": (F.silu, True),
        "gelu": (F.gelu, False),
    }[model.activation]
    ffn_hidden_size = model.ffn_hidden_size or 4 * model.hidden_size
    moe = model.num_experts is not None
    # Megatron requires sequence parallelism for MoE under tensor parallelism; it is a free win otherwise.
    sequence_parallel = train.tensor_parallel > 1
    dtype = _DTYPES[train.precision]
    moe_layer_freq = model.moe_layer_freq if not model.is_hybrid else 1
    return TransformerConfig(
        # shape
        num_layers=model.num_layers,
        hidden_size=model.hidden_size,
        num_attention_heads=model.num_attention_heads,
        num_query_groups=model.num_query_groups,
        kv_channels=model.kv_channels,
        ffn_hidden_size=ffn_hidden_size,
        activation_func=activation_func,
        gated_linear_unit=gated,
        normalization=model.normalization,
        layernorm_epsilon=model.layernorm_epsilon,
        add_bias_linear=False,  # Megatron's SequentialMLP experts fail with biases (and modern LMs drop them)
        hidden_dropout=model.hidden_dropout,
        attention_dropout=model.attention_dropout,
        init_method_std=model.init_method_std,
        # mixture of experts
        num_moe_experts=model.num_experts,
        moe_router_topk=model.moe_router_topk,
        moe_ffn_hidden_size=(model.moe_ffn_hidden_size or ffn_hidden_size) if moe else None,
        moe_shared_expert_intermediate_size=model.moe_shared_expert_size if moe else None,
        moe_layer_freq=moe_layer_freq,
        moe_aux_loss_coeff=model.moe_aux_loss_coeff if model.moe_load_balancing != "none" else 0.0,
        moe_z_loss_coeff=model.moe_z_loss_coeff,
        moe_router_load_balancing_type=model.moe_load_balancing,
        moe_router_score_function=model.moe_router_score_function,
        moe_router_topk_scaling_factor=model.moe_router_topk_scaling_factor,
        moe_router_enable_expert_bias=model.moe_router_enable_expert_bias,
        moe_router_dtype="fp32",
        moe_token_dispatcher_type=model.moe_token_dispatcher,
        # hybrid (Mamba-2) layers; Megatron's defaults unless set
        mamba_state_dim=model.mamba_state_dim,
        mamba_head_dim=model.mamba_head_dim,
        mamba_num_groups=model.mamba_num_groups,
        mamba_num_heads=model.mamba_num_heads,
        # parallelism
        tensor_model_parallel_size=train.tensor_parallel,
        pipeline_model_parallel_size=train.pipeline_parallel,
        expert_model_parallel_size=train.expert_parallel,
        sequence_parallel=sequence_parallel,
        # precision
        bf16=train.precision == "bf16",
        fp16=train.precision == "fp16",
        params_dtype=dtype,
        pipeline_dtype=dtype,
        autocast_dtype=dtype,
        context_parallel_size=train.context_parallel,
        # activation recompute
        **_recompute(model, train, impl),
        # kernels: fused on the TE spec where the installed TE has them, the unfused paths on the local spec
        **kernel_settings(model, impl),
        attention_backend=_attention_backend(train, impl),
    )


def te_kernels() -> dict[str, bool]:
    """The fused kernels Megatron found at import in the installed Transformer Engine (and Apex): its own
    availability checks, read back. All False without TE."""
    from megatron.core.tensor_parallel import layers

    try:
        from megatron.core.extensions import transformer_engine as te_ext
    except ImportError:
        te_ext = None

    def have(*names: str) -> bool:
        return te_ext is not None and all(getattr(te_ext, n, None) is not None for n in names)

    return {
        "rope": have("fused_apply_rotary_pos_emb"),
        "permute": have(
            "fused_permute",
            "fused_permute_with_probs",
            "fused_sort_chunks_by_index",
            "fused_sort_chunks_by_index_with_probs",
            "fused_unpermute",
        ),
        "router": have("fused_topk_with_score_function", "fused_compute_score_for_moe_aux_loss"),
        # the output layer is Megatron's own ColumnParallelLinear: its fused weight-gradient GEMM is Apex's
        "wgrad": bool(getattr(layers, "_grad_accum_fusion_available", False)),
    }


def kernel_settings(model: ModelConfig, impl: Backend, available: dict[str, bool] | None = None) -> dict:
    """TransformerConfig's kernel switches: on the TE spec every fusion that applies to the model and that
    the installed TE provides (``available``, default ``te_kernels()``); all off on the local spec."""
    if impl != "te":
        return dict(
            moe_grouped_gemm=False,
            apply_rope_fusion=False,
            gradient_accumulation_fusion=False,
            bias_activation_fusion=False,
            bias_dropout_fusion=False,
            masked_softmax_fusion=False,
            persist_layer_norm=False,
            moe_permute_fusion=False,
            moe_router_fusion=False,
        )
    have = te_kernels() if available is None else available
    moe = model.num_experts is not None
    return dict(
        moe_grouped_gemm=moe,  # TEGroupedMLP: one grouped GEMM over all local experts
        apply_rope_fusion=model.position_embedding == "rope" and have["rope"],
        gradient_accumulation_fusion=have["wgrad"],  # weight gradients accumulated into main_grad in the GEMM
        # Megatron fuses bias + SwiGLU/GeGLU (not squared ReLU) and bias + dropout + residual add (jit)
        bias_activation_fusion=model.activation == "swiglu",
        bias_dropout_fusion=True,
        # fused softmax and persistent LayerNorm are kernels of the local modules; TE's attention and norms
        # bring their own
        masked_softmax_fusion=False,
        persist_layer_norm=False,
        moe_permute_fusion=moe and have["permute"],
        moe_router_fusion=moe and have["router"],
    )


def _attention_backend(train: TrainConfig, impl: Backend):
    from megatron.core.transformer.enums import AttnBackend

    return AttnBackend[train.attention_backend] if impl == "te" else AttnBackend.local


def _recompute(model: ModelConfig, train: TrainConfig, impl: Backend) -> dict:
    granularity = train.recompute_granularity
    if granularity == "full":
        per_stage = model.num_layers // train.pipeline_parallel
        if train.recompute_num_layers > per_stage:
            raise ValueError(
                f"train.recompute_num_layers ({train.recompute_num_layers}) exceeds the layers of a pipeline "
                f"stage ({model.num_layers} / pipeline_parallel {train.pipeline_parallel} = {per_stage})"
            )
        return dict(
            recompute_granularity="full",
            recompute_method=train.recompute_method,
            recompute_num_layers=train.recompute_num_layers,
        )
    if granularity == "selective":
        modules = list(train.recompute_modules)
        if "moe_act" in modules and not (impl == "te" and model.num_experts is not None):
            raise ValueError(
                "train.recompute_modules: moe_act recomputes grouped-GEMM experts, which only the Transformer "
                "Engine spec of a MoE model has (CUDA + transformer_engine); use moe or mlp instead"
            )
        return dict(recompute_granularity="selective", recompute_modules=modules)
    return dict(recompute_granularity=None)


def _check_parallel(model: ModelConfig, train: TrainConfig, impl: Backend) -> None:
    cp = train.context_parallel
    if cp == 1:
        return
    if impl != "te":
        raise ValueError(
            f"train.context_parallel is {cp}: context parallelism needs the Transformer Engine layer spec "
            "(CUDA + transformer_engine); Megatron's local attention runs whole sequences only"
        )
    if model.seq_length % (2 * cp):
        raise ValueError(
            f"model.seq_length ({model.seq_length}) must be a multiple of 2 x train.context_parallel ({2 * cp}): "
            "each context-parallel rank takes two chunks of every sequence"
        )


def padded_vocab_size(vocab_size: int, model: ModelConfig, train: TrainConfig) -> int:
    """The tokenizer's vocabulary padded as Megatron does (a multiple of divisor × tensor-parallel size)."""
    multiple = model.make_vocab_size_divisible_by * train.tensor_parallel
    return -(-vocab_size // multiple) * multiple


def _layer_spec(model: ModelConfig, impl: Backend):
    from megatron.core.models.gpt.gpt_layer_specs import (
        get_gpt_layer_local_spec,
        get_gpt_layer_with_transformer_engine_spec,
    )

    if impl == "te":
        return get_gpt_layer_with_transformer_engine_spec(
            num_experts=model.num_experts, moe_grouped_gemm=model.num_experts is not None
        )
    from train import cpu_bridge

    cpu_bridge.fix_missing_te_general_gemm()
    cpu_bridge.allow_sequence_parallel_torch_norm()
    return get_gpt_layer_local_spec(
        num_experts=model.num_experts, moe_grouped_gemm=False, normalization=model.normalization
    )


def check_hybrid_buildable() -> None:
    """A clear error when Megatron's Mamba layers cannot run here (they need CUDA and Triton kernels)."""
    if not torch.cuda.is_available():
        raise HybridModelUnavailable(
            "this recipe is a hybrid Mamba/attention/MoE model (hybrid_layer_pattern): Megatron's Mamba-2 layers "
            "run Triton GPU kernels (mamba_ssm, causal_conv1d) and cannot be built on CPU. Train it on CUDA "
            "GPUs; on CPU use the tiny-moe recipe (the hybrid recipe's config and pattern still validate here)."
        )
    missing = []
    for module in ("triton", "mamba_ssm", "causal_conv1d"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise HybridModelUnavailable(
            f"the hybrid (Mamba) model needs the packages {', '.join(missing)} "
            "(pip install mamba-ssm causal-conv1d on the GPU machine)"
        )


def build_model(
    model: ModelConfig, train: TrainConfig, vocab_size: int, config: TransformerConfig, *, impl: Backend | None = None
) -> torch.nn.Module:
    """This rank's model chunk (pipeline stage) on the current device: a MoE ``GPTModel`` from Megatron's
    layer spec ``impl`` (default ``train.layer_spec``; the one ``config`` was made for), or Megatron's ``MambaModel``
    for a hybrid pattern."""
    from megatron.core import parallel_state

    if model.is_hybrid:
        check_hybrid_buildable()
    pre = parallel_state.is_pipeline_first_stage()
    post = parallel_state.is_pipeline_last_stage()
    common = dict(
        config=config,
        vocab_size=padded_vocab_size(vocab_size, model, train),
        max_sequence_length=model.seq_length,
        pre_process=pre,
        post_process=post,
        share_embeddings_and_output_weights=not model.untie_embeddings,
        position_embedding_type=model.position_embedding,
        rotary_base=model.rotary_base,
    )
    if model.is_hybrid:
        from megatron.core.models.mamba import MambaModel
        from megatron.core.models.mamba.mamba_layer_specs import mamba_stack_spec
        from megatron.core.ssm.mamba_hybrid_layer_allocation import allocate_layers

        allocate_layers(model.num_layers, 0.0, 0.0, override_pattern=model.hybrid_layer_pattern)  # Megatron's check
        net = MambaModel(
            mamba_stack_spec=mamba_stack_spec, hybrid_override_pattern=model.hybrid_layer_pattern, **common
        )
    else:
        from megatron.core.models.gpt import GPTModel

        net = GPTModel(transformer_layer_spec=_layer_spec(model, impl or backend(train.layer_spec)), **common)
    if torch.cuda.is_available():
        net = net.cuda(torch.cuda.current_device())
    return net


def describe_kernels(net: torch.nn.Module) -> str:
    """What the built model runs: the layer spec (local PyTorch or Transformer Engine), the attention module
    and the experts (grouped GEMM, or a loop over experts), read off the modules themselves."""
    names = {type(m).__name__ for m in net.modules()}
    spec = "te" if any(n.startswith("TE") for n in names) else "local"
    attention = sorted(n for n in names if n.endswith("DotProductAttention")) or ["none"]
    experts = [n for n in ("TEGroupedMLP", "GroupedMLP", "SequentialMLP") if n in names]
    kind = {"TEGroupedMLP": "grouped GEMM", "GroupedMLP": "grouped GEMM", "SequentialMLP": "looped experts"}
    moe = f"{experts[0]} ({kind[experts[0]]})" if experts else "dense"
    mamba = " | mamba: MambaMixer" if "MambaMixer" in names else ""
    line = f"layer spec {spec} | attention {', '.join(attention)} | experts {moe}{mamba}"
    config = getattr(net, "config", None)
    if config is None:
        return line
    fused = [label for flag, label in _FUSION_LABELS.items() if getattr(config, flag, False)]
    line += f" | attention backend {config.attention_backend.name} | fused: {', '.join(fused) or 'none'}"
    if config.recompute_granularity == "selective":
        line += f" | recompute selective ({', '.join(config.recompute_modules)})"
    elif config.recompute_granularity == "full":
        line += f" | recompute full ({config.recompute_method}, {config.recompute_num_layers} layer(s))"
    if config.context_parallel_size > 1:
        line += f" | context parallel {config.context_parallel_size}"
    return line


#: TransformerConfig fusion switches, as the start line names them.
_FUSION_LABELS = {
    "apply_rope_fusion": "rope",
    "gradient_accumulation_fusion": "grad-accumulation",
    "bias_activation_fusion": "bias+activation",
    "bias_dropout_fusion": "bias+dropout+add",
    "moe_permute_fusion": "moe permute",
    "moe_router_fusion": "moe router",
}
