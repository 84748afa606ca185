"""``sft_run``: supervised fine-tuning on the bilingual set (``RUN/sft/``) from a phase checkpoint of ``train``.

The model is the pretraining run's (its configuration read from the checkpoint's fingerprint), built and
wrapped by the same code as ``train.loop`` (Megatron DDP, Megatron's AdamW, Megatron's scheduler: warmup, then
a cosine decay), its weights loaded from ``TRAIN_DIR/checkpoints/phase-K`` (the optimizer starts fresh). The
step is ``train.step``'s, with the loss on response tokens only (``train.sft_data``).

Evaluation, before the first step (so that what fine-tuning costs is visible), every ``sft.eval_interval``
steps and at the end: ``he2en_loss``/``en2he_loss`` (mean response-token loss of the held-out pairs),
``he2en_exact``/``en2he_exact`` (the share of held-out pairs with a response of at most
``sft.exact_max_tokens`` tokens whose greedy translation is exactly the reference: greedy decoding produces
it exactly when every reference token, end-of-document included, is the argmax given the reference before it,
so one teacher-forced pass decides it; one process, no tensor or pipeline parallelism, else None) and
``he_loss``/``en_loss`` on the run's held-out Hebrew and English (``RUN/tokens/eval``).

Writes ``SFT_DIR/metrics.jsonl`` (``train`` records; ``eval`` records with ``step``) and
``SFT_DIR/checkpoints/phase-1/`` (the fine-tuned model, readable by ``hebatron export SFT_DIR``); with
``sft.save_interval`` also ``checkpoints/step-N`` to resume from. A finished run does nothing and says so.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch

from common.errors import HebatronError
from common.files import run_lock, write_text_atomic
from train import checkpoint
from train.config import ModelConfig, TrainConfig, config_fingerprint
from train.distributed import lock_name
from train.loop import EXIT_AFTER_STEP
from train.metrics import MetricsLog, flops_per_token, read_metrics
from train.sft_config import SftConfig

__all__ = ["SftError", "sft_run"]

#: The one "phase" of an SFT directory: its final checkpoint is ``checkpoints/phase-1``.
SFT_PHASE = 1


class SftError(HebatronError, ValueError):
    """The fine-tuning inputs do not fit together (checkpoint, tokenizer, SFT set)."""


def _source(train_dir: Path, phase: int | None) -> checkpoint.Completed:
    found = []
    for path in sorted((train_dir / "checkpoints").glob("phase-*")):
        if (path / checkpoint.MARKER).is_file():
            found.append(checkpoint.Completed(path, json.loads((path / checkpoint.MARKER).read_text("utf-8"))))
    if not found:
        raise SftError(f"{train_dir / 'checkpoints'}: no finished phase checkpoint; run `hebatron train` first")
    if phase is None:
        return max(found, key=lambda c: c.info["slot"])
    for c in found:
        if c.info["phase"] == phase:
            return c
    raise SftError(f"{train_dir}: no checkpoint after phase {phase} (have {', '.join(p.path.name for p in found)})")


def _configs(info: dict, sft: SftConfig, steps: int) -> tuple[ModelConfig, TrainConfig, dict]:
    fp = info["fingerprint"]
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    trained = TrainConfig(**{k: v for k, v in fp["train"].items() if k in names})
    train = dataclasses.replace(
        trained,
        lr=sft.lr,
        min_lr=sft.min_lr,
        warmup_fraction=sft.warmup_fraction,
        stable_fraction=0.0,
        decay_fraction=1.0 - sft.warmup_fraction,
        decay_style="cosine",
        lr_schedule="wsd",
        steps_per_phase=steps,
        seed=sft.seed,
        log_interval=sft.log_interval,
        save_interval=sft.save_interval,
        micro_batch_size=sft.micro_batch_size or trained.micro_batch_size,
        global_batch_size=sft.global_batch_size or trained.global_batch_size,
    )
    return ModelConfig(**fp["model"]), train, fp["tokenizer"]


def sft_run(
    run_dir: Path,
    sft_dir: Path,
    *,
    from_dir: Path,
    config: SftConfig,
    phase: int | None = None,
    steps: int | None = None,
    echo=print,
    device: str | None = None,
) -> dict:
    """Fine-tune (see the module docstring); returns ``status``, ``steps``, ``before``/``after`` evals,
    ``checkpoint`` and ``metrics``."""
    from train.distributed import select_device
    from train.sft_data import load_sft_set

    run_dir, sft_dir, from_dir = Path(run_dir).resolve(), Path(sft_dir).resolve(), Path(from_dir).resolve()
    select_device(device)
    steps = steps or config.steps
    source = _source(from_dir, phase)
    model, train, tokenizer = _configs(source.info, config, steps)
    summary, packed, evals = load_sft_set(run_dir, model.seq_length)
    theirs = summary["tokenizer"]
    if int(theirs["vocab_size"]) != int(tokenizer["vocab_size"]) or int(theirs["eod"]) != int(tokenizer["eod"]):
        raise SftError(
            f"{run_dir / 'sft'} was tokenized with {theirs['name']} (vocabulary {theirs['vocab_size']}) but "
            f"{source.path} was trained with {tokenizer.get('name')} (vocabulary {tokenizer['vocab_size']})"
        )
    recipe = f"{source.info.get('recipe')}+sft"
    origin = f"{source.path}@{source.info['step']}:{source.info['fingerprint']['sha256']}"
    fingerprint = config_fingerprint(recipe, model, train, tokenizer, f"{summary['fingerprint']}|{origin}")
    with run_lock(sft_dir, name=lock_name()):
        done = checkpoint.completed_slots(sft_dir, [SFT_PHASE], fingerprint)
        if done:
            echo(f"{sft_dir}: fine-tuning already finished ({done[0].path}); nothing to do")
            return _summary("already_finished", sft_dir, done[0].info)
        inside = checkpoint.latest_step(sft_dir, 0, 0, fingerprint)
        from train import distributed
        from train.loop import _quiet_megatron_warnings

        _quiet_megatron_warnings()
        world = distributed.init_world(train)
        try:
            return _fine_tune(
                run_dir, sft_dir, source, inside, world, model, train, config, summary, packed, evals, fingerprint, echo
            )
        finally:
            distributed.shutdown()


def _fine_tune(run_dir, sft_dir, source, inside, world, model, train, config, summary, packed, evals, fp, echo):
    from megatron.core import dist_checkpointing

    from train import data, distributed, step
    from train.loop import PhaseRunner, _Cycle, _evaluate, _wrap
    from train.megatron_glue import build_model, describe_kernels, padded_vocab_size, to_transformer_config

    say = echo if world.is_logger else (lambda _m: None)
    if world.is_logger:
        sft_dir.mkdir(parents=True, exist_ok=True)
    torch.distributed.barrier()
    tok = summary["tokenizer"]
    info = data.TokenizerInfo(name=tok["name"], vocab_size=int(tok["vocab_size"]), eod=int(tok["eod"]))
    lm_sets, notes = data.build_eval_sets(
        run_dir, info, model=model, train=train, cache=sft_dir / ".cache" / "datasets"
    )
    for note in notes:
        say(note)
    distributed.seed_all(train.seed)
    tconfig = to_transformer_config(model, train)
    net = build_model(model, train, info.vocab_size, tconfig)
    ddp, optimizer, scheduler = _wrap(net, tconfig, train, [train.steps_per_phase])
    if describe_kernels(net).startswith("layer spec te"):  # not verified on a GPU: say what is known
        say(
            "note: Transformer Engine's causal attention kernel does not take the block mask of packed samples; "
            "under it a sample may attend to the samples packed before it (positions still restart per sample)"
        )
    start = 0
    if inside is not None:
        checkpoint.load_phase(inside.path, net, optimizer, scheduler)
        checkpoint.restore_rng(inside.path)
        start = int(inside.info["step"])
        say(f"resuming fine-tuning at step {start} from {inside.path}")
    else:
        state = dist_checkpointing.load({"model": net.sharded_state_dict()}, str(source.path))
        net.load_state_dict(state["model"])
        say(f"fine-tuning from {source.path} (phase {source.info['phase']}, step {source.info['step']})")
    metrics = sft_dir / "metrics.jsonl"
    if world.is_logger:  # a resumed run keeps the records up to its checkpoint
        kept = [r for r in read_metrics(metrics) if r.get("step", 0) <= start]
        write_text_atomic(metrics, "".join(json.dumps(r) + "\n" for r in kept))
    log = MetricsLog(metrics, enabled=world.is_logger, keep_until_step=start, keep_phases={None}, echo=say)
    total = train.steps_per_phase
    say(
        f"fine-tuning {summary['train']['sequences']:,} packed sequences ({summary['train']['samples']:,} samples) "
        f"for {total} steps, batch {train.global_batch_size}, lr {train.lr:g}"
    )

    def evaluate(at: int) -> dict:
        result = _evaluate(ddp, lm_sets, model, train, world)
        unit = train.micro_batch_size * world.data_parallel_size
        for direction, samples in evals.items():
            n = len(samples)
            result[f"{direction}_loss"] = (
                step.evaluate(
                    ddp,
                    _Cycle(samples),
                    samples=max(unit, n - n % unit),
                    seq_length=model.seq_length,
                    micro_batch=train.micro_batch_size,
                    dp_rank=world.data_parallel_rank,
                    dp_size=world.data_parallel_size,
                    device=world.device,
                )
                if n
                else None
            )
            single = world.world_size == 1
            result[f"{direction}_exact"] = (
                _exact(ddp, samples, config, info.vocab_size, world.device) if single else None
            )
        record = {"kind": "eval", "step": at, **{k: result.get(k) for k in _EVAL_KEYS}}
        log.write(record)
        say(f"eval at step {at} | " + " | ".join(f"{k} {_fmt(record[k])}" for k in _EVAL_KEYS))
        return record

    before = evaluate(0) if start == 0 else None
    slot = data.PhaseData(phase=SFT_PHASE, dataset=packed, offset=0, steps=total)
    runner = PhaseRunner(
        world=world,
        model=model,
        train=train,
        config=tconfig,
        ddp=ddp,
        optimizer=optimizer,
        scheduler=scheduler,
        log=log,
        flops_per_token=flops_per_token(model, padded_vocab_size(info.vocab_size, model, train)),
        total_steps=total,
    )

    def after_step(done: int, _in_phase: int) -> None:
        if config.eval_interval and done % config.eval_interval == 0 and done < total:
            evaluate(done)
        if train.save_interval and done % train.save_interval == 0 and done < total:
            marker = {"kind": "step", "phase": SFT_PHASE, "slot": 0, "step": done, "fingerprint": fp}
            path = checkpoint.save_step(sft_dir, done, net, optimizer, scheduler, marker, is_writer=world.is_logger)
            say(f"checkpoint at step {done}: {path}")
        if os.environ.get(EXIT_AFTER_STEP) == str(done):
            raise SystemExit(75)  # stands in for an interruption (tests of resumption)

    runner.run(slot, start, first=start, after_step=after_step)
    after = evaluate(total)
    final = {
        "phase": SFT_PHASE,
        "slot": 0,
        "step": total,
        "evals": {k: after[k] for k in _EVAL_KEYS},
        "before": None if before is None else {k: before[k] for k in _EVAL_KEYS},
        "fingerprint": fp,
        "recipe": fp["recipe"],
        "source": str(source.path),
        "world_size": world.world_size,
        "run_dir": str(run_dir),
    }
    path = checkpoint.save_phase(sft_dir, SFT_PHASE, net, optimizer, scheduler, final, is_writer=world.is_logger)
    checkpoint.remove_steps(sft_dir, is_writer=world.is_logger)
    say(f"checkpoint after fine-tuning: {path}")
    log.close()
    return _summary("resumed" if start else "trained", sft_dir, final)


_EVAL_KEYS = ("he2en_loss", "en2he_loss", "he2en_exact", "en2he_exact", "he_loss", "en_loss")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


@torch.no_grad()
def _exact(ddp, samples, config: SftConfig, vocab: int, device) -> float | None:
    """The share of short held-out samples whose every response token is the argmax (greedy = reference)."""
    short = [i for i, r in enumerate(samples.rows) if len(r["response"]) <= config.exact_max_tokens]
    if not short:
        return None
    module = ddp.module
    module.eval()
    hits = 0
    for first in range(0, len(short), 8):
        items = [samples[i] for i in short[first : first + 8]]
        batch = {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}
        logits = module(batch["tokens"], batch["position_ids"], batch["attention_mask"])
        pred = logits[..., :vocab].argmax(-1)
        ok = (pred == batch["labels"]) | (batch["loss_mask"] == 0)
        hits += int(ok.all(dim=-1).sum())
    module.train()
    return hits / len(short)


def _summary(status: str, sft_dir: Path, info: dict) -> dict:
    return {
        "status": status,
        "sft_dir": str(sft_dir),
        "steps": info.get("step"),
        "before": info.get("before"),
        "after": info.get("evals"),
        "checkpoint": str(sft_dir / "checkpoints" / f"phase-{SFT_PHASE}"),
        "metrics": str(sft_dir / "metrics.jsonl"),
    }
