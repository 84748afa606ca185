"""Two `hebatron curate` on one run directory at once: one runs, the other is refused, the run is intact."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.reliability.helpers import REPO, holds_lock, rows, start

_HOLDER = """
import sys
from pathlib import Path
from common.files import run_lock
with run_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_curate_is_refused_while_another_command_holds_the_run(small_input, golden, tmp_path):
    """Deterministic: another process holds the run's lock for as long as the test needs, so the refusal
    does not depend on how fast the first command is."""
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(run)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = start("curate", small_input, "-o", run)
        code, stderr = refused.wait(timeout=300), refused.stderr.read()
        refused.stderr.close()
        assert code != 0 and "in use" in stderr and "Traceback" not in stderr, stderr
        assert not (run / "curated").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    ok = start("curate", small_input, "-o", run)
    assert ok.wait(timeout=300) == 0, ok.stderr.read()
    ok.stderr.close()
    for folder, cols in (("curated", ("id", "text", "minhash_cluster_size")), ("excluded", ("id", "filter_reason"))):
        assert rows(run / folder, cols) == rows(golden["curated"] / folder, cols)


def test_second_curate_on_same_run_is_refused_or_finds_it_done(small_input, golden, tmp_path):
    """Two real commands: the second starts once the first holds the lock. It is refused while the first runs;
    if the first has already finished, the second finds the run complete and changes nothing. Either way the
    run equals one uninterrupted curate."""
    run = tmp_path / "run"
    first = start("curate", small_input, "-o", run)
    deadline = time.monotonic() + 120
    while not holds_lock(run)(first) and first.poll() is None:
        assert time.monotonic() < deadline, "curate never took the run's lock"
        time.sleep(0.02)
    second = start("curate", small_input, "-o", run)
    results = [(p.wait(timeout=300), p.stderr.read()) for p in (first, second)]
    for p in (first, second):
        p.stderr.close()
    assert results[0][0] == 0, results[0][1]
    code, stderr = results[1]
    assert "Traceback" not in stderr
    assert code == 0 or "in use" in stderr, stderr
    for folder, cols in (("curated", ("id", "text", "minhash_cluster_size")), ("excluded", ("id", "filter_reason"))):
        assert rows(run / folder, cols) == rows(golden["curated"] / folder, cols)
