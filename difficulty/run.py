"""`score_run()`: check the run, lock it, hand the scoring stages (``difficulty.pipeline``) to an executor, and
resume when re-run.

Every curated document ends either in ``RUN/curated`` with ``perplexity`` (float64) and ``phase`` (int8, 1..3)
or in ``RUN/excluded/perplexity-<file>.parquet`` with a ``filter_reason`` (``perplexity:empty`` …);
``RUN/cutoffs.json`` says how the phases were cut, how many documents each holds, and which LM scored them.

Re-running resumes: datatrove's completion markers (``RUN/.work/logs/score*``) skip finished tasks. A finished
scoring with the same settings (cut-off config and LM) and untouched curated files is a no-op that returns
the existing ``cutoffs.json``; other settings score the run again from its curated files, which gives the
same result as scoring it once with those settings (earlier ``perplexity``/``phase`` columns are replaced,
documents excluded earlier stay excluded).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from loguru import logger

from common.errors import HebatronError
from common.files import run_lock, write_json_atomic
from common.freshness import check_fresh, current_sha256, recorded_files, recorded_outputs
from common.layout import RunLayout, read_json
from common.progress import progress_bar
from curation.executors import EXECUTORS, Executor, build_executors, ray_session
from difficulty.phases import DifficultyConfig
from difficulty.pipeline import STAGE_NAMES, PublishScores, base_schema, build_stages
from difficulty.scorer import DocumentScorer, KenLMScorer

__all__ = ["CuratedSchemaError", "Executor", "RunNotCuratedError", "ScoringError", "score_run"]

REQUIRED_COLUMNS = ("id", "text")
# imported once by the forkserver that datatrove's local executor forks its workers from (pandas: pyarrow imports it
# on the first Parquet batch written)
FORKSERVER_PRELOAD = ["difficulty.pipeline", "sentencepiece", "kenlm", "pyarrow.parquet", "pandas"]


class ScoringError(HebatronError, RuntimeError):
    """Options that make no sense, or an interrupted scoring that cannot be finished."""


class RunNotCuratedError(HebatronError, FileNotFoundError):
    """The run has no curated documents to score."""


class CuratedSchemaError(HebatronError, ValueError):
    """A curated file lacks the columns scoring needs, or the curated files disagree on a column's type."""


def _curated_files(run_dir: Path, *, hashes: bool = True) -> list[Path]:
    """The curated files curate (or an earlier scoring) recorded writing, checked (by sha256 with HASHES); a
    run without records: the folder's files."""
    curated = run_dir / "curated"
    files = recorded_files(run_dir, "curated", reader="score", hashes=hashes)
    if files is not None:
        files = [f for f in files if f.suffix == ".parquet"]
    elif not curated.is_dir():
        raise RunNotCuratedError(
            f"{curated}: no curated documents to score; run `hebatron curate INPUT... -o {run_dir}` first"
        )
    else:
        files = sorted(curated.glob("*.parquet"))
    if not files:
        raise RunNotCuratedError(
            f"{curated}: holds no .parquet files; run `hebatron curate INPUT... -o {run_dir}` first"
        )
    return files


def _base_schema(files: list[Path]) -> pa.Schema:
    """The curated columns (without earlier scores) shared by all files; a column missing in some is null there."""
    schemas = []
    for path in files:
        schema = pq.ParquetFile(path).schema_arrow
        if missing := [c for c in REQUIRED_COLUMNS if c not in schema.names]:
            raise CuratedSchemaError(
                f"{path}: curated file lacks column(s) {missing} (has {schema.names}); "
                "score the output of `hebatron curate`"
            )
        schemas.append(base_schema(schema))
    try:
        return pa.unify_schemas(schemas)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise CuratedSchemaError(f"{files[0].parent}: the curated files disagree on column types ({e})") from None


def _make_scorer(lm_dir: Path | None, config: DifficultyConfig) -> DocumentScorer:
    lm_dir = lm_dir or config.lm_dir
    if lm_dir is None:
        from difficulty.lm import default_reference_lm

        lm_dir = default_reference_lm()
    return KenLMScorer(lm_dir, max_chars=config.max_chars)


def _settings_sha256(config: DifficultyConfig, lm: dict) -> str:
    settings = {k: v for k, v in asdict(config).items() if k != "lm_dir"} | {"lm": lm}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cutoffs(run_dir: Path) -> dict:
    return read_json(RunLayout(run_dir).cutoffs, rerun=f"re-run `hebatron score {run_dir}`")


def _published_intact(run_dir: Path, inputs: dict[str, str]) -> bool:
    """Whether what the last scoring wrote is all still there as it wrote it, and its curated files are INPUTS."""
    outputs = recorded_outputs(run_dir, "score")
    if not outputs or _read_json(run_dir / "cutoffs.json") is None:
        return False
    curated = {name: sha for name, sha in outputs.items() if name.startswith("curated/")}
    return curated == inputs and all(current_sha256(run_dir / name) == sha for name, sha in outputs.items())


def _completed(logs: Path, stage: str) -> bool:
    return (logs / stage / "completions" / "00000").exists()


def _wipe(work: Path, logs: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    for stage in STAGE_NAMES:
        shutil.rmtree(logs / stage, ignore_errors=True)


def score_run(
    run_dir: Path,
    *,
    lm_dir: Path | None = None,
    config: DifficultyConfig | None = None,
    scorer: DocumentScorer | None = None,
    progress: bool = True,
    executor: Executor = "local",
    workers: int = 1,
    echo: Callable[[str], None] | None = None,
) -> dict:
    """Add ``perplexity`` and ``phase`` to every curated document of ``run_dir``; returns ``cutoffs.json``
    (for ``executor="slurm"``: the stages submitted).

    ``lm_dir`` (or ``config.lm_dir``) names the reference LM; without either, the default HTB model is built
    once and cached. ``scorer`` replaces the KenLM scorer altogether (it is pickled to the workers). Raises
    ``RunNotCuratedError`` (a ``FileNotFoundError``) when ``RUN/curated/`` is missing or empty,
    ``CuratedSchemaError`` (a ``ValueError``) for a curated file without ``id``/``text``. ``echo`` hears
    ``score: already done`` when the run is already scored with these settings (nothing is redone).
    """
    if executor not in EXECUTORS:
        raise ScoringError(f"executor must be 'local', 'ray' or 'slurm', got {executor!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ScoringError(f"workers must be a positive integer, got {workers!r}")
    run_dir = Path(run_dir).resolve()
    config = config or DifficultyConfig()
    with run_lock(run_dir):  # first: a second command on the run gets RunLocked, one error line
        check_fresh(run_dir, "score")
        return _score_locked(run_dir, lm_dir, config, scorer, progress, executor, workers, echo)


def _score_locked(
    run_dir: Path,
    lm_dir: Path | None,
    config: DifficultyConfig,
    scorer: DocumentScorer | None,
    progress: bool,
    executor: Executor,
    workers: int,
    echo: Callable[[str], None] | None,
) -> dict:
    layout = RunLayout(run_dir)
    work, logs = layout.work / "score", layout.work / "logs"
    previous = _read_json(work / "plan.json")
    interrupted = bool(previous) and not _completed(logs, "score_publish") and (work / "publishing").exists()
    # an interrupted publish: RUN/curated may hold new files already (not yet recorded), so it is finished first
    files = _curated_files(run_dir, hashes=not interrupted)
    if interrupted:
        if previous["files"] != [f.stem for f in files]:
            raise ScoringError(
                f"{run_dir}: an interrupted scoring left files in {work}; delete {work} and "
                f"{logs}/score* and re-run `hebatron score {run_dir}`"
            )
        PublishScores(str(run_dir), str(work), previous["files"], previous["lm"]).run()
        (work / "publishing").unlink()
        files = _curated_files(run_dir)
        previous |= {"inputs": {f"curated/{f.name}": current_sha256(f) for f in files}, "finished_publish": True}
    base = _base_schema(files)
    if not sum(pq.ParquetFile(f).metadata.num_rows for f in files):
        raise ScoringError(
            f"{layout.curated} holds no documents: every input record was excluded (see `hebatron stats "
            f"{run_dir}`); nothing to score"
        )
    scorer = scorer or _make_scorer(lm_dir, config)
    lm = scorer.describe()
    plan = {
        "files": [f.stem for f in files],
        "inputs": {f"curated/{f.name}": current_sha256(f) for f in files},
        "settings_sha256": _settings_sha256(config, lm),
        "lm": lm,
    }
    same = previous is not None and all(previous.get(k) == plan[k] for k in ("files", "settings_sha256"))
    published = previous is not None and (_completed(logs, "score_publish") or previous.get("finished_publish"))
    if same and published and _published_intact(run_dir, plan["inputs"]):
        logger.info(f"{run_dir}: already scored with these settings")
        if echo is not None:
            echo("score: already done")
        return _cutoffs(run_dir)
    if not (same and not published and previous["inputs"] == plan["inputs"]):
        _wipe(work, logs)  # a new scoring (other settings or other curated files) replaces the old one
        work.mkdir(parents=True)
        write_json_atomic(work / "plan.json", plan)
    (work / "inputs.txt").write_text("".join(f"{f.name}\n" for f in files), encoding="utf-8")

    in_process = executor == "local" and workers == 1
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    with progress_bar(progress and in_process) as start:
        advance = start("scoring", rows) if progress and in_process else None
        stages = build_stages(run_dir, work, plan["files"], base, config, scorer, lm, advance)
        last = build_executors(stages, logs, executor, workers, preload=FORKSERVER_PRELOAD)
        with ray_session(executor, workers):
            last.run()
    if executor == "slurm":
        return {"submitted": [s.name for s in stages]}
    (work / "publishing").unlink(missing_ok=True)
    return _cutoffs(run_dir)
