"""What the CLI and the report say of a run's contamination audit (the manifest's ``contamination`` entry)."""

from __future__ import annotations

import html
from pathlib import Path

from common.layout import read_jsonl, read_manifest

EVAL_OF = {"eval-he": "he_loss", "eval-en": "en_loss"}


def contamination_rows(manifest: dict) -> list[tuple]:
    """(phase, task, documents, tokens, hebrew documents, anchor documents) for every phase and audited task."""
    entry = manifest.get("contamination") or {}
    return [
        (k, task, c["documents"], c["tokens"], c["hebrew_documents"], c["anchor_documents"])
        for k, phase in sorted(entry.get("phases", {}).items())
        for task, c in sorted(phase.items())
    ]


def eval_overlaps(manifest: dict) -> dict[str, list[tuple[str, int, int]]]:
    """he_loss / en_loss -> [(phase, documents, tokens)] of the phases holding text of that eval set."""
    out: dict[str, list] = {}
    for k, task, docs, tokens, *_ in contamination_rows(manifest):
        if task in EVAL_OF and docs:
            out.setdefault(EVAL_OF[task], []).append((k, docs, tokens))
    return out


def _trained_evals(train_dirs: list[Path]) -> set[str]:
    """The eval losses the training directories measured."""
    found: set[str] = set()
    for d in train_dirs:
        path = d / "metrics.jsonl"
        if path.is_file():
            metrics, _ = read_jsonl(path, rerun=f"delete {path}")
            found |= {key for m in metrics if m.get("kind") == "eval" for key in EVAL_OF.values() if key in m}
    return found


def contamination_section(run: Path, train_dirs: list[Path], table) -> str:
    """The report's section: a warning when a measured eval loss is on text the training phases hold, then the
    audit's table. TABLE(columns, rows) renders a table."""
    manifest = read_manifest(run)
    rows = contamination_rows(manifest)
    if not rows:
        return ""
    parts = ["<h2>Contamination audit</h2>"]
    measured = _trained_evals(train_dirs)
    for loss, phases in sorted(eval_overlaps(manifest).items()):
        if loss in measured:
            where = ", ".join(f"phase {k}: {d:,} documents, {t:,} tokens" for k, d, t in phases)
            parts.append(
                f"<p style='color:#b00;font-weight:bold'>Warning: {loss} is measured on text that the training "
                f"phases overlap ({html.escape(where)}); it is not fully held out.</p>"
            )
    n = manifest["contamination"].get("n_grams", 12)
    parts.append(
        f"<p>Documents of each phase sharing a {n}-word n-gram (Hebrew-aware canonical words) with each audited "
        "set: <code>eval-he</code> and <code>eval-en</code> are the held-out sets of he_loss and en_loss. Every "
        "document is a row of the <code>contamination</code> view.</p>"
    )
    header = ["phase", "task", "documents", "tokens", "hebrew docs", "anchor docs"]
    return "".join(parts) + table(header, rows)
