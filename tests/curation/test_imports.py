"""A local curate loads no Ray and no NeMo-Curator package initializer: not when building its stages, not when
its steps are pickled for pool workers and unpickled there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path
import dill
from curation.config import CurationConfig
from curation.output import RunLayout
from curation.pipeline import build_stages

layout = RunLayout(Path(sys.argv[1]))
layout.work.mkdir(parents=True)
(layout.work / "inputs.json").write_text("[]")
stages = build_stages(CurationConfig(), layout, sys.argv[1], str(layout.work / "inputs.json"), 2)
blob = dill.dumps([s.pipeline for s in stages])
steps = dill.loads(blob)[0]
nemo = [s for s in steps if type(s).__name__ == "NemoFilter"]
assert len(nemo) >= 6, [type(s).__name__ for s in steps]
kept = [s.filter(type("D", (), {"text": "שלום עולם, זה מסמך קצר עם מילים רבות בעברית."})()) for s in nemo]
print(sorted(m for m in ("ray", "nemo_curator", "torch") if m in sys.modules), kept)
"""


def test_stages_pickle_without_ray_or_nemo_packages(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    loaded, kept = out.split(" ", 1)
    assert loaded == "[]", out
    assert "True" in kept  # the unpickled NeMo filters work


def test_nemo_modules_are_the_packages_own(tmp_path):
    script = (
        "import curation.nemo as n, sys\n"
        "f = n.build_nemo_filter('urls')\n"
        "assert 'ray' not in sys.modules\n"
        "from nemo_curator.stages.text.filters.heuristic import UrlsFilter\n"  # the real package, later
        "from nemo_curator.stages.text.filters import DocumentFilter\n"
        "assert type(f) is UrlsFilter and n.DocumentFilter is DocumentFilter\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)


def test_dependency_check_by_name_answers_as_the_scan():
    from datatrove.utils import _import_utils

    import curation.pipeline  # noqa: F401 - installs the check by name
    from curation.dependency_check import _scan

    assert _import_utils._is_distribution_available is not _scan
    for name in ("xxhash", "pyarrow", "datatrove", "fasttext-numpy2-wheel", "no-such-distribution-here"):
        assert _import_utils._is_distribution_available(name) == _scan(name), name
