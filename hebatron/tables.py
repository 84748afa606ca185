"""The tables the CLI prints: the curation funnel, the phases, the shards, the token files."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

console = Console() if sys.stdout.isatty() else Console(width=160)


def print_funnel(stats: dict) -> None:
    table = Table("step", "docs in", "docs out", "dropped", "chars in", "chars out", title="Curation funnel")
    for row in stats["funnel"]:
        table.add_row(
            row["step"],
            f"{row['documents_in']:,}",
            f"{row['documents_out']:,}",
            f"{row['dropped']:,}",
            f"{row['characters_in']:,}",
            f"{row['characters_out']:,}",
        )
    console.print(table)
    reasons = Table("filter_reason", "documents", "characters", title="Drops per reason")
    for row in stats["drop_reasons"]:
        reasons.add_row(row["filter_reason"], f"{row['documents']:,}", f"{row['characters']:,}")
    console.print(reasons)
    console.print(f"curated {stats['curated_documents']:,} of {stats['input_documents']:,} input records")


def print_phases(cut: dict) -> None:
    c = cut["cutoffs"]
    how = (
        f"percentiles {c['percentiles'][0]:g}/{c['percentiles'][1]:g} ({c['weight']}-weighted)"
        if c["method"] == "percentiles"
        else "fixed"
    )
    table = Table(
        "phase",
        "docs",
        "chars",
        "LM pieces",
        "char share",
        "ppl min",
        "ppl median",
        "ppl max",
        title=f"Phases: cutoffs {c['low']:.1f} / {c['high']:.1f}, {how}",
    )
    for k, p in sorted(cut["phases"].items()):
        ppl = (
            f"{p[f'perplexity_{m}']:.1f}" if p[f"perplexity_{m}"] is not None else "" for m in ("min", "median", "max")
        )
        table.add_row(
            k, f"{p['documents']:,}", f"{p['characters']:,}", f"{lm_pieces(p):,}", f"{p['character_share']:.3f}", *ppl
        )
    console.print(table)
    excluded = cut["documents"].get("excluded") or {}
    if excluded:
        console.print("not scored: " + ", ".join(f"{r} {n}" for r, n in excluded.items()))


def lm_pieces(phase: dict) -> int:
    """A phase's reference-LM SentencePiece pieces in cutoffs.json (``tokens`` in runs scored before the key
    was named apart from the trainer's tokens)."""
    return phase["lm_pieces"] if "lm_pieces" in phase else phase["tokens"]


def hebrew_shares(manifest: dict, cut: dict | None) -> dict[str, tuple[float, float | None]]:
    """Phase -> (its share of the Hebrew tokens the trainer reads, its share of the reference LM's pieces): the
    cut-offs balance the second, training sees the first, and they differ most where scripts tokenize apart
    (pointed text, for one)."""
    he = {k: p["hebrew"]["tokens"] for k, p in manifest["phases"].items()}
    pieces = {k: lm_pieces(p) for k, p in (cut or {}).get("phases", {}).items()}
    total_he, total_pieces = sum(he.values()) or 1, sum(pieces.values()) or 1
    return {k: (he[k] / total_he, pieces[k] / total_pieces if k in pieces else None) for k in he}


def print_shards(manifest: dict, cut: dict | None = None) -> None:
    table = Table(
        "phase",
        "files",
        "he docs",
        "he tokens",
        "he token share",
        "LM piece share",
        "he repeated",
        "anchor docs",
        "anchor tokens",
        "anchor repeated",
        "anchor share",
        title=f"Shards (tokenizer {manifest['tokenizer']['name']})",
    )
    shares = hebrew_shares(manifest, cut)
    for k, p in sorted(manifest["phases"].items()):
        trained, pieces = shares[k]
        table.add_row(
            k,
            str(len(p["files"])),
            f"{p['hebrew']['documents']:,}",
            f"{p['hebrew']['tokens']:,}",
            f"{trained:.3f}",
            "" if pieces is None else f"{pieces:.3f}",
            f"{p['hebrew'].get('repeated', 0):,}",
            f"{p['anchor']['documents']:,}",
            f"{p['anchor']['tokens']:,}",
            f"{p['anchor']['repeated']:,}",
            f"{p['anchor_ratio']:.3f}",
        )
    console.print(table)
    if r := manifest.get("rehydration"):
        console.print(f"rehydrated with the {r['weights_from']} weights {{cluster size: copies}} {r['weights']}")


def print_tokens(summary: dict) -> None:
    table = Table("dataset", "documents", "tokens", title=f"Megatron token files ({summary['dtype']})")
    for k, p in sorted(summary["phases"].items()):
        for role in ("hebrew", "anchor"):
            table.add_row(f"phase-{k}/{role}", f"{p[role]['documents']:,}", f"{p[role]['tokens']:,}")
    for lang, e in summary["eval"].items():
        table.add_row(f"eval/{lang}", f"{e['documents']:,}", f"{e['tokens']:,}")
    console.print(table)


def print_rows(columns: list[str], rows: list[tuple]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def print_contamination(manifest: dict) -> None:
    """The audit: per phase and task, the documents and tokens sharing an n-gram with it."""
    from hebatron.contamination import contamination_rows

    rows = contamination_rows(manifest)
    if not rows:
        return
    table = Table("phase", "task", "documents", "tokens", "hebrew", "anchor", title="Contamination (n-gram overlap)")
    for k, task, docs, tokens, he, en in rows:
        table.add_row(k, task, f"{docs:,}", f"{tokens:,}", f"{he:,}", f"{en:,}")
    console.print(table)
