"""``TRAIN_DIR/metrics.jsonl`` and the one-line-per-log-step console output.

Records: ``{"kind": "train", "step", "phase", "loss", "lr", "grad_norm", "tokens_per_s", "aux_loss"}`` (plus
``z_loss``, and ``mfu``/``memory_gib`` on GPU) every ``log_interval`` steps, and
``{"kind": "eval", "after_phase", "he_loss", "en_loss", "he_acc"}`` after each phase, and before it
``{"kind": "data", "phase", "steps", "tokens_trained", "tokens_available", "epochs"}`` (``train.epochs`` says what
is counted), once per phase. On resumption the file is cut
back to what the checkpoint covers, so a re-run never duplicates records; and a checkpoint counts as done only
when the file holds its records (``logged_checkpoints``), so a record lost to a write cut short is never
missing from a finished run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from common.files import write_text_atomic
from common.layout import read_jsonl
from train.config import ModelConfig

__all__ = ["MetricsLog", "logged_checkpoints", "read_metrics", "flops_per_token", "peak_flops"]

#: Dense bf16 peak FLOP/s by device name fragment (no sparsity), for MFU.
_PEAK_BF16 = {
    "H200": 989e12,
    "H100": 989e12,
    "H800": 989e12,
    "A100": 312e12,
    "A800": 312e12,
    "L40S": 362e12,
    "A10G": 70e12,
    "L4": 121e12,
    "B200": 2250e12,
    "GB200": 2500e12,
}


def read_metrics(path: Path) -> list[dict]:
    """The records of ``metrics.jsonl`` ([] when there is none). A last line cut short (a write interrupted, or
    still under way) is left out; any other line that is not a JSON record is ``DamagedFileError`` naming the
    file and the line."""
    rerun = f"train into a new -o directory, or delete {path} and {path.parent / 'checkpoints'} to train again"
    return read_jsonl(path, rerun=rerun)[0]


def logged_checkpoints(done: list, path: Path, echo: Callable[[str], None] | None = None) -> list:
    """The longest prefix of DONE (finished phase checkpoints, ``checkpoint.Completed``) whose records
    ``metrics.jsonl`` at PATH holds: the eval after the phase and the train record of its last step. A phase
    whose records were lost (a write cut short by a crash, the file truncated or deleted) is trained again from
    the checkpoint before it, as an interrupted phase is; ECHO hears why."""
    records = read_metrics(path)
    evals = {r.get("after_phase") for r in records if r.get("kind") == "eval"}
    steps = {r.get("step") for r in records if r.get("kind") == "train"}
    for i, c in enumerate(done):
        if c.info.get("phase") not in evals or c.info.get("step") not in steps:
            if echo is not None:
                since = f"after phase {done[i - 1].info['phase']}" if i else "the start"
                phase = c.info.get("phase")
                echo(f"{path} lacks the records of phase {phase} (a write cut short?); training again from {since}")
            return done[:i]
    return done


class MetricsLog:
    """Appends records to ``metrics.jsonl`` and prints the log line (only on the logging rank)."""

    def __init__(
        self,
        path: Path,
        *,
        enabled: bool,
        keep_until_step: int,
        keep_phases: set[int],
        echo=print,
        sink: Callable[[dict], None] | None = None,
    ) -> None:
        self.path = path
        self.enabled = enabled
        self.echo = echo
        self.sink = sink
        """Also receives every record written (``train.tensorboard.TensorBoardSink``)."""
        if enabled:
            kept = [
                r
                for r in read_metrics(path)
                if (r.get("kind") == "train" and r.get("step", 0) <= keep_until_step)
                or (r.get("kind") == "eval" and r.get("after_phase") in keep_phases)
                or (r.get("kind") == "data" and r.get("phase") in keep_phases)
            ]
            write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
        self.data_phases = {r.get("phase") for r in kept if r.get("kind") == "data"} if enabled else set()

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        if self.sink is not None:
            self.sink(record)

    def close(self) -> None:
        if self.sink is not None and hasattr(self.sink, "close"):
            self.sink.close()

    def train(
        self,
        *,
        step: int,
        total: int,
        phase: int,
        loss: float,
        lr: float,
        grad_norm: float | None,
        tokens_per_s: float,
        aux_loss: float | None,
        z_loss: float | None,
        mfu: float | None,
        memory_gib: float | None,
    ) -> None:
        record = {
            "kind": "train",
            "step": step,
            "phase": phase,
            "loss": loss,
            "lr": lr,
            "grad_norm": grad_norm,
            "tokens_per_s": tokens_per_s,
            "aux_loss": aux_loss,
        }
        if z_loss is not None:
            record["z_loss"] = z_loss
        if mfu is not None:
            record["mfu"] = mfu
        if memory_gib is not None:
            record["memory_gib"] = memory_gib
        self.write(record)
        if self.enabled:
            parts = [
                f"step {step:>5}/{total}",
                f"phase {phase}",
                f"loss {loss:7.4f}",
                f"lr {lr:.3e}",
                f"grad_norm {_fmt(grad_norm)}",
                f"tok/s {tokens_per_s:>9,.0f}",
                f"aux {_fmt(aux_loss)}",
            ]
            if z_loss is not None:
                parts.append(f"z {z_loss:.4f}")
            if mfu is not None:
                parts.append(f"mfu {100 * mfu:.1f}%")
            if memory_gib is not None:
                parts.append(f"mem {memory_gib:.1f} GiB")
            self.echo(" | ".join(parts))

    def data(self, record: dict) -> None:
        """A phase's ``data`` record (``train.epochs.data_record``), written once: a phase whose record the
        file already holds is skipped."""
        if record["phase"] in self.data_phases:
            return
        self.write(record)
        self.data_phases.add(record["phase"])
        if self.enabled:
            epochs = "-" if record["epochs"] is None else f"{record['epochs']:.2f}"
            self.echo(
                f"data of phase {record['phase']} | {record['tokens_trained']:,} tokens trained of "
                f"{record['tokens_available']:,} held | {epochs} epochs"
            )

    def eval(
        self, *, after_phase: int, he_loss: float | None, en_loss: float | None, he_acc: float | None = None
    ) -> None:
        record = {"kind": "eval", "after_phase": after_phase, "he_loss": he_loss, "en_loss": en_loss}
        self.write({**record, "he_acc": he_acc})
        if self.enabled:
            self.echo(
                f"eval after phase {after_phase} | he_loss {_fmt(he_loss)} | en_loss {_fmt(en_loss)} "
                f"| he_acc {_fmt(he_acc)}"
            )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def flops_per_token(model: ModelConfig, padded_vocab_size: int) -> float:
    """Model FLOPs per trained token, counted as Megatron-LM's ``num_floating_point_operations`` counts them
    (so MFU compares with its reports): only the GEMMs, 2 FLOPs per multiply-add, 3 x the forward pass
    (forward, weight gradient, input gradient); activation recompute is not counted.

    Per layer, as multiply-adds per token: attention h(q + 2k) for the projections (q = heads x head dim,
    k = query groups x head dim, so GQA shrinks K and V), q x seq for QK^T and scores x V over the causal
    half of the matrix, q x h for the output projection; a dense MLP f x h x ffn and a MoE layer
    f x h x (top-k x expert ffn + shared expert ffn), f = 3 with a gated linear unit (SwiGLU: two input
    projections) else 2; the router is not counted. Once: the output logits h x padded vocabulary. A Mamba-2
    layer (hybrid patterns) is Megatron's forward estimate 2h(2d + 2 x groups x state + heads) + 7 d x state +
    2 d h with d = 2h (Megatron's fixed expansion, whatever ``mamba_num_heads`` is) and heads
    ``mamba_num_heads`` or d / head dim."""
    h, s = model.hidden_size, model.seq_length
    head_dim = model.kv_channels or h // model.num_attention_heads
    q = model.num_attention_heads * head_dim
    k = (model.num_query_groups or model.num_attention_heads) * head_dim
    gates = 3 if model.activation == "swiglu" else 2
    ffn = model.ffn_hidden_size or 4 * h
    attention = h * (q + 2 * k) + q * s + q * h
    dense = gates * h * ffn
    moe = 0
    if model.num_experts is not None:
        moe = (
            gates
            * h
            * (model.moe_router_topk * (model.moe_ffn_hidden_size or ffn) + (model.moe_shared_expert_size or 0))
        )
    d = 2 * h
    heads = model.mamba_num_heads or d // model.mamba_head_dim
    groups_state = model.mamba_num_groups * model.mamba_state_dim
    mamba_forward = 2 * h * (2 * d + 2 * groups_state + heads) + 7 * d * model.mamba_state_dim + 2 * d * h
    n = model.layer_counts()
    multiply_adds = n["attention"] * attention + n["mlp"] * dense + n["moe"] * moe + h * padded_vocab_size
    return 3.0 * (2 * multiply_adds + n["mamba"] * mamba_forward)


def peak_flops() -> float | None:
    """The GPU's dense bf16 peak FLOP/s, when the device is one we know."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in _PEAK_BF16.items() if k in name), None)
