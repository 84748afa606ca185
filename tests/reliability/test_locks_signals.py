"""One lock per run or training directory, taken before anything else; SIGTERM, SIGHUP and Ctrl-C stop a
command cleanly (exit 128 + the signal, one line saying how to resume), leave no process of the command
behind and no lock held, and the same command again resumes and finishes."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import REPO, TRAIN_ARGS, _cmd, _env, eval_records, hebatron, holds_lock, rows

INTERRUPTED = "interrupted; run the same command again to resume"


def _start(*args) -> tuple[subprocess.Popen, object]:
    """The command in its own process group, stderr to a file (a pipe would stay open in any leftover)."""
    err = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(
        _cmd(args), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=err, text=True, start_new_session=True
    )
    return proc, err


def _stderr(err) -> str:
    err.seek(0)
    return err.read()


def _group(pgid: int) -> list[str]:
    """The live processes (not zombies) of process group PGID, as 'pid command' lines."""
    alive = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            alive.append(f"{entry} {cmdline}")
    return alive


def _assert_group_gone(pgid: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while (left := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        os.killpg(pgid, signal.SIGKILL)
    assert not left, "processes left behind:\n" + "\n".join(left)


def _assert_unlocked(folder: Path) -> None:
    with open(folder / ".lock") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.fail(f"{folder}/.lock is still held after the command ended")


def _wait_for(proc: subprocess.Popen, err, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready(proc):
        assert proc.poll() is None, f"ended before the signal point:\n{_stderr(err)}"
        assert time.monotonic() < deadline, "signal point never reached"
        time.sleep(0.005)


def _stop(proc: subprocess.Popen, err, signum: int, *, group: bool = False) -> str:
    """Sends SIGNUM to the command (or, like a terminal's Ctrl-C, to its whole group); asserts a clean
    stop: exit code 128 + SIGNUM, the resume line, no traceback, no process of the group left."""
    (os.killpg if group else os.kill)(proc.pid, signum)
    code = proc.wait(timeout=60)
    stderr = _stderr(err)
    _assert_group_gone(proc.pid)
    assert code == 128 + signum, f"exit code {code}:\n{stderr}"
    assert INTERRUPTED in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    return stderr


@pytest.fixture
def held(tmp_path):
    """Holds FOLDER/.lock in this process, as a running hebatron command would."""
    handles = []

    def hold(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        fh = open(folder / ".lock", "w")
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handles.append(fh)
        return folder

    yield hold
    for fh in handles:
        fh.close()


@pytest.mark.parametrize("command", ["score", "shard", "tokenize", "train", "ablate", "report"])
def test_lock_comes_before_every_check(command, held, anchors, tmp_path):
    """A directory in use is refused as such, even when the run lacks what the command needs."""
    run = tmp_path / "run"  # empty: every other check would fail
    target = held(tmp_path / "train" if command in ("train", "ablate") else run)
    args = {
        "score": [run],
        "shard": [run, "--anchor", anchors],
        "tokenize": [run],
        "train": [run, "-o", target],
        "ablate": [run, "-o", target],
        "report": [run],
    }[command]
    proc = hebatron(command, *args, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {target.resolve()} is in use by another hebatron command (lock {target.resolve() / '.lock'}); "
        "wait for it to finish or use another -o"
    )


def test_refused_command_leaves_the_holder_pid(held, tmp_path):
    run = held(tmp_path / "run")
    (run / ".lock").write_text("12345")
    hebatron("score", run, check=False, timeout=120)
    assert (run / ".lock").read_text() == "12345"


def test_second_train_is_refused_and_sigterm_leaves_nothing(golden, golden_train, tmp_path):
    out = tmp_path / "train"
    args = ["train", golden["tokenized"], "-o", out, *TRAIN_ARGS]
    first, err = _start(*args)
    _wait_for(first, err, holds_lock(out))

    second = hebatron(*args, check=False, timeout=120)
    assert second.returncode == 2, second.stderr
    assert "is in use by another hebatron command" in second.stderr
    assert "Traceback" not in second.stderr

    _wait_for(first, err, lambda _p: (out / "checkpoints" / "phase-1").exists())
    _stop(first, err, signal.SIGTERM)
    _assert_unlocked(out)

    hebatron(*args)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r.get("kind") == "train"]
    assert steps == sorted(set(steps)), f"a step logged twice: {steps}"
    evals = eval_records(out)
    assert [e["after_phase"] for e in evals] == [1, 2, 3]
    for got, want in zip(evals, golden_train, strict=True):
        assert got["he_loss"] == pytest.approx(want["he_loss"], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize(
    ("signum", "group", "stage"),
    [
        (signal.SIGTERM, False, "exact"),
        pytest.param(signal.SIGHUP, False, "minhash", marks=pytest.mark.slow),
        (signal.SIGINT, True, "minhash"),
    ],
)
def test_curate_workers_stop_cleanly(small_input, golden, tmp_path, signum, group, stage):
    """With --workers 2 (a datatrove pool, its manager and forkserver), a signal to the command alone (or a
    terminal's Ctrl-C to its group) stops every process; the lock is free and the re-run finishes."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in range(3):  # several files, so the stages run on the worker pool
        shutil.copy(small_input, inputs / f"part-{i}.jsonl")
    run = tmp_path / "run"
    args = ["curate", inputs, "-o", run, "--workers", "2"]
    proc, err = _start(*args)
    _wait_for(proc, err, lambda _p: any((run / ".work" / "logs").glob(f"*{stage}*/completions/*")))
    _stop(proc, err, signum, group=group)
    _assert_unlocked(run)

    hebatron(*args)
    assert set(rows(run / "curated")) == set(rows(golden["curated"] / "curated"))


def _checkpoint_writer(out: Path):
    """Ready while Megatron's checkpoint writers (processes forked from the command) are writing a phase."""

    def ready(proc: subprocess.Popen) -> bool:
        if not any((out / "checkpoints").glob("phase-*.tmp")):
            return False
        own = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        for line in _group(proc.pid):
            pid = int(line.split()[0])
            try:
                stat = Path(f"/proc/{pid}/stat").read_bytes()
                if pid != proc.pid and Path(f"/proc/{pid}/cmdline").read_bytes() == own:
                    return int(stat[stat.rindex(b")") + 2 :].split()[1]) == proc.pid
            except OSError:
                continue
        return False

    return ready


@pytest.mark.slow
def test_ctrl_c_during_a_checkpoint_is_clean_and_resumes(golden, golden_train, tmp_path):
    """Ctrl-C (SIGINT to the whole group) while the checkpoint writers run: no traceback from them or from
    the command, the phase checkpoint is complete or absent, and the re-run finishes like an uninterrupted one."""
    out = tmp_path / "train"
    args = ["train", golden["tokenized"], "-o", out, *TRAIN_ARGS]
    proc, err = _start(*args)
    _wait_for(proc, err, _checkpoint_writer(out))
    _stop(proc, err, signal.SIGINT, group=True)
    for path in (out / "checkpoints").glob("phase-*"):
        assert path.name.endswith(".tmp") or (path / "hebatron.json").is_file(), f"{path}: incomplete checkpoint"

    hebatron(*args)
    evals = eval_records(out)
    assert [e["after_phase"] for e in evals] == [1, 2, 3]
    for got, want in zip(evals, golden_train, strict=True):
        assert got["he_loss"] == pytest.approx(want["he_loss"], rel=1e-6, abs=1e-6)
