"""Disk trouble: an output path that cannot be created, and a full disk. The user gets one `error:` line,
a non-zero exit and no traceback; nothing half-written appears where outputs are published."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.reliability.helpers import hebatron, partial_files


def _assert_clean_error(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]


def _unwritable_run_dir(tmp_path: Path) -> Path:
    """A run directory that cannot be created: under a 0o500 folder, or (as root, where permission bits do not
    stop mkdir) under a regular file, which fails for everyone."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if not os.access(locked, os.W_OK):
        return locked / "run"
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    return blocker / "run"


def test_curate_into_uncreatable_dir_is_one_error_line(small_input, tmp_path):
    run = _unwritable_run_dir(tmp_path)
    proc = hebatron("curate", small_input, "-o", run, check=False)
    _assert_clean_error(proc)
    assert not run.exists()


@pytest.fixture()
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to simulate a full disk: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_curate_on_full_disk_is_one_error_line_and_publishes_nothing(news_docs, tmp_path, tiny_disk):
    # ~1 MB of distinct Hebrew text (4× the disk), so the work files cannot fit
    source = tmp_path / "big.jsonl"
    with open(source, "w", encoding="utf-8") as f:
        for k in range(10):
            for i, text in enumerate(news_docs):
                f.write(json.dumps({"id": f"{k}-{i}", "text": f"{text} {k}"}, ensure_ascii=False) + "\n")
    assert source.stat().st_size > 4 * 256 * 1024
    run = tiny_disk / "run"

    proc = hebatron("curate", source, "-o", run, check=False)

    assert not (run / "curated").exists() and not (run / "excluded").exists()
    assert not partial_files(run / "curated", run / "excluded")
    _assert_clean_error(proc)
