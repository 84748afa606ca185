"""The curriculum ablation: the same model trained per order (forward, reversed, shuffled), learning-rate
schedule (``train.lr_schedule``; orders are compared within a schedule) and seed.

``DIR/<order>-seed<S>/`` (under ``wsd``) or ``DIR/<order>-<schedule>-seed<S>/`` holds each run (a normal
TRAIN_DIR, so an interrupted ablation resumes run by run); ``DIR/ablation.json`` every run's final
evaluation, the mean ± std per schedule and order, the paired comparisons of every order against the
reference order within each schedule (``comparisons``, see ``train.stats``) and the runs that crashed
(``failed_runs``: a crashed run is reported and the other runs are used); ``DIR/ablation.md`` and
``DIR/ablation.csv`` the table, ``DIR/comparisons.csv`` the comparisons; ``DIR/ablation.png`` the plot
(matplotlib).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from common.errors import HebatronError
from common.files import atomic_path, atomic_write, run_lock, write_json_atomic, write_text_atomic
from common.layout import ORDERS, ablation_label
from train.config import LR_SCHEDULES, ModelConfig, TrainConfig
from train.distributed import lock_name
from train.metrics import read_metrics
from train.stats import compare, holm, sentence

METRICS = ("he_loss", "en_loss", "he_acc")
COMPARISON_FIELDS = [
    "metric",
    "schedule",
    "order",
    "reference",
    "n",
    "diff_mean",
    "ci95",
    "p_value",
    "p_holm",
    "mde",
    "ci95_bootstrap",
    "diff_sd",
    "seeds",
    "seeds_dropped",
    "sentence",
]

__all__ = ["ablate"]


def ablate(
    run_dir: Path,
    out_dir: Path,
    *,
    orders: Sequence[str] = ORDERS,
    schedules: Sequence[str] | None = None,
    seeds: int | Sequence[int] = 3,
    model: ModelConfig,
    train: TrainConfig,
    recipe_name: str = "ablation",
    reference: str = "forward",
    echo=print,
) -> dict:
    """Train one run per order, learning-rate schedule (``schedules``; default ``train.lr_schedule``) and seed
    (``seeds``: a count, starting at ``train.seed``, or the seeds), summarize the final ``he_loss`` and
    ``en_loss`` per order and schedule and compare every order with ``reference`` seed by seed, within each
    schedule. A run that raises is recorded in ``failed_runs`` and the ablation goes on; an error the
    user can fix (a ``HebatronError``, the same for every run) stops it. Returns what ``ablation.json``
    holds."""
    for order in orders:
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; choose from {', '.join(ORDERS)}")
    schedules = [train.lr_schedule] if schedules is None else list(schedules)
    for name in schedules:
        if name not in LR_SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {name!r}; choose from {', '.join(LR_SCHEDULES)}")
    seed_list = [train.seed + i for i in range(seeds)] if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or not orders or not schedules:
        raise ValueError("the ablation needs at least one order, one schedule and one seed")
    if len(orders) > 1 and reference not in orders:
        raise ValueError(f"the reference order {reference!r} is not among the orders ({', '.join(orders)})")
    out_dir = Path(out_dir)
    with run_lock(out_dir, name=lock_name()):  # every run's folder is locked again by train_run
        runs, failed_runs = [], []
        for schedule in schedules:
            for order in orders:
                for seed in seed_list:
                    record = _train_one(run_dir, out_dir, order, schedule, seed, model, train, recipe_name, echo)
                    (runs if "error" not in record else failed_runs).append(record)
        result = summarize_runs(
            runs, failed_runs, orders=orders, seeds=seed_list, reference=reference, schedules=schedules
        )
        result |= {"model": dataclasses.asdict(model), "train": dataclasses.asdict(train)}
        write_outputs(out_dir, result)
        if result["plot"] is None:
            echo("matplotlib is not installed: ablation.png not written")
        return result


def run_dir_name(order: str, schedule: str, seed: int) -> str:
    """A run's folder in the ablation: ``<order>-seed<S>`` under ``wsd`` (as before schedules were crossed),
    ``<order>-<schedule>-seed<S>`` under another schedule."""
    return f"{order}-seed{seed}" if schedule == "wsd" else f"{order}-{schedule}-seed{seed}"


def _train_one(run_dir, out_dir, order, schedule, seed, model, train, recipe_name, echo) -> dict:
    """One run's record, or its failure record (with ``error``) when it crashed."""
    from train.loop import train_run

    run_train = dataclasses.replace(train, order=order, seed=seed, lr_schedule=schedule)
    train_dir = out_dir / run_dir_name(order, schedule, seed)
    echo(f"ablation: order {order}, schedule {schedule}, seed {seed}")
    try:
        summary = train_run(run_dir, train_dir, model=model, train=run_train, recipe_name=recipe_name, echo=echo)
    except HebatronError:
        raise
    except Exception as exc:  # a crashed run is reported by name; the others are still used
        failed = {"order": order, "schedule": schedule, "seed": seed, "train_dir": str(train_dir)}
        failed["error"] = _error_line(exc)
        echo(f"ablation: order {order}, schedule {schedule}, seed {seed} failed: {failed['error']}")
        return failed
    return _run_record(order, seed, summary) | {"schedule": schedule}


def summarize_runs(
    runs: list[dict],
    failed_runs: list[dict],
    *,
    orders: Sequence[str],
    seeds: Sequence[int],
    reference: str,
    schedules: Sequence[str] | None = None,
) -> dict:
    """The ablation's summary of its finished runs: the table per schedule and order, and the paired
    comparisons of every order with ``reference`` within each schedule (a run without ``schedule`` ran under
    ``wsd``), Holm-corrected across all of them. ``schedules`` defaults to those the runs name."""
    if schedules is None:
        schedules = list(dict.fromkeys(r.get("schedule", "wsd") for r in runs)) or ["wsd"]
    by_schedule = {name: [r for r in runs if r.get("schedule", "wsd") == name] for name in schedules}
    table, comparisons = [], []
    for name, group in by_schedule.items():
        table += [_row(order, [r for r in group if r["order"] == order]) | {"schedule": name} for order in orders]
        for c in compare(group, orders=orders, reference=reference, metrics=METRICS):
            comparisons.append(c | {"schedule": name})
    if len(by_schedule) > 1:  # Holm over every comparison of the ablation, not each schedule's alone
        for c, adjusted in zip(comparisons, holm([c["p_value"] for c in comparisons]), strict=True):
            c["p_holm"] = adjusted
            c["sentence"] = f"under {c['schedule']}, " + sentence(c, k=len(comparisons))
    return {
        "orders": list(orders),
        "schedules": list(schedules),
        "seeds": list(seeds),
        "reference": reference,
        "runs": runs,
        "failed_runs": failed_runs,
        "table": table,
        "comparisons": comparisons,
    }


def write_outputs(out_dir: Path, result: dict) -> None:
    """ablation.json, the .md table with the comparisons, ablation.csv, comparisons.csv and the plot
    (``result["plot"]``: its path, or None without matplotlib)."""
    write_json_atomic(out_dir / "ablation.json", result)
    _write_table(out_dir, result)
    result["plot"] = _plot(out_dir, result["runs"], result["table"], result["comparisons"])


def _run_record(order: str, seed: int, summary: dict) -> dict:
    record = {"order": order, "seed": seed, "train_dir": summary["train_dir"]}
    record |= {m: summary["final"].get(m) for m in METRICS if m != "he_acc" or m in summary["final"]}
    return record | {"evals": summary["evals"]}


def _error_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _row(order: str, runs: list[dict]) -> dict:
    row = {"order": order, "runs": len(runs)}
    for key in METRICS:
        values = [r[key] for r in runs if r.get(key) is not None]
        row[f"{key}_mean"] = statistics.fmean(values) if values else math.nan
        row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return row


def _write_table(out_dir: Path, result: dict) -> None:
    table, comparisons = result["table"], result["comparisons"]
    lines = [
        f"| order | he_loss (mean ± std, {len(result['seeds'])} seeds) | en_loss (mean ± std) | he_acc (mean ± std) |",
        "|---|---|---|---|",
    ]
    for row in table:
        lines.append(f"| {ablation_label(row)} | {' | '.join(_mean_std(row, m) for m in METRICS)} |")
    if comparisons:
        lines += [
            "",
            f"Paired differences against `{result['reference']}` (same seed), Holm-corrected across "
            f"{len(comparisons)} comparisons:",
            "",
            "| comparison | metric | n | mean diff | 95% CI (t) | 95% CI (bootstrap) | p | p (Holm) | MDE |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in comparisons:
            lines.append(
                f"| {ablation_label(c)} − {c['reference']} | {c['metric']} | {c['n']} | {_num(c['diff_mean'], '+.4f')} "
                f"| {_interval(c['ci95'])} | {_interval(c['ci95_bootstrap'])} | {_num(c['p_value'], '.3g')} "
                f"| {_num(c['p_holm'], '.3g')} | {_num(c['mde'], '.4f')} |"
            )
        lines += ["", *(f"- {c['sentence']}" for c in comparisons)]
    if result["failed_runs"]:
        lines += ["", "Runs that failed (left out of the table and of their pairs):", ""]
        lines += [f"- {ablation_label(f)}, seed {f['seed']}: {f['error']}" for f in result["failed_runs"]]
    write_text_atomic(out_dir / "ablation.md", "\n".join(lines) + "\n")
    with atomic_write(out_dir / "ablation.csv", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    with atomic_write(out_dir / "comparisons.csv", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COMPARISON_FIELDS)
        writer.writeheader()
        for c in comparisons:
            writer.writerow({k: _csv_cell(c.get(k)) for k in COMPARISON_FIELDS})


def _mean_std(row: dict, metric: str) -> str:
    mean = row[f"{metric}_mean"]
    return "–" if math.isnan(mean) else f"{mean:.4f} ± {row[f'{metric}_std']:.4f}"


def _num(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def _interval(iv: list[float] | None) -> str:
    return "–" if iv is None else f"{iv[0]:+.4f} to {iv[1]:+.4f}"


def _csv_cell(value):
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else value


def _plot(out_dir: Path, runs: list[dict], table: list[dict], comparisons: list[dict]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (curves, bars, diffs) = plt.subplots(1, 3, figsize=(16, 4))
    colors = dict(zip(ORDERS, ("tab:blue", "tab:orange", "tab:green"), strict=True))
    for run in runs:
        train = [r for r in read_metrics(Path(run["train_dir"]) / "metrics.jsonl") if r.get("kind") == "train"]
        curves.plot(
            [r["step"] for r in train],
            [r["loss"] for r in train],
            color=colors[run["order"]],
            alpha=0.6,
            label=run["order"] if run["seed"] == runs[0]["seed"] else None,
        )
    curves.set(xlabel="step", ylabel="training loss", title="training loss by order")
    curves.legend()
    x = range(len(table))
    for offset, key in ((-0.2, "he_loss"), (0.2, "en_loss")):
        bars.bar(
            [i + offset for i in x],
            [r[f"{key}_mean"] for r in table],
            width=0.4,
            yerr=[r[f"{key}_std"] for r in table],
            capsize=4,
            label=key,
        )
    bars.set_xticks(list(x), [r["order"] for r in table])
    bars.set(ylabel="final held-out loss", title="final he/en loss (mean ± std)")
    lows = [r[f"{k}_mean"] - r[f"{k}_std"] for r in table for k in ("he_loss", "en_loss")]
    highs = [r[f"{k}_mean"] + r[f"{k}_std"] for r in table for k in ("he_loss", "en_loss")]
    if all(map(math.isfinite, lows + highs)):
        pad = 0.1 * (max(highs) - min(lows) or 1.0)
        bars.set_ylim(min(lows) - pad, max(highs) + pad)
    bars.legend()
    _plot_differences(diffs, comparisons)
    fig.tight_layout()
    path = out_dir / "ablation.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return str(path)


def _plot_differences(ax, comparisons: list[dict]) -> None:
    """Each comparison's mean paired difference with its 95% t interval, and the zero line."""
    ax.axhline(0, color="black", linewidth=0.8)
    for i, c in enumerate(comparisons):
        if c["diff_mean"] is None:
            continue
        low, high = c["ci95"] or (c["diff_mean"], c["diff_mean"])
        ax.errorbar(
            [i],
            [c["diff_mean"]],
            yerr=[[c["diff_mean"] - low], [high - c["diff_mean"]]],
            fmt="o",
            capsize=4,
            color="tab:red" if c["metric"] == "en_loss" else "tab:blue",
        )
    labels = [f"{ablation_label(c)}−{c['reference']}\n{c['metric']} (n={c['n']})" for c in comparisons]
    ax.set_xticks(range(len(comparisons)), labels, fontsize=7)
    ax.set(ylabel="paired difference", title="order − reference, per seed (mean, 95% CI)")
