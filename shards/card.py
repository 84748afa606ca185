"""``RUN/shards/README.md``: the dataset card that tells Hugging Face ``datasets`` what the shard folder holds.

Without it ``datasets.load_dataset("RUN/shards")`` guesses splits from file names and finds only
``eval/anchor.parquet`` (as "test"). The card's YAML front matter declares one config per phase (``phase-1``,
``phase-2``, ``phase-3``: split ``train``, the phase's parquet parts as the manifest lists them) and the held-out
English set apart (config ``eval``, split ``test``). There is no default config: ``load_dataset("RUN/shards")``
asks for a config name instead of silently returning one phase as if it were the whole set.
"""

from __future__ import annotations

import json
from pathlib import Path

from common.files import write_text_atomic
from common.layout import PHASES

__all__ = ["CARD_NAME", "card_text", "write_card"]

CARD_NAME = "README.md"


def _config(name: str, split: str, paths: list[str]) -> list[str]:
    lines = [f"- config_name: {name}", "  data_files:", f"  - split: {split}", "    path:"]
    return lines + [f"    - {json.dumps(p)}" for p in paths]


def card_text(manifest: dict) -> str:
    """The card for a shard folder described by ``manifest`` (paths relative to the folder)."""
    configs: list[str] = []
    for k in PHASES:  # a phase without rows has no files, and no config (datasets cannot read an empty one)
        if paths := [f["path"] for f in manifest["phases"][str(k)]["files"]]:
            configs += _config(f"phase-{k}", "train", paths)
    configs += _config("eval", "test", [manifest["eval"]["anchor"]["path"]])
    rows = []
    for k in PHASES:
        phase = manifest["phases"][str(k)]
        rows.append(
            f"| `phase-{k}` | train | {phase['hebrew']['documents']:,} | {phase['anchor']['documents']:,} "
            f"| {phase['anchor_ratio']:.4f} |"
        )
    rows.append(f"| `eval` | test | 0 | {manifest['eval']['anchor']['documents']:,} | |")
    recipe = (manifest.get("recipe") or {}).get("name")
    body = [
        "# Hebatron shards" + (f" ({recipe})" if recipe else ""),
        "",
        "Hebrew documents cut into three curriculum phases by perplexity, each mixed with English anchor text "
        "(`role`: `hebrew` | `anchor`). Columns: `id`, `text`, `lang`, `role`, `phase`, `perplexity` (null for "
        "anchors); the `eval` set holds held-out English anchors (`id`, `text`, `lang`, `role`). "
        "`manifest.json` lists every file with its sha256 and token counts.",
        "",
        "```python",
        "from datasets import load_dataset",
        'phase_1 = load_dataset("path/to/shards", "phase-1", split="train")',
        'english_eval = load_dataset("path/to/shards", "eval", split="test")',
        "```",
        "",
        "| config | split | Hebrew documents | anchor documents | anchor token share |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    return "\n".join(["---", "configs:", *configs, "---", "", *body])


def write_card(shards_dir: Path, manifest: dict) -> Path:
    """Write ``shards_dir/README.md`` atomically; returns its path."""
    path = Path(shards_dir) / CARD_NAME
    write_text_atomic(path, card_text(manifest))
    return path
