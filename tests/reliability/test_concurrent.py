"""Two `hebatron curate` on one run directory at once: one runs, the other is refused, the run is intact."""

from __future__ import annotations

from tests.reliability.helpers import rows, start


def test_second_curate_on_same_run_is_refused(small_input, golden, tmp_path):
    run = tmp_path / "run"
    procs = [start("curate", small_input, "-o", run) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()

    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    refused = next(stderr for code, stderr in results if code != 0)
    assert "in use" in refused
    assert "Traceback" not in refused
    for folder, cols in (("curated", ("id", "text", "minhash_cluster_size")), ("excluded", ("id", "filter_reason"))):
        assert rows(run / folder, cols) == rows(golden["curated"] / folder, cols)
