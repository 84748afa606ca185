"""``train_run``: a Megatron-core MoE model trained through the curriculum phases, with a checkpoint and an
evaluation after each.

One learning-rate schedule (WSD: warmup, stable, decay) spans the three phases by default; a phase is then a
change of the data blend only, as in Nemotron-3 (``train.lr_schedule`` also offers a WSD inside each phase and
a constant rate; see ``train.schedule``). Each phase gets ``train.tokens_per_phase`` steps (equal, or in proportion to
its tokens), and its ``data`` record says how many times its data was repeated (``train.epochs``), with a
warning above ``train.max_epochs_warning``. Re-running continues after the last complete phase checkpoint; a run
whose phases are all checkpointed does nothing and says so.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from loguru import logger

from common.files import run_lock
from common.freshness import check_fresh
from train import checkpoint, data, epochs, mcq, schedule
from train.config import ModelConfig, TrainConfig, config_fingerprint
from train.distributed import lock_name
from train.metrics import MetricsLog, flops_per_token, logged_checkpoints, peak_flops, read_metrics

__all__ = ["train_run", "EXIT_AFTER_STEP"]

#: Test hook: the run stops (exit code 75, as if interrupted) right after this global step and the
#: step checkpoint it may save.
EXIT_AFTER_STEP = "HEBATRON_EXIT_AFTER_STEP"


def train_run(
    run_dir: Path,
    train_dir: Path,
    *,
    model: ModelConfig,
    train: TrainConfig,
    recipe_name: str,
    echo=print,
    tensorboard: Path | None = None,
    device: str | None = None,
) -> dict:
    """Train ``model`` on ``RUN/tokens`` through the three phases in ``train.order``, writing
    ``TRAIN_DIR/metrics.jsonl`` and ``TRAIN_DIR/checkpoints/phase-{k}/``. Works as one process or under
    ``torchrun`` (then every rank calls it). ``echo`` prints the log lines (on the last rank only).
    Returns a summary: ``status`` (trained, resumed or already_finished), ``steps``, ``evals`` (per phase),
    ``final`` (the last he_loss/en_loss/he_acc), ``checkpoints``, ``metrics``. With ``tensorboard`` (a
    folder), the records also go there as TensorBoard scalars (``train.tensorboard``). ``device`` (cpu or
    cuda; None: CUDA when available) is checked first (``distributed.DeviceUnavailable``).

    Raises ``data.MissingTokensError`` (no token files: run ``hebatron tokenize``),
    ``checkpoint.CheckpointMismatch`` (TRAIN_DIR holds another configuration's checkpoints),
    ``megatron_glue.HybridModelUnavailable`` (a Mamba hybrid without CUDA) and ``ValueError`` (settings that
    do not fit the world size)."""
    run_dir, train_dir = Path(run_dir).resolve(), Path(train_dir).resolve()
    from train.distributed import select_device

    select_device(device)
    if tensorboard is not None:
        from train.tensorboard import check_available

        check_available()
    with run_lock(train_dir, name=lock_name()):
        return _train_locked(
            run_dir, train_dir, model=model, train=train, recipe_name=recipe_name, echo=echo, tensorboard=tensorboard
        )


def _train_locked(
    run_dir: Path, train_dir: Path, *, model: ModelConfig, train: TrainConfig, recipe_name: str, echo, tensorboard
):
    _quiet_megatron_warnings()
    manifest = data.read_manifest(run_dir)
    check_fresh(run_dir, "train")
    data_sha = data.manifest_sha256(run_dir)
    tokenizer = data.TokenizerInfo.from_manifest(manifest, run_dir / "shards" / "manifest.json", data_sha)
    fingerprint = config_fingerprint(recipe_name, model, train, manifest["tokenizer"], data_sha)
    phases = data.phase_order(train.order)
    done = checkpoint.completed_slots(train_dir, phases, fingerprint)
    done = logged_checkpoints(done, train_dir / "metrics.jsonl", echo if _is_last_rank() else None)
    if len(done) == len(phases):
        if _is_last_rank():
            echo(f"{train_dir}: all {len(phases)} phases are already trained and checkpointed; nothing to do")
        return _summary("already_finished", train_dir, train, done)
    inside = _step_checkpoint(train_dir, done, fingerprint, train, echo if _is_last_rank() else None)
    if model.is_hybrid:
        from train.megatron_glue import check_hybrid_buildable

        check_hybrid_buildable()

    from train import distributed

    world = distributed.init_world(train)
    try:
        return _train(
            run_dir,
            train_dir,
            manifest,
            tokenizer,
            fingerprint,
            phases,
            done,
            world,
            model=model,
            train=train,
            recipe_name=recipe_name,
            echo=echo,
            tensorboard=tensorboard,
            inside=inside,
        )
    finally:
        distributed.shutdown()


def _quiet_megatron_warnings() -> None:
    """megatron-core warns at import that Transformer Engine and Apex are absent (expected on CPU), and about
    deprecations that are not ours to fix."""
    import warnings

    warnings.filterwarnings("ignore", message=".*Transformer Engine and Apex are not installed.*")
    warnings.filterwarnings("ignore", message="Apex is not installed")
    warnings.filterwarnings("ignore", message="full scope is deprecated")
    warnings.filterwarnings("ignore", category=FutureWarning)


def _train(
    run_dir,
    train_dir,
    manifest,
    tokenizer,
    fingerprint,
    phases,
    done,
    world,
    *,
    model,
    train,
    recipe_name,
    echo,
    tensorboard=None,
    inside=None,
) -> dict:
    from train import distributed
    from train.megatron_glue import build_model, describe_kernels, padded_vocab_size, to_transformer_config

    if world.is_logger:
        train_dir.mkdir(parents=True, exist_ok=True)
    torch.distributed.barrier()
    cache = train_dir / ".cache" / "datasets"
    records = _data_records(run_dir, manifest, model, train)
    steps = {k: r["steps"] for k, r in records.items()}
    slots = data.build_phases(run_dir, manifest, tokenizer, model=model, train=train, cache=cache, steps=steps)
    eval_sets, notes = data.build_eval_sets(run_dir, tokenizer, model=model, train=train, cache=cache)
    mcq_items, encode, note = mcq.run_suite(run_dir, manifest, train.mcq_items)
    notes += [note] if note else []
    if world.is_logger:
        for note in notes:
            echo(note)

    distributed.seed_all(train.seed)
    config = to_transformer_config(model, train)
    net = build_model(model, train, tokenizer.vocab_size, config)
    ddp, optimizer, scheduler = _wrap(net, config, train, [slot.steps for slot in slots])
    score = None
    if mcq_items:
        score = mcq.model_scorer(
            ddp,
            encode,
            eod=tokenizer.eod,
            seq_length=model.seq_length,
            micro_batch=train.micro_batch_size,
            device=world.device,
        )
    start_step = 0
    if inside is not None:  # a step checkpoint inside the next phase
        checkpoint.load_phase(inside.path, net, optimizer, scheduler)
        start_step = int(inside.info["step"])
        if world.is_logger:
            echo(f"resuming inside phase {inside.info['phase']} (step {start_step}) from {inside.path}")
    elif done:
        checkpoint.load_phase(done[-1].path, net, optimizer, scheduler)
        start_step = int(done[-1].info["step"])
        if world.is_logger:
            echo(f"resuming after phase {done[-1].info['phase']} (step {start_step}) from {done[-1].path}")
    sink = None
    if tensorboard is not None and world.is_logger:
        from train.tensorboard import TensorBoardSink

        sink = TensorBoardSink(Path(tensorboard), start_step=start_step)
    log = MetricsLog(
        train_dir / "metrics.jsonl",
        enabled=world.is_logger,
        keep_until_step=start_step,
        keep_phases={c.info["phase"] for c in done},
        echo=echo,
        sink=sink,
    )
    for c in done:  # a run checkpointed before data records existed gets them now; present ones are kept
        log.data(records[c.info["phase"]])
    if world.is_logger:
        echo(
            f"training {recipe_name}: {_count(net):,} parameters on this rank, {world.world_size} process(es) "
            f"({world.backend}), order {train.order} {phases}, steps per phase "
            f"{', '.join(f'{k}: {steps[k]}' for k in phases)} ({train.tokens_per_phase})"
        )
        echo(f"device {world.device} ({world.backend}) | {describe_kernels(net)}")
        for slot in slots[len(done) :]:
            if (warning := epochs.epoch_warning(records[slot.phase], train.max_epochs_warning)) is not None:
                logger.warning(warning)

    phase_run = PhaseRunner(
        world=world,
        model=model,
        train=train,
        config=config,
        ddp=ddp,
        optimizer=optimizer,
        scheduler=scheduler,
        log=log,
        flops_per_token=flops_per_token(model, padded_vocab_size(tokenizer.vocab_size, model, train)),
        total_steps=train.total_steps,
    )
    global_step = start_step
    first_slot = len(done)
    for slot_index in range(first_slot, len(phases)):
        slot = slots[slot_index]
        # Re-seed per phase: a resumed run draws the same random numbers as an uninterrupted one.
        distributed.seed_all(train.seed + 1000 * (slot_index + 1))
        first = 0
        if inside is not None and slot_index == first_slot:
            checkpoint.restore_rng(inside.path)
            first = int(inside.info["step_in_phase"])

        def after_step(global_step: int, in_phase: int, slot=slot, slot_index=slot_index) -> None:
            if train.save_interval and global_step % train.save_interval == 0 and in_phase < slot.steps:
                info = {
                    "kind": "step",
                    "phase": slot.phase,
                    "slot": slot_index,
                    "step": global_step,
                    "step_in_phase": in_phase,
                    "fingerprint": fingerprint,
                    "recipe": recipe_name,
                    "world_size": world.world_size,
                    "run_dir": str(run_dir),
                }
                path = checkpoint.save_step(
                    train_dir, global_step, net, optimizer, scheduler, info, is_writer=world.is_logger
                )
                if world.is_logger:
                    echo(f"checkpoint at step {global_step} (phase {slot.phase}): {path}")
            if os.environ.get(EXIT_AFTER_STEP) == str(global_step):
                raise SystemExit(75)  # stands in for an interruption (tests of resumption)

        global_step = phase_run.run(slot, global_step, first=first, after_step=after_step)
        evals = _evaluate(ddp, eval_sets, model, train, world)
        evals["he_acc"] = mcq.accuracy(mcq_items, score) if score else None
        log.data(records[slot.phase])
        log.eval(after_phase=slot.phase, **evals)
        info = {
            "phase": slot.phase,
            "slot": slot_index,
            "order": train.order,
            "phases": phases,
            "step": global_step,
            "evals": evals,
            "data": {k: v for k, v in records[slot.phase].items() if k != "kind"},
            "fingerprint": fingerprint,
            "recipe": recipe_name,
            "world_size": world.world_size,
            "run_dir": str(run_dir),
        }
        path = checkpoint.save_phase(train_dir, slot.phase, net, optimizer, scheduler, info, is_writer=world.is_logger)
        done.append(checkpoint.Completed(path, info))
        if world.is_logger:
            echo(f"checkpoint after phase {slot.phase}: {path}")
        checkpoint.remove_steps(train_dir, is_writer=world.is_logger)
    log.close()
    return _summary("resumed" if start_step else "trained", train_dir, train, done)


@dataclass(kw_only=True)
class PhaseRunner:
    """The steps of one phase, and their log lines (tokens/s over the steps since the last line)."""

    world: object
    model: ModelConfig
    train: TrainConfig
    config: object
    ddp: object
    optimizer: object
    scheduler: object
    log: MetricsLog
    flops_per_token: float
    total_steps: int
    """The run's optimizer steps, for the log lines."""

    def run(self, slot: data.PhaseData, global_step: int, *, first: int = 0, after_step=None) -> int:
        """Steps ``first`` .. end of the phase; ``after_step(global_step, steps done in the phase)`` after each."""
        from train import step

        train, world = self.train, self.world
        num_micro = train.global_batch_size // (train.micro_batch_size * world.data_parallel_size)
        window_start, window_steps = time.perf_counter(), 0
        for s in range(first, slot.steps):
            batches = step.micro_batches(
                slot,
                s,
                global_batch=train.global_batch_size,
                micro_batch=train.micro_batch_size,
                dp_rank=world.data_parallel_rank,
                dp_size=world.data_parallel_size,
                device=world.device,
            )
            result = step.train_step(
                self.ddp,
                self.optimizer,
                self.scheduler,
                batches,
                num_microbatches=num_micro,
                seq_length=self.model.seq_length,
                micro_batch=train.micro_batch_size,
            )
            aux = step.moe_losses(self.config, num_micro)  # a collective: every rank, every step
            global_step += 1
            window_steps += 1
            if global_step % train.log_interval == 0 or s == slot.steps - 1:
                self._log(slot.phase, global_step, result, aux, time.perf_counter() - window_start, window_steps)
                window_start, window_steps = time.perf_counter(), 0
            if after_step is not None:
                after_step(global_step, s + 1)
                window_start = time.perf_counter() if window_steps == 0 else window_start
        return global_step

    def _log(self, phase: int, global_step: int, result: dict, aux: dict, elapsed: float, steps: int) -> None:
        cuda = self.world.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize()
        tokens_per_s = self.train.global_batch_size * self.model.seq_length * steps / elapsed
        peak = peak_flops()
        self.log.train(
            step=global_step,
            total=self.total_steps,
            phase=phase,
            loss=result["loss"],
            lr=result["lr"],
            grad_norm=result["grad_norm"],
            tokens_per_s=tokens_per_s,
            aux_loss=aux.get("load_balancing_loss", aux.get("seq_load_balancing_loss")),
            z_loss=aux.get("z_loss"),
            mfu=self.flops_per_token * tokens_per_s / (peak * self.world.world_size) if peak else None,
            memory_gib=torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        )


def _step_checkpoint(
    train_dir: Path, done: list, fingerprint: dict, train: TrainConfig, echo
) -> checkpoint.Completed | None:
    """The step checkpoint to resume from inside the phase after DONE, if any; not one whose step was a log
    step that ``metrics.jsonl`` lacks the record of (a write cut short): that phase is trained again from its
    start, as with ``logged_checkpoints``."""
    after = int(done[-1].info["step"]) if done else 0
    inside = checkpoint.latest_step(train_dir, len(done), after, fingerprint)
    if inside is None:
        return None
    step = int(inside.info["step"])
    steps = {r.get("step") for r in read_metrics(train_dir / "metrics.jsonl") if r.get("kind") == "train"}
    if step % train.log_interval == 0 and step not in steps:
        if echo is not None:
            echo(f"{train_dir / 'metrics.jsonl'} lacks the record of step {step}; not resuming from {inside.path}")
        return None
    return inside


def _data_records(run_dir: Path, manifest: dict, model: ModelConfig, train: TrainConfig) -> dict[int, dict]:
    """Phase -> its ``data`` record: steps under ``train.tokens_per_phase`` and the epochs they make."""
    tokens = data.phase_tokens(run_dir, manifest, train.anchor_share)
    steps = data.phase_steps(train, tokens)
    ratios = data.anchor_ratios(run_dir, manifest, train.anchor_share)
    return {
        k: epochs.data_record(
            k,
            steps=steps[k],
            global_batch_size=train.global_batch_size,
            seq_length=model.seq_length,
            tokens_available=tokens[k],
            anchor_ratio=ratios[k],
        )
        for k in tokens
    }


def _wrap(net, config, train: TrainConfig, phase_steps: list[int]):
    """Megatron DDP, the Megatron optimizer (AdamW) and the scheduler of ``train.lr_schedule`` over
    ``phase_steps`` (the steps of each phase, in training order)."""
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig, finalize_model_grads
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.optimizer.distrib_optimizer import HAVE_APEX_OR_TE
    from megatron.core.transformer.module import Float16Module

    if train.use_distributed_optimizer and not HAVE_APEX_OR_TE:
        raise ValueError(
            "train.use_distributed_optimizer needs Transformer Engine or Apex with megatron-core "
            "0.16.1 (without them its state cannot be loaded back from a checkpoint); set it to false"
        )
    module = Float16Module(config, net) if train.precision != "fp32" else net
    ddp = DistributedDataParallel(
        config=config,
        module=module,
        ddp_config=DistributedDataParallelConfig(
            grad_reduce_in_fp32=True,
            overlap_grad_reduce=False,
            use_distributed_optimizer=train.use_distributed_optimizer,
        ),
    )
    optimizer = get_megatron_optimizer(
        OptimizerConfig(
            optimizer="adam",
            lr=train.lr,
            min_lr=train.min_lr,
            weight_decay=train.weight_decay,
            adam_beta1=train.adam_beta1,
            adam_beta2=train.adam_beta2,
            adam_eps=train.adam_eps,
            clip_grad=train.clip_grad,
            bf16=train.precision == "bf16",
            fp16=train.precision == "fp16",
            params_dtype=config.params_dtype,
            use_distributed_optimizer=train.use_distributed_optimizer,
        ),
        [ddp],
    )
    scheduler = schedule.build_scheduler(optimizer, train, phase_steps)
    config.grad_scale_func = optimizer.scale_loss
    config.no_sync_func = ddp.no_sync
    config.finalize_model_grads_func = finalize_model_grads
    return ddp, optimizer, scheduler


def _evaluate(ddp, eval_sets: dict, model: ModelConfig, train: TrainConfig, world) -> dict:
    """``{"he_loss", "en_loss"}``: up to ``eval_iters`` global batches of each held-out set (``all``: every
    sequence of it; None without it);
    ``he_acc`` is added beside them."""
    from train import step

    out = {"he_loss": None, "en_loss": None}
    for name, dataset in eval_sets.items():
        unit = train.micro_batch_size * world.data_parallel_size
        samples = len(dataset)
        if train.eval_iters != "all":
            samples = min(samples, max(train.eval_iters, 1) * train.global_batch_size)
        samples = max(unit, samples - samples % unit)
        out[f"{name}_loss"] = step.evaluate(
            ddp,
            _Cycle(dataset),
            samples=samples,
            seq_length=model.seq_length,
            micro_batch=train.micro_batch_size,
            dp_rank=world.data_parallel_rank,
            dp_size=world.data_parallel_size,
            device=world.device,
        )
    return out


class _Cycle:
    """Index a dataset modulo its length (an evaluation set shorter than one batch per rank repeats)."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __getitem__(self, i: int):
        return self.dataset[i % len(self.dataset)]


def _is_last_rank() -> bool:
    """Before the process group exists: is this the rank that speaks (a plain process, or torchrun's last)?"""
    return int(os.environ.get("RANK", 0)) == int(os.environ.get("WORLD_SIZE", 1)) - 1


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _summary(status: str, train_dir: Path, train: TrainConfig, done: list) -> dict:
    evals = {c.info["phase"]: c.info.get("evals", {}) for c in done}
    last = done[-1].info.get("evals", {}) if done else {}
    return {
        "status": status,
        "train_dir": str(train_dir),
        "order": train.order,
        "steps": done[-1].info["step"] if done else 0,
        "evals": evals,
        "data": {c.info["phase"]: c.info["data"] for c in done if "data" in c.info},
        "final": last,
        "checkpoints": [str(c.path) for c in done],
        "metrics": str(train_dir / "metrics.jsonl"),
        "train": dataclasses.asdict(train),
        "records": len(read_metrics(train_dir / "metrics.jsonl")),
    }
