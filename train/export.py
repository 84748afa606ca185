"""``hebatron export``: a phase checkpoint as a Hugging Face ``transformers`` model (config.json,
model.safetensors, the run's tokenizer).

Only where a transformers family computes exactly what our Megatron model computes:

- MoE, SwiGLU experts, softmax router over the top-k (renormalized), RoPE, RMSNorm, GQA, every layer MoE,
  no shared expert → ``MixtralForCausalLM``;
- dense SwiGLU, RoPE, RMSNorm, GQA → ``LlamaForCausalLM``.

Everything else is refused with one line naming why (``ExportRefused``): in particular squared-ReLU experts
(tiny-moe, moe-100m) — the only transformers family with non-gated squared-ReLU experts, NemotronH, has no
rotary embeddings in its attention — and hybrid Mamba recipes, whose Megatron layers cannot be built on CPU
to read the checkpoint. The ``tiny-moe-swiglu`` recipe is tiny-moe with SwiGLU experts: it exports.

The checkpoint is read into the Megatron model the trainer builds (one CPU process; dist_checkpointing
reshards any parallel layout), mapped tensor by tensor, and the written model is loaded back and run beside
the Megatron model on a sample batch: the export fails unless their logits agree (max abs diff ≤ 1e-3, fp32).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import torch

from common.errors import HebatronError
from common.files import file_sha256
from train import checkpoint
from train.config import ModelConfig, TrainConfig

__all__ = ["ExportRefused", "hf_family", "export", "load_megatron", "megatron_logits", "TOLERANCE"]

#: Largest |logit difference| accepted between the exported model and the Megatron model (fp32, CPU).
TOLERANCE = 1e-3


class ExportRefused(HebatronError, ValueError):
    """The checkpoint cannot be exported as an exactly equivalent transformers model (or is not there)."""


def hf_family(model: ModelConfig) -> str:
    """``mixtral`` or ``llama``: the transformers family whose math is ours; ``ExportRefused`` naming why not."""
    if model.is_hybrid:
        raise ExportRefused(
            "a hybrid Mamba recipe cannot be exported: Megatron's Mamba-2 layers need CUDA and Triton kernels, "
            "so the checkpoint cannot be read and checked against a transformers model on CPU"
        )
    if model.activation != "swiglu":
        raise ExportRefused(
            f"activation {model.activation}: no transformers family has non-gated {model.activation} MLPs with "
            "rotary attention (NemotronH's attention has no position embeddings; Mixtral, Llama and Qwen-MoE are "
            "gated SiLU); train a swiglu recipe (tiny-moe-swiglu) to export"
        )
    reasons = {
        "normalization LayerNorm (Mixtral and Llama use RMSNorm)": model.normalization != "RMSNorm",
        "position_embedding none (Mixtral and Llama always apply RoPE)": model.position_embedding != "rope",
    }
    if model.num_experts is not None:
        reasons |= {
            "a shared expert (Mixtral has none; Qwen2-MoE's is gated)": model.moe_shared_expert_size is not None,
            f"moe_layer_freq {model.moe_layer_freq} (Mixtral has no dense layers)": model.moe_layer_freq != 1,
            "a sigmoid router (Mixtral's is softmax)": model.moe_router_score_function != "softmax",
            "moe_router_topk_scaling_factor (Mixtral does not scale)": model.moe_router_topk_scaling_factor is not None,
            "a router expert bias (Mixtral has none)": model.moe_router_enable_expert_bias,
        }
    refused = [why for why, bad in reasons.items() if bad]
    if refused:
        raise ExportRefused(f"cannot export exactly: the model has {'; '.join(refused)}")
    return "mixtral" if model.num_experts is not None else "llama"


def _select(train_dir: Path, phase: int | None) -> checkpoint.Completed:
    """The checkpoint after ``phase`` (default: the last phase trained)."""
    found = []
    for path in sorted((train_dir / "checkpoints").glob("phase-*")):
        if path.is_dir() and (path / checkpoint.MARKER).is_file():
            found.append(checkpoint.Completed(path, json.loads((path / checkpoint.MARKER).read_text("utf-8"))))
    if not found:
        raise ExportRefused(f"{train_dir / 'checkpoints'}: no finished phase checkpoint; run `hebatron train` first")
    if phase is None:
        return max(found, key=lambda c: c.info["slot"])
    chosen = [c for c in found if c.info["phase"] == phase]
    if not chosen:
        have = ", ".join(str(c.info["phase"]) for c in found)
        raise ExportRefused(f"{train_dir}: no checkpoint after phase {phase} (phases checkpointed: {have})")
    return chosen[0]


def _configs(info: dict) -> tuple[ModelConfig, TrainConfig, int]:
    """The model, a one-process fp32 ``TrainConfig`` and the padded vocabulary of a checkpoint's fingerprint."""
    from train.megatron_glue import padded_vocab_size

    fp = info["fingerprint"]
    model = ModelConfig(**fp["model"])
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    trained = TrainConfig(**{k: v for k, v in fp["train"].items() if k in names})
    vocab = padded_vocab_size(int(fp["tokenizer"]["vocab_size"]), model, trained)
    one = dataclasses.replace(
        trained,
        tensor_parallel=1,
        pipeline_parallel=1,
        expert_parallel=1,
        context_parallel=1,
        data_parallel=None,
        precision="fp32",
    )
    one = dataclasses.replace(one, use_distributed_optimizer=False)
    return model, one, vocab


def load_megatron(path: Path, info: dict) -> torch.nn.Module:
    """The Megatron model of a phase checkpoint on CPU in fp32 (needs ``distributed.init_world`` first)."""
    from megatron.core import dist_checkpointing

    from train.megatron_glue import build_model, to_transformer_config

    model, train, vocab = _configs(info)
    net = build_model(model, train, vocab, to_transformer_config(model, train, impl="local"), impl="local")
    state = dist_checkpointing.load({"model": net.sharded_state_dict()}, str(path))
    net.load_state_dict(state["model"])
    return net.eval()


@torch.no_grad()
def megatron_logits(net: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Logits ``[batch, seq, vocab]`` of the Megatron model (causal attention, positions 0..seq-1)."""
    device = next(net.parameters()).device  # the GPU where CUDA is present; the result comes back to the CPU
    tokens = tokens.to(device)
    positions = torch.arange(tokens.shape[1], device=device).expand_as(tokens)
    return net(tokens, positions, None).float().cpu()


def _hf_config(model: ModelConfig, vocab: int, eod: int, family: str):
    from transformers import LlamaConfig, MixtralConfig

    kv = model.kv_channels or model.hidden_size // model.num_attention_heads
    ffn = model.ffn_hidden_size or 4 * model.hidden_size
    common = dict(
        vocab_size=vocab,
        hidden_size=model.hidden_size,
        num_hidden_layers=model.num_layers,
        num_attention_heads=model.num_attention_heads,
        num_key_value_heads=model.num_query_groups or model.num_attention_heads,
        head_dim=kv,
        hidden_act="silu",
        max_position_embeddings=model.seq_length,
        initializer_range=model.init_method_std,
        rms_norm_eps=model.layernorm_epsilon,
        tie_word_embeddings=not model.untie_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": float(model.rotary_base)},
        attention_dropout=0.0,
        bos_token_id=None,
        eos_token_id=eod,
        pad_token_id=None,
    )
    if family == "llama":
        return LlamaConfig(intermediate_size=ffn, attention_bias=False, mlp_bias=False, **common)
    return MixtralConfig(
        intermediate_size=model.moe_ffn_hidden_size or ffn,
        num_local_experts=model.num_experts,
        num_experts_per_tok=model.moe_router_topk,
        router_aux_loss_coef=model.moe_aux_loss_coeff,
        sliding_window=None,
        **common,
    )


def _hf_state(net: torch.nn.Module, model: ModelConfig, family: str) -> dict[str, torch.Tensor]:
    """Megatron's tensors under transformers' names. The fused QKV weight holds, per query group, that
    group's query heads, then its key head, then its value head; fc1 of a gated MLP is [gate; up]."""
    src = {k: v for k, v in net.state_dict().items() if isinstance(v, torch.Tensor) and "_extra_state" not in k}
    heads, kv = model.num_attention_heads, model.kv_channels or model.hidden_size // model.num_attention_heads
    groups = model.num_query_groups or heads
    out = {"model.embed_tokens.weight": src["embedding.word_embeddings.weight"]}
    for i in range(model.num_layers):
        m, h = f"decoder.layers.{i}.", f"model.layers.{i}."
        qkv = src[m + "self_attention.linear_qkv.weight"].view(groups, heads // groups + 2, kv, -1)
        out[h + "self_attn.q_proj.weight"] = qkv[:, : heads // groups].reshape(heads * kv, -1)
        out[h + "self_attn.k_proj.weight"] = qkv[:, -2].reshape(groups * kv, -1)
        out[h + "self_attn.v_proj.weight"] = qkv[:, -1].reshape(groups * kv, -1)
        out[h + "self_attn.o_proj.weight"] = src[m + "self_attention.linear_proj.weight"]
        out[h + "input_layernorm.weight"] = src[m + "input_layernorm.weight"]
        out[h + "post_attention_layernorm.weight"] = src[m + "pre_mlp_layernorm.weight"]
        if family == "llama":
            gate, up = src[m + "mlp.linear_fc1.weight"].chunk(2, dim=0)
            out[h + "mlp.gate_proj.weight"], out[h + "mlp.up_proj.weight"] = gate, up
            out[h + "mlp.down_proj.weight"] = src[m + "mlp.linear_fc2.weight"]
            continue
        experts = [f"{m}mlp.experts.local_experts.{e}." for e in range(model.num_experts)]
        out[h + "mlp.gate.weight"] = src[m + "mlp.router.weight"]
        out[h + "mlp.experts.gate_up_proj"] = torch.stack([src[e + "linear_fc1.weight"] for e in experts])
        out[h + "mlp.experts.down_proj"] = torch.stack([src[e + "linear_fc2.weight"] for e in experts])
    out["model.norm.weight"] = src["decoder.final_layernorm.weight"]
    if model.untie_embeddings:
        out["lm_head.weight"] = src["output_layer.weight"]
    return {k: v.detach().float().contiguous() for k, v in out.items()}


def _tokenizer(run_dir: Path | None, info: dict, out: Path, echo) -> None:
    """The run's tokenizer (``RUN/tokenizer/tokenizer.json``, as the manifest names it) as a transformers fast
    tokenizer, after checking that it is the one the checkpoint was trained with."""
    from transformers import PreTrainedTokenizerFast

    if run_dir is None:
        echo("no run directory recorded in the checkpoint (pass --run RUN): the tokenizer is not exported")
        return
    manifest_path = run_dir / "shards" / "manifest.json"
    tok = json.loads(manifest_path.read_text("utf-8")).get("tokenizer", {})
    if tok.get("kind") != "hf-tokenizers" or not tok.get("path"):
        echo(f"{manifest_path}: the tokenizer is not an HF tokenizer.json; it is not exported")
        return
    path = run_dir / tok["path"]
    want = info["fingerprint"]["tokenizer"].get("sha256")
    if file_sha256(path) != want:
        raise ExportRefused(f"{path}: not the tokenizer this checkpoint was trained with (sha256 differs from {want})")
    fast = PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token=tok.get("eod_token"))
    fast.model_max_length = ModelConfig(**info["fingerprint"]["model"]).seq_length
    fast.save_pretrained(str(out))


def export(train_dir: Path, out: Path, *, phase: int | None = None, run_dir: Path | None = None, echo=print) -> dict:
    """Write the checkpoint after ``phase`` (default: the last) of TRAIN_DIR as a transformers model in OUT.
    Returns ``{"family", "phase", "step", "max_abs_diff", "out"}``; raises ``ExportRefused``."""
    from transformers import AutoModelForCausalLM, LlamaForCausalLM, MixtralForCausalLM

    from train import distributed

    train_dir, out = Path(train_dir).resolve(), Path(out).resolve()
    chosen = _select(train_dir, phase)
    model, train, vocab = _configs(chosen.info)
    family = hf_family(model)
    recorded = run_dir or chosen.info.get("run_dir")
    run_dir = Path(recorded) if recorded else None
    distributed.init_world(train)
    distributed.seed_all(train.seed)  # Megatron's RNG trackers must exist to build the model
    try:
        net = load_megatron(chosen.path, chosen.info)
        config = _hf_config(model, vocab, int(chosen.info["fingerprint"]["tokenizer"]["eod"]), family)
        hf = (MixtralForCausalLM if family == "mixtral" else LlamaForCausalLM)(config)
        hf.load_state_dict(_hf_state(net, model, family), strict=True)
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        hf.save_pretrained(str(tmp), safe_serialization=True)
        _tokenizer(run_dir, chosen.info, tmp, echo)
        sample = torch.Generator().manual_seed(0)
        high = int(chosen.info["fingerprint"]["tokenizer"]["vocab_size"])
        tokens = torch.randint(0, high, (2, model.seq_length), generator=sample)
        reloaded = AutoModelForCausalLM.from_pretrained(str(tmp), dtype=torch.float32).eval()
        with torch.no_grad():
            diff = float((reloaded(tokens).logits.float() - megatron_logits(net, tokens)).abs().max())
    finally:
        distributed.shutdown()
    if not diff <= TOLERANCE:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportRefused(f"{out}: the exported model's logits differ from Megatron's by {diff:.3g} (> {TOLERANCE})")
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return {
        "family": type(hf).__name__,
        "phase": chosen.info["phase"],
        "step": chosen.info["step"],
        "max_abs_diff": diff,
        "out": str(out),
    }
