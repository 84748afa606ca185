"""The `hebatron` command line. Each command parses its options, calls one stage function, prints.

Commands import only what they run, so `hebatron --help` and `hebatron sql` start in well under a second.
Also the entry point for distributed training: `torchrun --nproc_per_node N -m hebatron train ...`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="From raw Hebrew web text to an easy-to-hard MoE pretraining curriculum.",
)


def say(message: str) -> None:
    """A progress line on stderr (stdout stays for results)."""
    print(message, file=sys.stderr, flush=True)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")] = False) -> None:
    from common.logs import configure

    configure(verbose)


def _numbers(text: str | None, flag: str, n: int, example: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise typer.BadParameter(f"{flag} takes {n} numbers, e.g. {example} (got {text!r})")
    return values


def _replace(config, **changes):
    """CONFIG with the options the user gave (None = not given)."""
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})


@app.command("sample-crawl")
def sample_crawl(
    out: Annotated[Path, typer.Argument(help="Folder for crawl.warc.gz and labels.jsonl.")],
    n_news: Annotated[int, typer.Option(help="News articles; every other kind scales with it.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
) -> None:
    """Write a realistic small Hebrew crawl (WARC of HTML pages) built from real offline text, with labels."""
    from hebatron.sample_crawl import build_sample_crawl
    from hebatron.tables import console, print_rows

    crawl = build_sample_crawl(out, n_news=n_news, seed=seed, progress=True)
    console.print(f"wrote {crawl.warc_path} and {crawl.labels_path}")
    print_rows(["kind", "pages"], sorted(crawl.counts.items()))


Decontaminate = Annotated[
    list[str] | None,
    typer.Option(
        "--decontaminate",
        help="Index folder (hebatron decont-index) or benchmark JSONL: documents holding one of its n-grams go to "
        "`excluded` as decontamination:<task>; repeatable.",
    ),
]


@app.command("decont-index")
def decont_index(
    benchmarks: Annotated[
        list[Path], typer.Argument(help="Benchmark JSONL files: `text`, or `query`/`answer`; task from `task` or stem.")
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Index folder to write.")],
    ngrams: Annotated[int, typer.Option(help="Words per n-gram.")] = 12,
) -> None:
    """An n-gram index of benchmark text (datatrove's format, Hebrew-aware words) for --decontaminate."""
    from curation.decont.index import build_index
    from hebatron.tables import print_rows

    meta = build_index(benchmarks, out, n_grams=ngrams)
    print_rows(["task", "n-grams", "sources"], [(t, v["ngrams"], len(v["sources"])) for t, v in meta["tasks"].items()])
    print(f"wrote {out}")


@app.command()
def curate(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help=".warc[.gz], .jsonl[.gz], .parquet files or folders, or fsspec URLs (s3://bucket/prefix/, globs)."
        ),
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory.")],
    recipe: Annotated[str, typer.Option(help="Recipe name or YAML path.")] = "default",
    executor: Annotated[str, typer.Option(help="local | ray | slurm")] = "local",
    workers: Annotated[int, typer.Option(help="Parallel tasks (processes, Ray workers).")] = 1,
    tasks: Annotated[int | None, typer.Option(help="Tasks per stage (default: one per input file).")] = None,
    slurm_partition: Annotated[str, typer.Option(help="Slurm partition.")] = "cpu",
    slurm_time: Annotated[str, typer.Option(help="Slurm time limit per task.")] = "12:00:00",
    dry_run: Annotated[bool, typer.Option(help="Slurm: write the sbatch scripts, do not submit.")] = False,
    text_key: Annotated[
        str | None, typer.Option(help="JSONL/Parquet field of the text, a dotted path (default: by layout).")
    ] = None,
    id_key: Annotated[str | None, typer.Option(help="Field of the id, e.g. warc_headers.warc-record-id.")] = None,
    url_key: Annotated[str | None, typer.Option(help="Field of the URL, e.g. warc_headers.warc-target-uri.")] = None,
    decontaminate: Decontaminate = None,
) -> None:
    """Extract, normalize, language-identify, quality-filter and deduplicate Hebrew web text."""
    from curation.executors import SlurmOptions
    from curation.run import curate as run_curate
    from hebatron.recipes import load_recipe
    from hebatron.tables import console, print_funnel

    if executor not in ("local", "ray", "slurm"):
        raise typer.BadParameter(f"--executor must be local, ray or slurm, not {executor!r}")
    cfg = load_recipe(recipe).curation
    try:
        reader = _replace(cfg.reader, text_key=text_key, id_key=id_key, url_key=url_key)
    except ValueError as e:
        raise typer.BadParameter(str(e).replace("reader.", "--").replace("_key", "-key")) from None
    cfg = dataclasses.replace(cfg, reader=reader, decontaminate=tuple(decontaminate or cfg.decontaminate))
    slurm = SlurmOptions(
        partition=slurm_partition,
        time=slurm_time,
        dry_run=dry_run,
        venv_path=str(Path(sys.prefix) / "bin" / "activate"),
    )
    say(f"curating {len(inputs)} input(s) into {out} ({executor}, {workers} worker(s))")
    result = run_curate(
        inputs,
        out,
        cfg,
        executor=executor,
        workers=workers,
        tasks=tasks,
        slurm=slurm,
        progress=workers == 1 and executor == "local",
    )
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


@app.command("train-lm")
def train_lm(
    corpus: Annotated[
        list[Path], typer.Argument(help="Text (.txt, one document per line), .jsonl or .parquet files or folders.")
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Model directory to write.")],
    vocab_size: Annotated[int, typer.Option(help="SentencePiece unigram vocabulary.")] = 8000,
    order: Annotated[int, typer.Option(help="KenLM n-gram order (2-6).")] = 5,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model directory.")] = False,
) -> None:
    """Train a CCNet-style reference LM: SentencePiece unigram + KenLM modified Kneser-Ney n-gram."""
    from difficulty.lm import train_reference_lm
    from hebatron.tables import console

    say(f"training the reference LM on {len(corpus)} source(s)")
    model = train_reference_lm(corpus, out, vocab_size=vocab_size, order=order, overwrite=overwrite)
    info = json.loads((model / "model.json").read_text())
    console.print(f"wrote {model}: {json.dumps(info.get('training_data', {}), ensure_ascii=False)}")


@app.command()
def score(
    run: Annotated[Path, typer.Argument(help="A curated run directory.")],
    lm: Annotated[
        Path | None,
        typer.Option(
            help="Reference-LM directory (ours, or CCNet's he.sp.model + he.arpa.bin); default: the built-in HTB model."
        ),
    ] = None,
    recipe: Annotated[str, typer.Option(help="Recipe name or YAML path (its difficulty section).")] = "default",
    percentiles: Annotated[str | None, typer.Option(help="Phase cuts as percentiles, e.g. 33,66.")] = None,
    cutoffs: Annotated[str | None, typer.Option(help="Fixed perplexity cuts instead, e.g. 1320,1830.")] = None,
    executor: Annotated[str, typer.Option(help="local | ray | slurm")] = "local",
    workers: Annotated[int, typer.Option(help="Parallel tasks (processes, Ray workers).")] = 1,
) -> None:
    """Add `perplexity` and `phase` (1 easy .. 3 hard) to every curated document; write RUN/cutoffs.json."""
    from difficulty.run import score_run
    from hebatron.recipes import load_recipe
    from hebatron.tables import print_phases

    cfg = _replace(
        load_recipe(recipe).difficulty,
        percentiles=_numbers(percentiles, "--percentiles", 2, "33,66"),
        cutoffs=_numbers(cutoffs, "--cutoffs", 2, "1320,1830"),
        lm_dir=lm,
    )
    print_phases(score_run(run, config=cfg, executor=executor, workers=workers, progress=True, echo=say))


@app.command()
def shard(
    run: Annotated[Path, typer.Argument(help="A scored run directory.")],
    anchor: Annotated[
        list[str],
        typer.Option(
            "--anchor", help="English anchor JSONL/Parquet files, folders or URLs (a `text` field); repeatable."
        ),
    ],
    recipe: Annotated[str, typer.Option(help="Recipe name or YAML path (its shards section).")] = "default",
    anchor_ratio: Annotated[
        str | None, typer.Option(help="English share of each phase's tokens, e.g. 0.3,0.2,0.1.")
    ] = None,
    shard_rows: Annotated[int | None, typer.Option(help="Rows per shard file.")] = None,
    seed: Annotated[int | None, typer.Option(help="Shuffle and anchor-draw seed.")] = None,
    allow_repeat: Annotated[bool, typer.Option(help="Repeat anchors when the pool is too small.")] = False,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            help="tokenizer.json or SentencePiece .model to count tokens with (default: train a bilingual BPE)."
        ),
    ] = None,
    rehydrate: Annotated[
        str | None,
        typer.Option(
            help="Repeat curated documents by their cluster size (FineWeb-2's rehydration): bare --rehydrate uses "
            "this run's removal rates; --rehydrate fineweb2-heb (or fineweb2-heb-3 … -10) FineWeb-2's Hebrew weights.",
        ),
    ] = None,
    decontaminate: Decontaminate = None,
    audit: Annotated[
        list[str] | None,
        typer.Option(help="Index or benchmark file to report overlap with (besides the eval sets); repeatable."),
    ] = None,
) -> None:
    """Write per-phase Parquet shards mixed with English anchors, RUN/shards/manifest.json and RUN/tokenizer/."""
    from hebatron.recipes import load_recipe
    from hebatron.tables import print_contamination, print_shards
    from shards.run import shard_run

    r = load_recipe(recipe)
    cfg = _replace(
        r.shards,
        shard_rows=shard_rows,
        seed=seed,
        tokenizer=tokenizer,
        allow_repeat=allow_repeat or None,
        anchor_ratio=_numbers(anchor_ratio, "--anchor-ratio", 3, "0.3,0.2,0.1"),
        rehydrate=rehydrate,
        decontaminate=tuple(decontaminate) if decontaminate else None,
        audit=tuple(audit) if audit else None,
    )
    manifest = shard_run(run, anchor, cfg, recipe_name=r.name, progress=True)
    print_shards(manifest, _cutoffs(run))
    print_contamination(manifest)


@app.command()
def tokenize(
    run: Annotated[Path, typer.Argument(help="A sharded run directory.")],
    tokenizer: Annotated[Path | None, typer.Option(help="Where the manifest's tokenizer file is, if moved.")] = None,
) -> None:
    """Write Megatron token files RUN/tokens/phase-k/{hebrew,anchor}.{bin,idx} and held-out eval sets."""
    from hebatron.tables import print_tokens
    from shards.tokenize import tokenize_run

    print_tokens(tokenize_run(run, tokenizer=tokenizer, progress=True))


@app.command()
def stats(run: Annotated[Path, typer.Argument(help="Run directory.")]) -> None:
    """The curation funnel (documents and characters per step) and drops per reason, read through DuckDB."""
    from hebatron.catalog import query
    from hebatron.tables import print_funnel, print_phases, print_shards

    funnel_cols, funnel = query(run, "SELECT * FROM stats")
    _, reasons = query(run, "SELECT filter_reason, documents, characters FROM drop_reasons")
    _, totals = query(run, "SELECT (SELECT count(*) FROM curated), (SELECT max(documents_in) FROM stats)")
    print_funnel(
        {
            "funnel": [dict(zip(funnel_cols, row, strict=True)) for row in funnel],
            "drop_reasons": [{"filter_reason": r, "documents": d, "characters": c} for r, d, c in reasons],
            "curated_documents": totals[0][0],
            "input_documents": totals[0][1] or 0,
        }
    )
    from common.layout import read_manifest

    cut = _cutoffs(run)
    if cut is not None:
        print_phases(cut)
    if (run / "shards" / "manifest.json").is_file():
        from hebatron.tables import print_contamination

        print_shards(read_manifest(run), cut)
        print_contamination(read_manifest(run))


@app.command()
def sql(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    query_text: Annotated[str, typer.Argument(metavar="SQL", help="Any SQL over the run's views.")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """Run SQL over the views curated, excluded, stats, drop_reasons, step_stats, shards, clusters, contamination,
    token_ranges, lineage."""
    from hebatron.catalog import query

    columns, rows = query(run, query_text)
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], ensure_ascii=False, default=str))
    else:
        from hebatron.tables import print_rows

        print_rows(columns, rows)


@app.command()
def trace(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="A curated/excluded id, a shard row id or an input id.")],
) -> None:
    """Where a document came from and went: source file and position, fate, cluster, phase, shard, token range."""
    from hebatron.lineage import trace as trace_rows

    rows = trace_rows(run, doc_id)
    if not rows:
        raise typer.BadParameter(f"{doc_id!r} is no document, shard row or input id of {run}")
    for row in rows:
        print("\n".join(f"{k:>24}: {v}" for k, v in row.items() if v not in (None, [])) + "\n")


def _cutoffs(run: Path) -> dict | None:
    """RUN/cutoffs.json, or None before `hebatron score` wrote it."""
    from common.layout import read_json

    path = run / "cutoffs.json"
    return read_json(path, rerun=f"re-run `hebatron score {run}`") if path.is_file() else None


# options that train and ablate share
StepsPerPhase = Annotated[int | None, typer.Option(help="Optimizer steps per phase.")]
TokensPerPhase = Annotated[
    str | None, typer.Option(help="equal (the same steps per phase) | proportional (to each phase's tokens).")
]
LrSchedule = Annotated[
    str | None,
    typer.Option(help="wsd (one schedule over all phases) | wsd-per-phase (warmup and decay in each) | constant."),
]

AnchorShare = Annotated[
    str | None,
    typer.Option(help="phase (each phase's own English share) | fixed (their mean in every phase)."),
]
EvalIters = Annotated[
    str | None, typer.Option(help="Global batches of each held-out set per evaluation, or all (every sequence).")
]


def _eval_iters(value: str | None) -> int | str | None:
    if value is None or value == "all":
        return value
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(f"--eval-iters must be a number or 'all', got {value!r}") from None


def _train_recipe(recipe: str, **overrides):
    from hebatron.recipes import load_recipe

    r = load_recipe(recipe)
    return r, _replace(r.train, **overrides)


def _write_summary(path: Path | None, summary: dict) -> None:
    if path is not None:
        from common.files import write_json_atomic

        write_json_atomic(path, summary)


@app.command()
def train(
    run: Annotated[Path, typer.Argument(help="A tokenized run directory.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Training directory.")],
    recipe: Annotated[
        str, typer.Option(help="Model recipe: tiny-moe (CPU), moe-100m, nemotron3-nano-he (GPU).")
    ] = "tiny-moe",
    order: Annotated[str | None, typer.Option(help="forward | reversed | shuffled (no curriculum).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (same seed, same losses on CPU).")] = None,
    steps_per_phase: StepsPerPhase = None,
    tokens_per_phase: TokensPerPhase = None,
    lr_schedule: LrSchedule = None,
    anchor_share: AnchorShare = None,
    eval_iters: EvalIters = None,
    tp: Annotated[int | None, typer.Option(help="Tensor parallel size.")] = None,
    pp: Annotated[int | None, typer.Option(help="Pipeline parallel size.")] = None,
    ep: Annotated[int | None, typer.Option(help="Expert parallel size.")] = None,
    summary: Annotated[Path | None, typer.Option(help="Also write the run's summary as JSON here.")] = None,
    tensorboard: Annotated[
        Path | None, typer.Option(help="Also write the metrics as TensorBoard event files in this folder.")
    ] = None,
    save_interval: Annotated[
        int | None, typer.Option(help="Also checkpoint every N steps inside a phase (0: at phase ends only).")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu | cuda (fails when CUDA is unusable; default: CUDA when available).")
    ] = None,
) -> None:
    """Train the MoE model through the phases (checkpoint and Hebrew/English eval after each).
    Distributed: `torchrun --nproc_per_node N -m hebatron train ...`."""
    from train.loop import train_run

    r, cfg = _train_recipe(
        recipe,
        order=order,
        seed=seed,
        steps_per_phase=steps_per_phase,
        tokens_per_phase=tokens_per_phase,
        lr_schedule=lr_schedule,
        anchor_share=anchor_share,
        eval_iters=_eval_iters(eval_iters),
        tensor_parallel=tp,
        pipeline_parallel=pp,
        expert_parallel=ep,
        save_interval=save_interval,
    )
    result = train_run(
        run, out, model=r.model, train=cfg, recipe_name=r.name, echo=print, tensorboard=tensorboard, device=device
    )
    _write_summary(summary, result)
    if result["status"] == "already_finished":
        print(f"{out}: training already finished; nothing to do")
    print(f"final: {json.dumps(result.get('final'))}  metrics: {Path(out) / 'metrics.jsonl'}")


@app.command()
def export(
    train_dir: Annotated[Path, typer.Argument(help="A training directory (hebatron train -o).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for the Hugging Face model.")],
    phase: Annotated[int | None, typer.Option(help="The checkpoint after this phase (default: the last).")] = None,
    run: Annotated[
        Path | None, typer.Option(help="The run directory, for its tokenizer (default: the one the checkpoint names).")
    ] = None,
) -> None:
    """A phase checkpoint as a Hugging Face transformers model (Mixtral for MoE, Llama for dense; SwiGLU
    recipes only), checked against the Megatron model's logits."""
    from train.export import export as export_model

    result = export_model(train_dir, out, phase=phase, run_dir=run, echo=say)
    print(
        f"wrote {result['out']}: {result['family']} after phase {result['phase']} (step {result['step']}); "
        f"max |logit diff| vs Megatron {result['max_abs_diff']:.2e}"
    )


@app.command()
def ablate(
    run: Annotated[Path, typer.Argument(help="A tokenized run directory.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Ablation directory.")],
    orders: Annotated[str, typer.Option(help="Comma-separated orders.")] = "forward,reversed,shuffled",
    seeds: Annotated[int, typer.Option(help="Seeds per order, from the recipe's seed on.")] = 3,
    recipe: Annotated[str, typer.Option(help="Model recipe.")] = "tiny-moe",
    steps_per_phase: StepsPerPhase = None,
    tokens_per_phase: TokensPerPhase = None,
    lr_schedule: LrSchedule = None,
    anchor_share: AnchorShare = None,
    eval_iters: EvalIters = None,
    lr_schedules: Annotated[
        str | None,
        typer.Option(help="Comma-separated schedules to cross with the orders (orders compared within each)."),
    ] = None,
    summary: Annotated[Path | None, typer.Option(help="Also write the ablation's summary as JSON here.")] = None,
    reference: Annotated[str, typer.Option(help="The order every other order is compared with, seed by seed.")] = (
        "forward"
    ),
) -> None:
    """The curriculum ablation: final he_loss/en_loss per order and, against the reference order, the paired
    difference per seed with its 95% interval, p-value (Holm-corrected) and minimum detectable effect."""
    from train.ablate import ablate as run_ablation

    r, cfg = _train_recipe(
        recipe,
        steps_per_phase=steps_per_phase,
        tokens_per_phase=tokens_per_phase,
        lr_schedule=lr_schedule,
        anchor_share=anchor_share,
        eval_iters=_eval_iters(eval_iters),
    )
    result = run_ablation(
        run,
        out,
        orders=orders.split(","),
        schedules=lr_schedules.split(",") if lr_schedules else None,
        seeds=seeds,
        model=r.model,
        train=cfg,
        recipe_name=r.name,
        reference=reference,
        echo=print,
    )
    _write_summary(summary, result)
    print((Path(out) / "ablation.md").read_text())
    print(f"plot: {(Path(out) / 'ablation.png').resolve()}")


@app.command("sft-data")
def sft_data(
    pairs: Annotated[
        list[Path] | None, typer.Argument(help='JSONL pairs files: {"he": ..., "en": ...} or chat records.')
    ] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory (its tokenizer is used).")] = ...,
    builtin: Annotated[bool, typer.Option(help="Also the installed translators' catalogs (gettext).")] = False,
    recipe: Annotated[str, typer.Option(help="Recipe: its sft.data templates and the model's seq_length.")] = (
        "tiny-moe"
    ),
) -> None:
    """Bilingual pairs -> a tokenized SFT set with loss masks in RUN/sft/ (both translation directions)."""
    from hebatron.recipes import load_recipe
    from hebatron.tables import print_rows
    from shards.sft_data import build_sft_set

    r = load_recipe(recipe)
    stats = build_sft_set(pairs or [], out, builtin=builtin, config=r.sft.data, seq_length=r.model.seq_length)
    print_rows(["dropped", "pairs or samples"], sorted(stats["dropped"].items()))
    print(
        f"{stats['pairs_train']} training pairs -> {stats['samples']} samples in {stats['sequences']} packed "
        f"sequences ({stats['tokens']:,} tokens); {stats['pairs_eval']} held out; {Path(out) / 'sft'}"
    )


@app.command()
def sft(
    run: Annotated[Path, typer.Argument(help="A run directory with RUN/sft/ (hebatron sft-data).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="SFT directory.")],
    from_dir: Annotated[Path, typer.Option("--from", help="The training directory (hebatron train -o).")],
    phase: Annotated[int | None, typer.Option(help="Start from the checkpoint after this phase (default: last).")] = (
        None
    ),
    steps: Annotated[int | None, typer.Option(help="Fine-tuning steps (default: the recipe's sft.steps).")] = None,
    recipe: Annotated[str, typer.Option(help="Recipe whose sft section to use.")] = "tiny-moe",
    device: Annotated[str | None, typer.Option(help="cpu | cuda (default: CUDA when available).")] = None,
) -> None:
    """Supervised fine-tuning on the bilingual pairs from a phase checkpoint (loss on responses only)."""
    from hebatron.recipes import load_recipe
    from train.sft import sft_run

    result = sft_run(
        run, out, from_dir=from_dir, config=load_recipe(recipe).sft, phase=phase, steps=steps, echo=print, device=device
    )
    print(f"before: {json.dumps(result['before'])}")
    print(f"after: {json.dumps(result['after'])}  metrics: {result['metrics']}")


@app.command("run")
def run_all(
    recipe: Annotated[str, typer.Argument(help="Recipe name (e.g. demo) or YAML path.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory.")],
) -> None:
    """Everything the recipe says, in order: sample crawl, curate, score, shard, tokenize, train, report."""
    from hebatron.recipes import load_recipe
    from hebatron.runner import run_recipe
    from hebatron.tables import console

    result = run_recipe(load_recipe(recipe), out, say=say)
    stats(out)
    if "report" in result:
        console.print(f"report: {Path(result['report']).resolve()}")


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    train_dir: Annotated[list[Path] | None, typer.Option("--train", help="Training directories to include.")] = None,
    ablation: Annotated[Path | None, typer.Option(help="Ablation directory to include.")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="HTML file (default RUN/report.html).")] = None,
    sft_dir: Annotated[Path | None, typer.Option("--sft", help="Fine-tuning directory to include.")] = None,
) -> None:
    """Write a self-contained HTML report with the run's plots."""
    from hebatron.report import write_report

    path = write_report(run, train_dirs=train_dir or [], ablation_dir=ablation, out=out, sft_dir=sft_dir)
    print(f"report: {path.resolve()}")


def main() -> None:
    """Entry point: known errors become one line on stderr and exit code 2, never a traceback. Ctrl-C,
    SIGTERM and SIGHUP stop the command cleanly with exit code 128 + the signal's number (130, 143, 129)
    and say how to resume; no helper process is left behind (``hebatron.interrupt``)."""
    from hebatron.interrupt import STOP_SIGNALS, stop_children, stop_on_signals

    received = stop_on_signals()
    try:
        code = _run(received)
    finally:
        stop_children()
    if received:
        code = 128 + received[0]
    if code in (128 + s for s in STOP_SIGNALS):
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            print("interrupted; run the same command again to resume", file=sys.stderr)
    if code:
        raise SystemExit(code)


def _bare_rehydrate(args: list[str]) -> list[str]:
    """``--rehydrate`` given without a value (last, or before another option) means ``--rehydrate run``; typer
    has no options with an optional value."""
    out = list(args)
    for i, a in enumerate(out):
        if a == "--rehydrate" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "run")
            break
    return out


def _run(received: list[int]) -> int:
    """The command's exit code; a known error is printed as one line (exit code 2)."""
    from typer._click.exceptions import ClickException  # typer vendors its own click
    from typer.exceptions import Abort

    from common.errors import HebatronError

    try:
        return (
            app(args=_bare_rehydrate(sys.argv[1:]), standalone_mode=False) or 0
        )  # typer turns Ctrl-C into exit code 130, returned here
    except (KeyboardInterrupt, Abort):
        return 130
    except Exception as e:
        if received:  # raised while stopping on a signal (a helper already gone): the signal is the news
            return 130
        if isinstance(e, ClickException):  # a usage error: the usage line and what was wrong
            e.show()
            return e.exit_code
        if isinstance(e, HebatronError | ValueError):
            print(f"error: {e}", file=sys.stderr)
            return 2
        if isinstance(e, OSError):  # a missing or unwritable path, a full disk: say which file, no traceback
            disk_full = e.errno == errno.ENOSPC
            hint = " (disk full: free space and run the same command again to resume)" if disk_full else ""
            print(f"error: {e}{hint}", file=sys.stderr)
            return 2
        raise
