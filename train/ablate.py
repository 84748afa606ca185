"""The curriculum ablation: the same model trained per order (forward, reversed, shuffled) and seed.

``DIR/<order>-seed<S>/`` holds each run (a normal TRAIN_DIR, so an interrupted ablation resumes run by
run); ``DIR/ablation.json`` every run's final evaluation and the mean ± std per order;
``DIR/ablation.md`` and ``DIR/ablation.csv`` the table; ``DIR/ablation.png`` the plot (matplotlib).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from common.files import atomic_path, atomic_write, run_lock, write_json_atomic, write_text_atomic
from common.layout import ORDERS
from train.config import ModelConfig, TrainConfig
from train.distributed import lock_name
from train.metrics import read_metrics

__all__ = ["ablate"]


def ablate(
    run_dir: Path,
    out_dir: Path,
    *,
    orders: Sequence[str] = ORDERS,
    seeds: int | Sequence[int] = 3,
    model: ModelConfig,
    train: TrainConfig,
    recipe_name: str = "ablation",
    echo=print,
) -> dict:
    """Train one run per order and seed (``seeds``: a count, starting at ``train.seed``, or the seeds) and
    summarize the final ``he_loss`` and ``en_loss`` per order. Returns what ``ablation.json`` holds."""
    from train.loop import train_run

    for order in orders:
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; choose from {', '.join(ORDERS)}")
    seed_list = [train.seed + i for i in range(seeds)] if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or not orders:
        raise ValueError("the ablation needs at least one order and one seed")
    out_dir = Path(out_dir)
    with run_lock(out_dir, name=lock_name()):  # every run's folder is locked again by train_run
        runs = []
        for order in orders:
            for seed in seed_list:
                run_train = dataclasses.replace(train, order=order, seed=seed)
                echo(f"ablation: order {order}, seed {seed}")
                summary = train_run(
                    run_dir,
                    out_dir / f"{order}-seed{seed}",
                    model=model,
                    train=run_train,
                    recipe_name=recipe_name,
                    echo=echo,
                )
                runs.append(
                    {
                        "order": order,
                        "seed": seed,
                        "train_dir": summary["train_dir"],
                        "he_loss": summary["final"].get("he_loss"),
                        "en_loss": summary["final"].get("en_loss"),
                        "evals": summary["evals"],
                    }
                )
        table = [_row(order, [r for r in runs if r["order"] == order]) for order in orders]
        result = {
            "orders": list(orders),
            "seeds": seed_list,
            "runs": runs,
            "table": table,
            "model": dataclasses.asdict(model),
            "train": dataclasses.asdict(train),
        }
        write_json_atomic(out_dir / "ablation.json", result)
        _write_table(out_dir, table, len(seed_list))
        result["plot"] = _plot(out_dir, runs, table)
        if result["plot"] is None:
            echo("matplotlib is not installed: ablation.png not written")
        return result


def _row(order: str, runs: list[dict]) -> dict:
    row = {"order": order, "runs": len(runs)}
    for key in ("he_loss", "en_loss"):
        values = [r[key] for r in runs if r[key] is not None]
        row[f"{key}_mean"] = statistics.fmean(values) if values else math.nan
        row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return row


def _write_table(out_dir: Path, table: list[dict], n_seeds: int) -> None:
    lines = [f"| order | he_loss (mean ± std, {n_seeds} seeds) | en_loss (mean ± std) |", "|---|---|---|"]
    for row in table:
        lines.append(
            f"| {row['order']} | {row['he_loss_mean']:.4f} ± {row['he_loss_std']:.4f} "
            f"| {row['en_loss_mean']:.4f} ± {row['en_loss_std']:.4f} |"
        )
    write_text_atomic(out_dir / "ablation.md", "\n".join(lines) + "\n")
    with atomic_write(out_dir / "ablation.csv", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def _plot(out_dir: Path, runs: list[dict], table: list[dict]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (curves, bars) = plt.subplots(1, 2, figsize=(11, 4))
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
    fig.tight_layout()
    path = out_dir / "ablation.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return str(path)
