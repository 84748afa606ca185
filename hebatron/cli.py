"""The `hebatron` command line. Each command parses its options, calls one library function, prints."""

from __future__ import annotations

import csv
import errno
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="From raw Hebrew web text to an easy-to-hard MoE pretraining curriculum.")
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True, soft_wrap=True)


def setup_logging(verbose: bool = False) -> None:
    """Configured once: warnings and errors on stderr (everything with --verbose); datatrove's per-task
    logs still go to RUN/.work/logs/."""
    from curation.logs import route_datatrove_logs

    route_datatrove_logs("INFO" if verbose else "WARNING")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")] = False) -> None:
    setup_logging(verbose)


@app.command("sample-crawl")
def sample_crawl(
    out: Annotated[Path, typer.Argument(help="Folder for crawl.warc.gz and labels.jsonl.")],
    n_news: Annotated[int, typer.Option(help="News articles; every other kind scales with it.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
) -> None:
    """Write a realistic small Hebrew crawl (WARC of HTML pages) built from real offline text, with labels."""
    from hebatron.sample_crawl import build_sample_crawl

    crawl = build_sample_crawl(out, n_news=n_news, seed=seed, progress=True)
    console.print(f"wrote {crawl.warc_path} and {crawl.labels_path}")
    table = Table("kind", "pages")
    for kind, n in sorted(crawl.counts.items()):
        table.add_row(kind, str(n))
    console.print(table)


@app.command()
def curate(
    inputs: Annotated[list[Path], typer.Argument(help=".warc[.gz], .jsonl[.gz], .parquet files or folders.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory.")],
    recipe: Annotated[str, typer.Option(help="Recipe name or YAML path.")] = "default",
    executor: Annotated[str, typer.Option(help="local | ray | slurm")] = "local",
    workers: Annotated[int, typer.Option(help="Parallel tasks (processes, Ray workers).")] = 1,
    tasks: Annotated[int | None, typer.Option(help="Tasks per stage (default: one per input file).")] = None,
    slurm_partition: Annotated[str, typer.Option(help="Slurm partition.")] = "cpu",
    slurm_time: Annotated[str, typer.Option(help="Slurm time limit per task.")] = "12:00:00",
    dry_run: Annotated[bool, typer.Option(help="Slurm: write the sbatch scripts, do not submit.")] = False,
) -> None:
    """Extract, normalize, language-identify, quality-filter and deduplicate Hebrew web text."""
    from curation.run import SlurmOptions
    from curation.run import curate as run_curate
    from hebatron.recipes import load_recipe

    if executor not in ("local", "ray", "slurm"):
        raise typer.BadParameter(f"--executor must be local, ray or slurm, not {executor!r}")
    cfg = load_recipe(recipe).curation
    slurm = SlurmOptions(partition=slurm_partition, time=slurm_time, dry_run=dry_run,
                         venv_path=str(Path(sys.prefix) / "bin" / "activate"))
    err.print(f"curating {len(inputs)} input(s) into {out} ({executor}, {workers} worker(s))")
    result = run_curate(inputs, out, cfg, executor=executor, workers=workers, tasks=tasks, slurm=slurm,
                        progress=workers == 1 and executor == "local")
    if "sbatch_scripts" in result:
        console.print("sbatch scripts written (not submitted):")
        for path in result["sbatch_scripts"]:
            console.print(f"  {path}")
        return
    if "submitted" in result:
        console.print(f"submitted {len(result['submitted'])} Slurm stages; outputs appear in {out} when done")
        return
    if result.get("resumed"):
        console.print(f"{out}: curation already complete; nothing to do")
    print_funnel(result)


def print_funnel(stats: dict) -> None:
    table = Table("step", "docs in", "docs out", "dropped", "chars in", "chars out", title="Curation funnel")
    for row in stats["funnel"]:
        table.add_row(row["step"], f"{row['documents_in']:,}", f"{row['documents_out']:,}", f"{row['dropped']:,}",
                      f"{row['characters_in']:,}", f"{row['characters_out']:,}")
    console.print(table)
    reasons = Table("filter_reason", "documents", "characters", title="Drops per reason")
    for row in stats["drop_reasons"]:
        reasons.add_row(row["filter_reason"], f"{row['documents']:,}", f"{row['characters']:,}")
    console.print(reasons)
    console.print(f"curated {stats['curated_documents']:,} of {stats['input_documents']:,} input records")


@app.command("train-lm")
def train_lm(
    corpus: Annotated[list[Path], typer.Argument(help="Text (.txt, one document per line), .jsonl or .parquet "
                                                      "files or folders.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Model directory to write.")],
    vocab_size: Annotated[int, typer.Option(help="SentencePiece unigram vocabulary.")] = 8000,
    order: Annotated[int, typer.Option(help="KenLM n-gram order (2-6).")] = 5,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model directory.")] = False,
) -> None:
    """Train a CCNet-style reference LM: SentencePiece unigram + KenLM modified Kneser-Ney n-gram."""
    from difficulty.lm import train_reference_lm

    err.print(f"training the reference LM on {len(corpus)} source(s)")
    model = train_reference_lm(corpus, out, vocab_size=vocab_size, order=order, overwrite=overwrite)
    info = json.loads((model / "model.json").read_text())
    console.print(f"wrote {model}: {json.dumps(info.get('training_data', {}), ensure_ascii=False)}")


@app.command()
def score(
    run: Annotated[Path, typer.Argument(help="A curated run directory.")],
    lm: Annotated[Path | None, typer.Option(help="Reference-LM directory (ours, or CCNet's he.sp.model + "
                                                 "he.arpa.bin); default: the built-in HTB model.")] = None,
    recipe: Annotated[str, typer.Option(help="Recipe name or YAML path (its difficulty section).")] = "default",
    percentiles: Annotated[str | None, typer.Option(help="Phase cuts as percentiles, e.g. 33,66.")] = None,
    cutoffs: Annotated[str | None, typer.Option(help="Fixed perplexity cuts instead, e.g. 1320,1830.")] = None,
) -> None:
    """Add `perplexity` and `phase` (1 easy .. 3 hard) to every curated document; write RUN/cutoffs.json."""
    import dataclasses

    from difficulty.run import score_run
    from hebatron.recipes import load_recipe

    cfg = load_recipe(recipe).difficulty
    if percentiles:
        cfg = dataclasses.replace(cfg, percentiles=_pair(percentiles, "--percentiles"))
    if cutoffs:
        cfg = dataclasses.replace(cfg, cutoffs=_pair(cutoffs, "--cutoffs"))
    result = score_run(run, lm_dir=lm, config=cfg, progress=True)
    print_phases(result)


def _pair(text: str, flag: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{flag} takes two numbers, e.g. 33,66 (got {text!r})") from None
    return low, high


def print_phases(cut: dict) -> None:
    c = cut["cutoffs"]
    how = (f"percentiles {c['percentiles'][0]:g}/{c['percentiles'][1]:g} ({c['weight']}-weighted)"
           if c["method"] == "percentiles" else "fixed")
    table = Table("phase", "docs", "chars", "tokens", "char share", "ppl min", "ppl median", "ppl max",
                  title=f"Phases: cutoffs {c['low']:.1f} / {c['high']:.1f}, {how}")
    for k, p in sorted(cut["phases"].items()):
        table.add_row(k, f"{p['documents']:,}", f"{p['characters']:,}", f"{p['tokens']:,}",
                      f"{p['character_share']:.3f}", *(f"{p[f'perplexity_{m}']:.1f}" if p[f"perplexity_{m}"]
                                                       is not None else "" for m in ("min", "median", "max")))
    console.print(table)
    excluded = cut["documents"].get("excluded") or {}
    if excluded:
        console.print("not scored: " + ", ".join(f"{r} {n}" for r, n in excluded.items()))


@app.command()
def shard(
    run: Annotated[Path, typer.Argument(help="A scored run directory.")],
    anchor: Annotated[list[Path], typer.Option("--anchor", help="English anchor JSONL/Parquet files or folders "
                                                                 "(a `text` field); repeatable.")],
    recipe: Annotated[str, typer.Option(help="Recipe name or YAML path (its shards section).")] = "default",
    anchor_ratio: Annotated[str | None, typer.Option(help="English share of each phase's tokens, e.g. "
                                                          "0.3,0.2,0.1.")] = None,
    shard_rows: Annotated[int | None, typer.Option(help="Rows per shard file.")] = None,
    seed: Annotated[int | None, typer.Option(help="Shuffle and anchor-draw seed.")] = None,
    allow_repeat: Annotated[bool, typer.Option(help="Repeat anchors when the pool is too small.")] = False,
    tokenizer: Annotated[Path | None, typer.Option(help="tokenizer.json or SentencePiece .model to count "
                                                        "tokens with (default: train a bilingual BPE).")] = None,
) -> None:
    """Write per-phase Parquet shards mixed with English anchors, RUN/shards/manifest.json and RUN/tokenizer/."""
    import dataclasses

    from hebatron.recipes import load_recipe
    from shards import shard_run

    r = load_recipe(recipe)
    changes = {k: v for k, v in {"shard_rows": shard_rows, "seed": seed, "tokenizer": tokenizer}.items()
               if v is not None}
    if anchor_ratio:
        try:
            changes["anchor_ratio"] = tuple(float(x) for x in anchor_ratio.split(","))
        except ValueError:
            raise typer.BadParameter(f"--anchor-ratio takes three numbers, e.g. 0.3,0.2,0.1 "
                                     f"(got {anchor_ratio!r})") from None
    if allow_repeat:
        changes["allow_repeat"] = True
    cfg = dataclasses.replace(r.shards, **changes)
    manifest = shard_run(run, anchor, cfg, recipe={"name": r.name, "shards": dataclasses.asdict(cfg)},
                         progress=True)
    print_shards(manifest)


def print_shards(manifest: dict) -> None:
    table = Table("phase", "files", "he docs", "he tokens", "anchor docs", "anchor tokens", "repeated",
                  "anchor share", title=f"Shards (tokenizer {manifest['tokenizer']['name']})")
    for k, p in sorted(manifest["phases"].items()):
        table.add_row(k, str(len(p["files"])), f"{p['hebrew']['documents']:,}", f"{p['hebrew']['tokens']:,}",
                      f"{p['anchor']['documents']:,}", f"{p['anchor']['tokens']:,}", f"{p['anchor']['repeated']:,}",
                      f"{p['anchor_ratio']:.3f}")
    console.print(table)


@app.command()
def tokenize(
    run: Annotated[Path, typer.Argument(help="A sharded run directory.")],
    tokenizer: Annotated[Path | None, typer.Option(help="Where the manifest's tokenizer file is, if moved.")] = None,
) -> None:
    """Write Megatron token files RUN/tokens/phase-k/{hebrew,anchor}.{bin,idx} and held-out eval sets."""
    from shards import tokenize_run

    summary = tokenize_run(run, tokenizer=tokenizer, progress=True)
    table = Table("dataset", "documents", "tokens", title=f"Megatron token files ({summary['dtype']})")
    for k, p in sorted(summary["phases"].items()):
        for role in ("hebrew", "anchor"):
            table.add_row(f"phase-{k}/{role}", f"{p[role]['documents']:,}", f"{p[role]['tokens']:,}")
    for lang, e in summary["eval"].items():
        table.add_row(f"eval/{lang}", f"{e['documents']:,}", f"{e['tokens']:,}")
    console.print(table)


@app.command()
def stats(run: Annotated[Path, typer.Argument(help="Run directory.")]) -> None:
    """The curation funnel (documents and characters per step) and drops per reason, read through DuckDB."""
    from hebatron.catalog import query

    funnel_cols, funnel = query(run, "SELECT * FROM stats")
    _, reasons = query(run, "SELECT filter_reason, documents, characters FROM drop_reasons")
    _, totals = query(run, "SELECT (SELECT count(*) FROM curated), (SELECT max(documents_in) FROM stats)")
    print_funnel({
        "funnel": [dict(zip(funnel_cols, row, strict=True)) for row in funnel],
        "drop_reasons": [{"filter_reason": r, "documents": d, "characters": c} for r, d, c in reasons],
        "curated_documents": totals[0][0], "input_documents": totals[0][1] or 0,
    })
    if (run / "cutoffs.json").is_file():
        print_phases(json.loads((run / "cutoffs.json").read_text()))
    if (run / "shards" / "manifest.json").is_file():
        print_shards(json.loads((run / "shards" / "manifest.json").read_text()))


@app.command()
def sql(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    query_text: Annotated[str, typer.Argument(metavar="SQL", help="Any SQL over the run's views.")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """Run SQL over the views curated, excluded, stats, drop_reasons."""
    from hebatron.catalog import query

    columns, rows = query(run, query_text)
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], ensure_ascii=False, default=str))
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


def _quiet_megatron() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=".*Transformer Engine and Apex are not installed.*")
    warnings.filterwarnings("ignore", message="Apex is not installed")
    warnings.filterwarnings("ignore", message="full scope is deprecated")
    warnings.filterwarnings("ignore", category=FutureWarning)


def _train_config(recipe: str, **overrides):
    import dataclasses

    from hebatron.recipes import load_recipe

    r = load_recipe(recipe)
    return r, dataclasses.replace(r.train, **{k: v for k, v in overrides.items() if v is not None})


@app.command()
def train(
    run: Annotated[Path, typer.Argument(help="A tokenized run directory.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Training directory.")],
    recipe: Annotated[str, typer.Option(help="Model recipe: tiny-moe (CPU), moe-100m, nemotron3-nano-he (GPU).")]
    = "tiny-moe",
    order: Annotated[str | None, typer.Option(help="forward | reversed | shuffled (no curriculum).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (same seed, same losses on CPU).")] = None,
    steps_per_phase: Annotated[int | None, typer.Option(help="Optimizer steps per phase.")] = None,
    tp: Annotated[int | None, typer.Option(help="Tensor parallel size.")] = None,
    pp: Annotated[int | None, typer.Option(help="Pipeline parallel size.")] = None,
    ep: Annotated[int | None, typer.Option(help="Expert parallel size.")] = None,
) -> None:
    """Train the MoE model through the phases (checkpoint and Hebrew/English eval after each)."""
    _quiet_megatron()
    from train.loop import train_run

    r, cfg = _train_config(recipe, order=order, seed=seed, steps_per_phase=steps_per_phase, tensor_parallel=tp,
                           pipeline_parallel=pp, expert_parallel=ep)
    result = train_run(run, out, model=r.model, train=cfg, recipe_name=r.name, echo=err.print)
    if result["status"] == "already_finished":
        console.print(f"{out}: training already finished; nothing to do")
    console.print(f"final: {json.dumps(result.get('final'))}  metrics: {Path(out) / 'metrics.jsonl'}")


@app.command()
def ablate(
    run: Annotated[Path, typer.Argument(help="A tokenized run directory.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Ablation directory.")],
    orders: Annotated[str, typer.Option(help="Comma-separated orders.")] = "forward,reversed,shuffled",
    seeds: Annotated[int, typer.Option(help="Seeds per order.")] = 3,
    recipe: Annotated[str, typer.Option(help="Model recipe.")] = "tiny-moe",
    steps_per_phase: Annotated[int | None, typer.Option(help="Optimizer steps per phase.")] = None,
) -> None:
    """The curriculum ablation: final he_loss/en_loss mean ± std per order, with a plot."""
    _quiet_megatron()
    from train.ablate import ablate as run_ablation

    r, cfg = _train_config(recipe, steps_per_phase=steps_per_phase)
    run_ablation(run, out, orders=orders.split(","), seeds=seeds, model=r.model, train=cfg, recipe_name=r.name,
                 echo=err.print)
    console.print((Path(out) / "ablation.md").read_text())
    console.print(f"plot: {(Path(out) / 'ablation.png').resolve()}")


@app.command("run")
def run_all(
    recipe: Annotated[str, typer.Argument(help="Recipe name (e.g. demo) or YAML path.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory.")],
) -> None:
    """Everything the recipe says, in order: sample crawl, curate, score, shard, tokenize, train, report."""
    from hebatron.recipes import load_recipe
    from hebatron.runner import run_recipe

    _quiet_megatron()
    result = run_recipe(load_recipe(recipe), out, say=err.print)
    stats(out)
    if "report" in result:
        console.print(f"report: {Path(result['report']).resolve()}")


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    train_dir: Annotated[list[Path] | None, typer.Option("--train", help="Training directories to include.")] = None,
    ablation: Annotated[Path | None, typer.Option(help="Ablation directory to include.")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="HTML file (default RUN/report.html).")] = None,
) -> None:
    """Write a self-contained HTML report with the run's plots."""
    from hebatron.report import write_report

    path = write_report(run, train_dirs=train_dir or [], ablation_dir=ablation, out=out)
    console.print(f"report: {path.resolve()}")


def main() -> None:
    """Entry point: known errors become one line on stderr and exit code 2, never a traceback."""
    from curation.run import CurationError
    from difficulty.lm import LMTrainingError
    from hebatron.catalog import CatalogError
    from hebatron.recipes import RecipeError
    from train.checkpoint import CheckpointMismatch
    from train.megatron_glue import HybridModelUnavailable

    try:
        app()
    except (CurationError, CatalogError, RecipeError, LMTrainingError, CheckpointMismatch, HybridModelUnavailable,
            ValueError) as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        raise SystemExit(2) from None
    except OSError as e:  # a missing or unwritable path, a full disk: say which file, no traceback
        hint = " (disk full: free space and run the same command again to resume)" if e.errno == errno.ENOSPC else ""
        err.print(f"[red]error:[/red] {e}{hint}", highlight=False)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted; run the same command again to resume")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
