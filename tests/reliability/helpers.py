"""Running the CLI as a subprocess, crashing it with SIGKILL, and reading runs back for comparison."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
TRAIN_ARGS = ("--recipe", "tiny-moe", "--steps-per-phase", "3", "--seed", "1")
SHARD_ROWS = ("--shard-rows", "8")  # several files per phase, so a kill can land between two of them


def _cmd(args) -> list[str]:
    return [sys.executable, "-m", "hebatron", *map(str, args)]


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def hebatron(*args, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `python -m hebatron ARGS` to completion; with `check`, a failure shows its stderr."""
    proc = subprocess.run(_cmd(args), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"hebatron {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}"
    return proc


def start(*args) -> subprocess.Popen:
    """Starts `python -m hebatron ARGS` in its own process group (so a kill reaches its workers too)."""
    return subprocess.Popen(
        _cmd(args),
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def holds_lock(run: Path) -> Callable[[subprocess.Popen], bool]:
    """Ready once the command holds RUN/.lock (the lock file then holds its pid): its work has begun."""

    def ready(proc: subprocess.Popen) -> bool:
        try:
            return (run / ".lock").read_text() == str(proc.pid)
        except FileNotFoundError:
            return False

    return ready


def kill_midway(
    args, *, ready: Callable[[subprocess.Popen], bool], seed: int, max_delay: float, timeout: float = 120
) -> float:
    """Starts the command, waits until `ready()` (some work has begun), then sleeps a seeded random delay in
    [0, max_delay) and SIGKILLs the whole process group. Asserts the command was still running when killed
    (a kill that lands after the end proves nothing). Returns the delay used."""
    delay = random.Random(seed).uniform(0, max_delay)
    proc = start(*args)
    deadline = time.monotonic() + timeout
    while not ready(proc):
        assert proc.poll() is None, f"hebatron {args[0]} ended before the kill point: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"hebatron {args[0]}: kill point never reached"
        time.sleep(0.02)
    time.sleep(delay)
    still_running = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    proc.stderr.close()
    assert still_running, f"hebatron {args[0]} finished within {delay:.2f}s of the kill point; lower max_delay"
    assert proc.returncode == -signal.SIGKILL
    return delay


def rows(folder: Path, columns=("id", "text")) -> dict[str, tuple]:
    """{id: (other columns…)} over every Parquet file of a folder ({} when the folder is absent)."""
    out: dict[str, tuple] = {}
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path, columns=list(columns)).to_pylist()
        for r in table:
            assert r["id"] not in out, f"{r['id']} twice in {folder}"
            out[r["id"]] = tuple(r[c] for c in columns[1:])
    return out


def manifest_files(run: Path) -> list[tuple[str, str]]:
    """(path, sha256) of every shard file the manifest lists, checked against the bytes on disk."""
    manifest = json.loads((run / "shards" / "manifest.json").read_text())
    listed = []

    def walk(node):
        if isinstance(node, dict):
            if "sha256" in node and ("path" in node or "file" in node):
                listed.append((node.get("path") or node.get("file"), node["sha256"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(manifest)
    assert listed, "the manifest lists no shard files"
    for name, sha in listed:
        path = next(p for p in (run / "shards" / name, run / name) if p.exists())
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, f"{path}: bytes differ from the manifest"
    return sorted(listed)


def shard_hashes(run: Path) -> dict[str, str]:
    """sha256 of every file under RUN/shards/ by relative path."""
    root = run / "shards"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def eval_records(train_dir: Path) -> list[dict]:
    lines = (train_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "eval"]


def partial_files(*folders: Path) -> list[Path]:
    """Left-overs of interrupted writes inside published folders: *.tmp, *.partial, hidden temp files."""
    bad = []
    for folder in folders:
        if folder.exists():
            bad += [
                p
                for p in folder.rglob("*")
                if ".tmp" in p.name or p.name.endswith(".partial") or p.name.startswith(".")
            ]
    return bad
