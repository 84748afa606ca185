"""One optimizer step and one evaluation pass, through Megatron's ``get_forward_backward_func``.

The loss is Megatron's per-token cross entropy (``GPTModel(..., labels=...)``) masked and summed per
micro-batch; the schedule divides by the token count and the number of micro-batches, and DDP averages
over data-parallel ranks. MoE auxiliary losses are attached to the activations by Megatron's router and
read back from its tracker for the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import torch
import torch.distributed as dist

from train.data import PhaseData

__all__ = ["micro_batches", "train_step", "evaluate", "moe_losses"]

_KEYS = ("tokens", "labels", "loss_mask", "position_ids")


def _collate(samples: list[dict]) -> dict[str, torch.Tensor]:
    """A batch of samples; an ``attention_mask`` (packed sequences, ``train.sft_data``) comes along when given."""
    keys = (*_KEYS, "attention_mask") if "attention_mask" in samples[0] else _KEYS
    return {k: torch.stack([torch.as_tensor(s[k]) for s in samples]) for k in keys}


def micro_batches(
    slot: PhaseData,
    step_in_phase: int,
    *,
    global_batch: int,
    micro_batch: int,
    dp_rank: int,
    dp_size: int,
    device: torch.device,
) -> Iterator[dict[str, torch.Tensor]]:
    """This data-parallel rank's micro-batches of a step: samples ``offset + step * global_batch + ...``."""
    per_rank = global_batch // dp_size
    start = slot.offset + step_in_phase * global_batch + dp_rank * per_rank
    for first in range(start, start + per_rank, micro_batch):
        batch = _collate([slot.dataset[i] for i in range(first, first + micro_batch)])
        yield {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _loss_func(loss_mask: torch.Tensor, output_tensor: torch.Tensor):
    losses = output_tensor.float().view(-1)
    mask = loss_mask.float().view(-1)
    loss = torch.sum(losses * mask)
    tokens = mask.sum().to(torch.int)
    return loss, tokens, {"lm loss": torch.cat([loss.detach().view(1), tokens.float().view(1)])}


def _forward_step(data_iterator, model):
    from megatron.core.utils import get_batch_on_this_cp_rank

    batch = get_batch_on_this_cp_rank(next(data_iterator))  # this context-parallel rank's chunks (all if CP=1)
    output = model(batch["tokens"], batch["position_ids"], batch.get("attention_mask"), labels=batch["labels"])
    return output, partial(_loss_func, batch["loss_mask"])


def _reduce_lm_loss(losses: list[dict]) -> float | None:
    """Mean token loss over the data- and context-parallel ranks (None off the last pipeline stage)."""
    from megatron.core import parallel_state

    if not parallel_state.is_pipeline_last_stage():
        return None
    total = torch.zeros(2, dtype=torch.float32)
    for item in losses:
        total += item["lm loss"].float().cpu()
    total = total.to(_device())
    dist.all_reduce(total, group=parallel_state.get_data_parallel_group(with_context_parallel=True))
    return float(total[0] / total[1].clamp(min=1))


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def _run(model, batches, num_microbatches: int, seq_length: int, micro_batch: int, forward_only: bool):
    from megatron.core.pipeline_parallel import get_forward_backward_func

    return get_forward_backward_func()(
        forward_step_func=_forward_step,
        data_iterator=batches,
        model=[model],
        num_microbatches=num_microbatches,
        seq_length=seq_length,
        micro_batch_size=micro_batch,
        decoder_seq_length=seq_length,
        forward_only=forward_only,
    )


def train_step(
    model, optimizer, scheduler, batches, *, num_microbatches: int, seq_length: int, micro_batch: int
) -> dict:
    """Forward, backward, optimizer and scheduler step. Returns ``loss`` (None off the last stage),
    ``grad_norm``, ``skipped`` (fp16 overflow) and the learning rate the step used."""
    model.train()
    model.zero_grad_buffer()
    optimizer.zero_grad()
    losses = _run(model, batches, num_microbatches, seq_length, micro_batch, forward_only=False)
    lr = optimizer.param_groups[0]["lr"]
    ok, grad_norm, _ = optimizer.step()
    scheduler.step(increment=1)
    return {
        "loss": _reduce_lm_loss(losses),
        "grad_norm": None if grad_norm is None else float(grad_norm),
        "skipped": not ok,
        "lr": float(lr),
    }


@torch.no_grad()
def evaluate(
    model, dataset, *, samples: int, seq_length: int, micro_batch: int, dp_rank: int, dp_size: int, device: torch.device
) -> float | None:
    """Mean token loss over the first ``samples`` sequences of ``dataset`` (split over data-parallel ranks)."""
    model.eval()
    per_rank = samples // dp_size
    batches = []
    start = dp_rank * per_rank
    for first in range(start, start + per_rank - per_rank % micro_batch, micro_batch):
        batches.append(_collate([dataset[i] for i in range(first, first + micro_batch)]))
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    losses = _run(model, iter(batches), len(batches), seq_length, micro_batch, forward_only=True)
    model.train()
    return _reduce_lm_loss(losses)


def moe_losses(config, num_microbatches: int) -> dict[str, float]:
    """The step's MoE auxiliary losses (load balancing, z-loss), averaged over MoE layers and micro-batches,
    reduced across ranks by Megatron's tracker (a collective: call on every rank), then cleared."""
    if config.num_moe_experts is None:
        return {}
    from megatron.core.transformer.moe.moe_utils import get_moe_layer_wise_logging_tracker, track_moe_metrics

    if not get_moe_layer_wise_logging_tracker():
        return {}
    totals: dict[str, torch.Tensor] = {}
    track_moe_metrics(
        loss_scale=1.0 / num_microbatches,
        iteration=0,
        total_loss_dict=totals,
        num_layers=config.num_layers,
        moe_layer_freq=config.moe_layer_freq,
    )
    return {k: float(v) for k, v in totals.items()}
