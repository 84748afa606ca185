"""`hebatron report RUN`: one self-contained HTML file with the run's figures (inline SVG, no scripts).

Sections appear for what the run has: the curation funnel and drops per reason, the language-ID score
histogram, the perplexity histogram with the phase cutoffs, documents and tokens per phase with the anchor
share, the contamination audit (a warning when he_loss or en_loss is measured on text the phases overlap),
training loss per step coloured by phase, Hebrew and English eval loss after each phase, and the
curriculum ablation table.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import matplotlib

from common.files import run_lock, write_text_atomic
from common.freshness import check_fresh
from common.layout import PHASES, MissingStageOutput, ablation_label, read_json, read_jsonl, read_manifest
from hebatron.catalog import query, read_funnel, view_sources
from hebatron.tables import hebrew_shares, lm_pieces

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

PHASE_COLOURS = {1: "#4c9f70", 2: "#e0a030", 3: "#c0504d"}
plt.rcParams.update(
    {"svg.fonttype": "none", "font.size": 10, "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100}
)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _table(columns: list[str], rows: list[tuple]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)


def funnel_section(run: Path) -> str:
    stats = read_funnel(run)
    funnel = stats["funnel"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1.2]})
    steps = [f["step"] for f in funnel]
    ax1.barh(steps[::-1], [f["documents_out"] for f in funnel][::-1], color="#4a78b5")
    ax1.set_xlabel("documents kept after step")
    reasons = stats["drop_reasons"][:15]
    ax2.barh([r["filter_reason"] for r in reasons][::-1], [r["documents"] for r in reasons][::-1], color="#c0504d")
    ax2.set_xlabel("documents dropped")
    fig.tight_layout()
    rows = [
        (f["step"], f["documents_in"], f["documents_out"], f["dropped"], f["characters_in"], f["characters_out"])
        for f in funnel
    ]
    return (
        f"<h2>Curation funnel</h2><p>{stats['curated_documents']:,} of {stats['input_documents']:,} input "
        f"records curated.</p>{_svg(fig)}"
        + _table(["step", "docs in", "docs out", "dropped", "chars in", "chars out"], rows)
    )


def language_section(run: Path) -> str:
    views = [v for v in ("curated", "excluded") if v in view_sources(run)]
    union = " UNION ALL ".join(f"SELECT lang, lang_score FROM {v}" for v in views)
    _, rows = query(run, f"SELECT lang, lang_score FROM ({union}) WHERE lang_score IS NOT NULL")
    if not rows:
        return ""
    fig, ax = plt.subplots(figsize=(8, 3))
    he = [s for lang, s in rows if lang == "he"]
    other = [s for lang, s in rows if lang != "he"]
    ax.hist(
        [he, other],
        bins=40,
        range=(0, 1),
        stacked=True,
        label=["labelled he", "other languages"],
        color=["#4a78b5", "#aaaaaa"],
    )
    ax.set_xlabel("lid.176 score of the top label")
    ax.set_ylabel("documents")
    ax.legend()
    return f"<h2>Language ID</h2>{_svg(fig)}"


def perplexity_section(run: Path) -> str:
    cut = read_json(run / "cutoffs.json", rerun=f"re-run `hebatron score {run}`")
    _, rows = query(run, "SELECT perplexity, phase FROM curated WHERE perplexity IS NOT NULL")
    import numpy as np

    ppl = np.array([r[0] for r in rows])
    phase = np.array([r[1] for r in rows])
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bins = np.logspace(np.log10(max(ppl.min(), 1e-3)), np.log10(ppl.max() * 1.01), 50)
    ax.hist(
        [ppl[phase == k] for k in PHASES],
        bins=bins,
        stacked=True,
        color=[PHASE_COLOURS[k] for k in PHASES],
        label=[f"phase {k}" for k in PHASES],
    )
    c = cut["cutoffs"]
    for x in (c["low"], c["high"]):
        ax.axvline(x, color="black", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("document perplexity (reference LM)")
    ax.set_ylabel("documents")
    ax.legend()
    table = _table(
        ["phase", "docs", "chars", "LM pieces", "char share", "ppl median"],
        [
            (k, p["documents"], p["characters"], lm_pieces(p), p["character_share"], p["perplexity_median"])
            for k, p in sorted(cut["phases"].items())
        ],
    )
    return (
        f"<h2>Difficulty</h2><p>Cutoffs {c['low']:.1f} / {c['high']:.1f} ({html.escape(c['method'])}).</p>"
        f"{_svg(fig)}{table}"
    )


def shards_section(run: Path) -> str:
    manifest = read_manifest(run)
    phases = sorted(manifest["phases"].items())
    fig, ax = plt.subplots(figsize=(7, 3))
    ks = [k for k, _ in phases]
    he = [p["hebrew"]["tokens"] for _, p in phases]
    en = [p["anchor"]["tokens"] for _, p in phases]
    ax.bar(ks, he, color="#4a78b5", label="Hebrew")
    ax.bar(ks, en, bottom=he, color="#aaaaaa", label="English anchor")
    for i, (_, p) in enumerate(phases):
        ax.text(i, he[i] + en[i], f"{p['anchor_ratio']:.0%} anchor", ha="center", va="bottom")
    ax.set_xlabel("phase")
    ax.set_ylabel("tokens")
    ax.legend()
    cutoffs = run / "cutoffs.json"
    cut = read_json(cutoffs, rerun=f"re-run `hebatron score {run}`") if cutoffs.is_file() else None
    shares = hebrew_shares(manifest, cut)
    rows = [
        (
            k,
            p["hebrew"]["documents"],
            p["hebrew"]["tokens"],
            shares[k][0],
            "" if shares[k][1] is None else shares[k][1],
            p["anchor"]["documents"],
            p["anchor"]["tokens"],
            p["anchor_ratio"],
        )
        for k, p in phases
    ]
    header = ["phase", "he docs", "he tokens", "he token share", "LM piece share", "anchor docs", "anchor tokens"]
    return (
        "<h2>Phases and anchor mixture</h2>"
        + _svg(fig)
        + "<p>The cut-offs balance the phases in the reference LM's SentencePiece pieces; the model trains on "
        "the tokenizer's tokens, whose shares are shown beside them.</p>" + _table([*header, "anchor share"], rows)
    )


def training_section(train_dir: Path) -> str:
    path = train_dir / "metrics.jsonl"
    metrics, cut = read_jsonl(path, rerun=f"train into a new -o directory, or delete {path} and its checkpoints")
    steps = [m for m in metrics if m.get("kind") == "train"]
    evals = [m for m in metrics if m.get("kind") == "eval"]
    parts = [f"<h2>Training ({html.escape(str(train_dir))})</h2>"]
    if cut:
        parts.append(
            f"<p class='muted'>The last line of {html.escape(str(path))} is cut short (a write interrupted or still "
            "under way) and is left out.</p>"
        )
    if steps:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        for k in sorted({m["phase"] for m in steps}):
            pts = [m for m in steps if m["phase"] == k]
            ax.plot(
                [m["step"] for m in pts],
                [m["loss"] for m in pts],
                ".-",
                markersize=3,
                color=PHASE_COLOURS.get(int(k), "#333"),
                label=f"phase {k}",
            )
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.legend()
        parts.append(_svg(fig))
    if evals:
        fig, ax = plt.subplots(figsize=(6, 3))
        x = [str(m["after_phase"]) for m in evals]
        ax.plot(x, [m["he_loss"] for m in evals], "o-", color="#4a78b5", label="Hebrew (held out)")
        ax.plot(x, [m["en_loss"] for m in evals], "s-", color="#888888", label="English (held out)")
        ax.set_xlabel("after phase")
        ax.set_ylabel("eval loss")
        ax.legend()
        parts.append(_svg(fig))
        parts.append(
            _table(
                ["after phase", "he_loss", "en_loss"], [(m["after_phase"], m["he_loss"], m["en_loss"]) for m in evals]
            )
        )
    return "".join(parts)


def ablation_section(ablation_dir: Path) -> str:
    data = read_json(ablation_dir / "ablation.json", rerun=f"re-run `hebatron ablate RUN -o {ablation_dir}`")
    rows = [
        (ablation_label(t), t["he_loss_mean"], t["he_loss_std"], t["en_loss_mean"], t["en_loss_std"], t["runs"])
        for t in data["table"]
    ]
    fig, ax = plt.subplots(figsize=(6, 3))
    x = range(len(rows))
    ax.errorbar(
        [i - 0.1 for i in x],
        [r[1] for r in rows],
        yerr=[r[2] for r in rows],
        fmt="o",
        capsize=4,
        color="#4a78b5",
        label="Hebrew (held out)",
    )
    ax.errorbar(
        [i + 0.1 for i in x],
        [r[3] for r in rows],
        yerr=[r[4] for r in rows],
        fmt="s",
        capsize=4,
        color="#888888",
        label="English (held out)",
    )
    ax.set_xticks(list(x), [r[0] for r in rows])
    ax.set_ylabel("final eval loss (mean ± std)")
    ax.legend()
    return (
        "<h2>Curriculum ablation</h2>"
        + _svg(fig)
        + _table(["order", "he_loss mean", "he_loss std", "en_loss mean", "en_loss std", "runs"], rows)
        + _comparisons_html(data)
    )


def _comparisons_html(data: dict) -> str:
    """The paired comparisons against the reference order: one sentence each, the table, the failed runs.
    An ablation.json written before comparisons existed has none, and shows none."""
    comparisons, failed = data.get("comparisons") or [], data.get("failed_runs") or []
    parts = []
    if comparisons:
        parts.append(
            f"<h3>Paired differences against {html.escape(str(data.get('reference', 'forward')))}</h3>"
            + "<ul>"
            + "".join(f"<li>{html.escape(c['sentence'])}</li>" for c in comparisons)
            + "</ul>"
        )
        rows = [
            (
                f"{ablation_label(c)} − {c['reference']}",
                c["metric"],
                c["n"],
                c["diff_mean"],
                _ci(c["ci95"]),
                _ci(c.get("ci95_bootstrap")),
                c["p_value"],
                c["p_holm"],
                c["mde"],
            )
            for c in comparisons
        ]
        columns = ["comparison", "metric", "n", "mean diff", "95% CI (t)", "95% CI (bootstrap)", "p", "p (Holm)"]
        parts.append(_table([*columns, "MDE"], rows))
    if failed:
        parts.append(
            "<p>Runs that failed (left out of the table and of their pairs):</p><ul>"
            + "".join(f"<li>{html.escape(_failed_line(f))}</li>" for f in failed)
            + "</ul>"
        )
    return "".join(parts)


def _failed_line(failed: dict) -> str:
    return f"{ablation_label(failed)}, seed {failed['seed']}: {failed['error']}"


def _ci(interval: list[float] | None) -> str:
    return "" if interval is None else f"{interval[0]:+.4g} to {interval[1]:+.4g}"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{margin-bottom:0}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}svg{max-width:100%;height:auto}
.muted{color:#777}"""


def write_report(
    run: Path,
    *,
    train_dirs: list[Path] | None = None,
    ablation_dir: Path | None = None,
    out: Path | None = None,
    sft_dir: Path | None = None,
) -> Path:
    """Writes RUN/report.html (or OUT); returns its path. Holds the run's lock, so no stage rewrites the files
    it reads meanwhile (a training directory is read as it is: a line cut by a training still writing is left
    out)."""
    run = Path(run)
    if not run.is_dir():
        raise MissingStageOutput(f"run directory not found: {run}")
    with run_lock(run):
        return _write_report(run, train_dirs, ablation_dir, out, sft_dir)


def _write_report(
    run: Path, train_dirs: list[Path] | None, ablation_dir: Path | None, out: Path | None, sft_dir: Path | None = None
) -> Path:
    read_funnel(run)  # the funnel, which every report starts with: missing or damaged is one line naming it
    check_fresh(run, "train", command="report")
    sections = [funnel_section(run), language_section(run)]
    if (run / "cutoffs.json").is_file():
        sections.append(perplexity_section(run))
    if (run / "shards" / "manifest.json").is_file():
        from hebatron.contamination import contamination_section

        sections.append(shards_section(run))
        sections.append(contamination_section(run, train_dirs or [], _table))
    for train_dir in train_dirs or []:
        if (train_dir / "metrics.jsonl").is_file():
            sections.append(training_section(train_dir))
    if ablation_dir and (ablation_dir / "ablation.json").is_file():
        sections.append(ablation_section(ablation_dir))
    if (run / "sft" / "stats.json").is_file() or sft_dir is not None:
        from hebatron.report_sft import sft_section

        sections.append(sft_section(run, sft_dir))
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Hebatron run report</title>"
        f"<style>{STYLE}</style></head><body><h1>Hebatron run report</h1>"
        f"<p class='muted'>{html.escape(str(run.resolve()))}</p>{''.join(sections)}</body></html>"
    )
    out = out or run / "report.html"
    write_text_atomic(out, page)
    return out
