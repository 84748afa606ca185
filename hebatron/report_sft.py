"""The report's supervised fine-tuning section: the bilingual set (``RUN/sft/stats.json``), the fine-tuning
loss, and the evaluations before and after it (translation loss and exact match in both directions, and the
held-out Hebrew and English LM losses, whose rise is what fine-tuning cost in forgetting)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from common.layout import read_jsonl
from hebatron.report import _svg, _table, plt

EVAL_KEYS = ("he2en_loss", "en2he_loss", "he2en_exact", "en2he_exact", "he_loss", "en_loss")


def sft_section(run: Path, sft_dir: Path | None) -> str:
    parts = ["<h2>Bilingual supervised fine-tuning</h2>"]
    stats_path = run / "sft" / "stats.json"
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        parts.append(
            f"<p>{stats['pairs_read']:,} pairs read ({stats['catalogs']} built-in catalogs), "
            f"{stats['pairs_train']:,} for training and {stats['pairs_eval']:,} held out: {stats['samples']:,} "
            f"samples (both directions) packed into {stats['sequences']:,} sequences of {stats['tokens']:,} tokens, "
            f"{stats['response_tokens']:,} of them response tokens (the loss is on those only).</p>"
        )
        parts.append(_table(["dropped", "pairs or samples"], sorted(stats["dropped"].items())))
    if sft_dir is None or not (sft_dir / "metrics.jsonl").is_file():
        return "".join(parts)
    path = sft_dir / "metrics.jsonl"
    metrics, _ = read_jsonl(path, rerun=f"fine-tune into a new -o directory, or delete {path}")
    steps = [m for m in metrics if m.get("kind") == "train"]
    evals = [m for m in metrics if m.get("kind") == "eval" and "step" in m]
    if steps:
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.plot([m["step"] for m in steps], [m["loss"] for m in steps], ".-", markersize=3, color="#6a4c9f")
        ax.set_xlabel("fine-tuning step")
        ax.set_ylabel("response-token loss")
        parts.append(_svg(fig))
    if evals:
        parts.append(_table(["step", *EVAL_KEYS], [(m["step"], *(m.get(k) for k in EVAL_KEYS)) for m in evals]))
        first, last = evals[0], evals[-1]
        if first is not last and all(
            isinstance(x.get(k), float) for x in (first, last) for k in ("he_loss", "en_loss")
        ):
            parts.append(
                f"<p>Forgetting: held-out Hebrew loss {first['he_loss']:.4f} → {last['he_loss']:.4f}, English "
                f"{first['en_loss']:.4f} → {last['en_loss']:.4f} ({html.escape(str(sft_dir))}).</p>"
            )
    return "".join(parts)
