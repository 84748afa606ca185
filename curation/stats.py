"""The curation funnel, computed from the run's own Parquet files and saved as RUN/stats.json.

Every input record is either in `curated` or in `excluded` with the step that dropped it, so the funnel
is exact: the documents entering a step are those kept plus those dropped at this or a later step.
Characters are counted on each document's text as it was when it left the pipeline (HTML for pages
that failed extraction, extracted text otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from loguru import logger

from common.files import write_json_atomic
from common.layout import BATCH_ROWS
from common.paths import glob_literal
from curation.output import STEP_ORDER


def _files(run_dir: Path, name: str) -> list[Path]:
    folder = run_dir / name
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def _text_chars(batch) -> int:
    return int(pc.sum(pc.utf8_length(batch.column("text"))).as_py() or 0)


def compute_funnel(run_dir: Path) -> dict:
    kept_docs = kept_chars = 0
    for path in _files(run_dir, "curated"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=["text"]):
            kept_docs += batch.num_rows
            kept_chars += _text_chars(batch)
    counts: dict[str, list[int]] = {}
    for path in _files(run_dir, "excluded"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=["filter_reason", "text"]):
            lengths = pc.fill_null(pc.utf8_length(batch.column("text")), 0).to_pylist()
            for reason, n in zip(batch.column("filter_reason").to_pylist(), lengths, strict=True):
                entry = counts.setdefault(reason or "unknown", [0, 0])
                entry[0] += 1
                entry[1] += n
    reasons = sorted(((r, n, c) for r, (n, c) in counts.items()), key=lambda x: (-x[1], x[0]))

    def step_of(reason: str) -> str:
        return reason.split(":", 1)[0]

    known = set(STEP_ORDER)
    order = list(STEP_ORDER) + sorted({step_of(r) for r, _, _ in reasons} - known)
    dropped = {s: [0, 0] for s in order}
    for reason, n, chars in reasons:
        dropped[step_of(reason)][0] += n
        dropped[step_of(reason)][1] += chars
    steps, later_docs, later_chars = [], int(kept_docs), int(kept_chars)
    for step in reversed(order):
        n, chars = dropped[step]
        steps.append(
            {
                "step": step,
                "documents_in": later_docs + n,
                "documents_out": later_docs,
                "dropped": n,
                "characters_in": later_chars + chars,
                "characters_out": later_chars,
            }
        )
        later_docs, later_chars = later_docs + n, later_chars + chars
    steps.reverse()
    return {
        "input_documents": later_docs,
        "curated_documents": int(kept_docs),
        "curated_characters": int(kept_chars),
        "excluded_documents": later_docs - int(kept_docs),
        "funnel": steps,
        "drop_reasons": [{"filter_reason": r, "documents": int(n), "characters": int(c)} for r, n, c in reasons],
    }


def step_stats(logs_dir: Path) -> list[dict]:
    """datatrove's own per-step counters and timings, one row per stage and step (from each stage's
    merged stats.json; stages still running or merged later by Slurm are left out)."""
    rows = []
    for stage_dir in sorted(p for p in logs_dir.iterdir() if p.is_dir()) if logs_dir.is_dir() else []:
        stats_file = stage_dir / "stats.json"
        if not stats_file.is_file():
            continue
        for order, step in enumerate(json.loads(stats_file.read_text())):
            counters = {k: v.get("total", v) if isinstance(v, dict) else v for k, v in step.get("stats", {}).items()}
            timing = step.get("time_stats")
            rows.append(
                {
                    "stage": stage_dir.name,
                    "order": order,
                    "step": step["name"].split(": ", 1)[-1].strip(),
                    "seconds": round(timing.get("total", 0.0) if isinstance(timing, dict) else 0.0, 3),
                    "counters": json.dumps(counters, ensure_ascii=False),
                }
            )
    return rows


def write_stats(run_dir: Path) -> dict:
    """RUN/stats.json (the funnel) and RUN/step_stats.json (datatrove's per-step counters and times)."""
    stats = compute_funnel(run_dir)
    write_json_atomic(run_dir / "stats.json", stats)
    write_json_atomic(run_dir / "step_stats.json", step_stats(run_dir / ".work" / "logs"))
    return stats


DAMAGED_INPUT = ("reader:", "extraction:error", "extraction:crashed", "extraction:timeout")
"""Drop reasons that mean damaged input rather than filtering: summarized after a run, one line each."""
EXAMPLES = 3
_DAMAGED_SQL = f"""
    WITH damaged AS (
        SELECT filter_reason, coalesce(source || ':' || position, id) AS example,
               row_number() OVER (PARTITION BY filter_reason ORDER BY source, position NULLS LAST, id) AS k
        FROM read_parquet($files)
        WHERE {" OR ".join(f"starts_with(filter_reason, '{r}')" for r in DAMAGED_INPUT)}
    )
    SELECT filter_reason, count(*) AS n, list(example ORDER BY k) FILTER (WHERE k <= {EXAMPLES})
    FROM damaged GROUP BY filter_reason ORDER BY n DESC, filter_reason
"""


def report_damaged_input(run_dir: Path) -> list[str]:
    """One warning per damaged-input reason in RUN/excluded: the count and the first records as
    `file:position`, by file and position (the records themselves stay in `excluded`). Returns the lines."""
    files = _files(run_dir, "excluded")
    if not files:
        return []
    import duckdb

    con = duckdb.connect()
    rows = con.execute(_DAMAGED_SQL, {"files": [glob_literal(f) for f in files]}).fetchall()
    lines = []
    for reason, n, examples in rows:
        examples = [e if e.isprintable() else ascii(e) for e in examples]  # a newline in a file name stays visible
        more = ", …" if n > len(examples) else ""
        lines.append(f"{reason}: {n:,} record{'s' if n != 1 else ''} ({', '.join(examples)}{more})")
        logger.warning(lines[-1])
    return lines
