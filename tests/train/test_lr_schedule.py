"""The learning-rate schedules (``train.lr_schedule``): the rate as a function of the step for wsd,
wsd-per-phase and constant, the scheduler the loop steps, a real run under a constant rate, the fingerprint
and the ablation crossing schedules with orders."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.train.conftest import run_train
from train.config import ModelConfig, TrainConfig, config_fingerprint
from train.schedule import build_scheduler, lr_at

PHASES = [20, 20, 20]  # steps of each phase, in training order
BASE = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_fraction=0.1, stable_fraction=0.7, decay_fraction=0.2)


def _rates(schedule: str, phase_steps=PHASES, **changes) -> list[float]:
    """The rate each optimizer step uses (step s uses the rate after s - 1 scheduler steps)."""
    train = dataclasses.replace(BASE, lr_schedule=schedule, **changes)
    return [lr_at(train, n, phase_steps) for n in range(sum(phase_steps))]


class _Optimizer:
    def __init__(self) -> None:
        self.param_groups = [{}]


def _stepped(train: TrainConfig, phase_steps, scheduler_factory=build_scheduler) -> list[float]:
    optimizer = _Optimizer()
    scheduler = scheduler_factory(optimizer, train, phase_steps)
    rates = []
    for _ in range(sum(phase_steps)):
        rates.append(optimizer.param_groups[0]["lr"])
        scheduler.step(increment=1)
    return rates


def test_wsd_anneals_only_in_the_last_part_of_all_steps():
    rates = _rates("wsd")
    warmup, decay = BASE.wsd_steps(60)
    assert (warmup, decay) == (6, 12)
    assert rates[0] == 0.0 and rates[1:warmup] == sorted(rates[1:warmup]) and rates[warmup] == pytest.approx(1e-3)
    assert all(r == pytest.approx(1e-3) for r in rates[warmup : 60 - decay + 1])  # phases 1, 2 and most of 3
    tail = rates[60 - decay :]
    assert all(a > b for a, b in zip(tail, tail[1:], strict=False)) and tail[-1] > 1e-4
    assert lr_at(dataclasses.replace(BASE, lr_schedule="wsd"), 60, PHASES) == pytest.approx(1e-4)


def test_wsd_per_phase_warms_up_and_anneals_inside_each_phase():
    rates = _rates("wsd-per-phase")
    warmup, decay = BASE.wsd_steps(20)
    assert (warmup, decay) == (2, 4)
    for start in (0, 20, 40):
        phase = rates[start : start + 20]
        assert phase[0] == 0.0 and phase[1] == pytest.approx(5e-4) and phase[warmup] == pytest.approx(1e-3)
        assert all(r == pytest.approx(1e-3) for r in phase[warmup : 20 - decay + 1])
        tail = phase[20 - decay :]
        assert all(a > b for a, b in zip(tail, tail[1:], strict=False)) and tail[-1] < 4e-4
    # unequal phases (tokens_per_phase: proportional): each decays over its own steps
    uneven = _rates("wsd-per-phase", phase_steps=[10, 30, 20])
    assert uneven[10] == 0.0 and uneven[40] == 0.0 and uneven[9] < 1e-3 and uneven[39] < 1e-3
    assert uneven[13:35] == pytest.approx([1e-3] * 22)  # 30 steps: warmup 3, decay 6


def test_constant_never_decays():
    rates = _rates("constant")
    assert rates[0] == 0.0 and rates[6:] == pytest.approx([1e-3] * 54)
    assert lr_at(dataclasses.replace(BASE, lr_schedule="constant"), 60, PHASES) == pytest.approx(1e-3)


@pytest.mark.parametrize("schedule", ["wsd", "wsd-per-phase", "constant"])
@pytest.mark.parametrize("style", ["linear", "cosine"])
def test_the_scheduler_the_loop_steps_follows_lr_at(schedule, style):
    train = dataclasses.replace(BASE, lr_schedule=schedule, decay_style=style)
    assert _stepped(train, [10, 30, 20]) == pytest.approx(_rates(schedule, [10, 30, 20], decay_style=style))


def test_wsd_is_the_schedule_runs_had_before_schedules_were_chosen():
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

    def before(optimizer, train, phase_steps):  # the loop's scheduler before train.lr_schedule existed
        warmup, decay = train.wsd_steps()
        return OptimizerParamScheduler(
            optimizer,
            init_lr=0.0,
            max_lr=train.lr,
            min_lr=train.min_lr,
            lr_warmup_steps=warmup,
            lr_decay_steps=train.total_steps,
            lr_decay_style="WSD",
            wsd_decay_steps=decay,
            lr_wsd_decay_style=train.decay_style,
            start_wd=train.weight_decay,
            end_wd=train.weight_decay,
            wd_incr_steps=train.total_steps,
            wd_incr_style="constant",
        )

    train = dataclasses.replace(BASE, steps_per_phase=20)
    assert _stepped(train, PHASES) == _stepped(train, PHASES, before)


def test_schedule_is_validated_and_fingerprinted_only_when_not_wsd():
    with pytest.raises(ValueError, match="train.lr_schedule must be one of"):
        TrainConfig(lr_schedule="cosine")
    model, tokenizer = ModelConfig(), {"name": "t", "vocab_size": 64}
    wsd = config_fingerprint("r", model, TrainConfig(), tokenizer)
    assert "lr_schedule" not in wsd["train"]  # runs checkpointed before the field still resume
    constant = config_fingerprint("r", model, TrainConfig(lr_schedule="constant"), tokenizer)
    assert constant["train"]["lr_schedule"] == "constant" and constant["sha256"] != wsd["sha256"]


def test_a_run_under_a_constant_rate_logs_a_constant_rate_after_warmup(synthetic_run, tiny_recipe, tmp_path):
    out = tmp_path / "train"
    result = run_train(synthetic_run, "-o", out, "--recipe", tiny_recipe, "--lr-schedule", "constant")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in records if r["kind"] == "train"]
    assert len(lrs) == 9 and lrs[0] == 0.0  # 9 steps, warmup round(0.1 x 9) = 1 step
    assert lrs[1:] == [pytest.approx(3e-3)] * 8
    info = json.loads((out / "checkpoints" / "phase-3" / "hebatron.json").read_text())
    assert info["fingerprint"]["train"]["lr_schedule"] == "constant"


def _record(order: str, schedule: str, seed: int, he: float) -> dict:
    return {"order": order, "schedule": schedule, "seed": seed, "he_loss": he, "en_loss": 4.0 + 0.01 * seed}


def test_ablation_compares_orders_within_each_schedule():
    from train.ablate import summarize_runs
    from train.stats import holm

    runs = []
    for seed in range(4):
        jitter = 0.01 * (seed % 2)
        runs += [_record("forward", "wsd", seed, 3.0 + 0.1 * seed), _record("reversed", "wsd", seed, 3.0 + 0.1 * seed)]
        runs[-1]["he_loss"] += 0.2 + jitter  # reversed worse under wsd
        runs += [_record("forward", "constant", seed, 5.0 + 0.1 * seed)]
        runs += [_record("reversed", "constant", seed, 5.0 + 0.1 * seed - 0.5 - jitter)]  # better under constant
    result = summarize_runs(runs, [], orders=["forward", "reversed"], seeds=range(4), reference="forward")
    assert result["schedules"] == ["wsd", "constant"]
    assert [(r["schedule"], r["order"], r["runs"]) for r in result["table"]] == [
        ("wsd", "forward", 4),
        ("wsd", "reversed", 4),
        ("constant", "forward", 4),
        ("constant", "reversed", 4),
    ]
    he = {c["schedule"]: c for c in result["comparisons"] if c["metric"] == "he_loss"}
    assert he["wsd"]["diff_mean"] == pytest.approx(0.205) and he["constant"]["diff_mean"] == pytest.approx(-0.505)
    for c in result["comparisons"]:
        assert {"metric", "order", "reference", "n", "diff_mean", "ci95", "p_value", "p_holm", "mde"} <= set(c)
        assert c["n"] == 4 and c["sentence"].startswith(f"under {c['schedule']}, ")
    assert [c["p_holm"] for c in result["comparisons"]] == pytest.approx(
        holm([c["p_value"] for c in result["comparisons"]])
    )


def test_ablate_runs_each_order_schedule_and_seed_in_its_own_folder(monkeypatch, tmp_path):
    import train.loop
    from train.ablate import ablate

    calls = []

    def fake_train_run(run_dir, train_dir, *, model, train, recipe_name, echo=print):
        calls.append((train.order, train.lr_schedule, train.seed, train_dir.name))
        train_dir.mkdir(parents=True, exist_ok=True)
        (train_dir / "metrics.jsonl").write_text("")
        he = 3.0 + 0.1 * train.seed + (0.3 if train.order == "reversed" else 0.0)
        return {"train_dir": str(train_dir), "final": {"he_loss": he, "en_loss": 4.0}, "evals": {}}

    monkeypatch.setattr(train.loop, "train_run", fake_train_run)
    result = ablate(
        tmp_path / "run",
        tmp_path / "abl",
        orders=["forward", "reversed"],
        schedules=["wsd", "constant"],
        seeds=[0, 1],
        model=ModelConfig(),
        train=TrainConfig(),
        echo=lambda *_: None,
    )
    assert calls == [
        (o, sch, s, f"{o}-seed{s}" if sch == "wsd" else f"{o}-{sch}-seed{s}")
        for sch in ("wsd", "constant")
        for o in ("forward", "reversed")
        for s in (0, 1)
    ]
    assert {r["schedule"] for r in result["runs"]} == {"wsd", "constant"}
    saved = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert sorted(c["schedule"] for c in saved["comparisons"]) == ["constant"] * 2 + ["wsd"] * 2
    md = (tmp_path / "abl" / "ablation.md").read_text()
    assert "| reversed (constant) − forward | he_loss | 2 |" in md and "| reversed − forward | he_loss | 2 |" in md
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'cosine'"):
        ablate(tmp_path / "run", tmp_path / "x", schedules=["cosine"], model=ModelConfig(), train=TrainConfig())


def test_report_names_the_schedule_of_each_comparison(tmp_path):
    from hebatron.report import ablation_section
    from train.ablate import summarize_runs, write_outputs

    runs = [
        _record(o, sch, s, 3.0 + 0.1 * s + (0.2 + 0.01 * s if o == "reversed" else 0.0))
        for sch in ("wsd", "constant")
        for o in ("forward", "reversed")
        for s in range(3)
    ]
    for r in runs:
        r["train_dir"] = str(tmp_path / "none")
    write_outputs(
        tmp_path, summarize_runs(runs, [], orders=["forward", "reversed"], seeds=range(3), reference="forward")
    )
    page = ablation_section(tmp_path)
    assert "reversed (constant) − forward" in page and "under constant, reversed − forward on he_loss" in page
