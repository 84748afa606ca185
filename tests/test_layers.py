"""The layer contract (pyproject's [tool.importlinter]) and what each entry point imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "megatron", "datatrove", "nemo_curator", "tokenizers", "sentencepiece", "kenlm", "matplotlib")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_layer_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--config", str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 kept, 0 broken" in proc.stdout


def _loaded_after(code: str) -> set[str]:
    probe = (
        f"import sys\n{code}\n"
        f"print(__import__('json').dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    proc = _python(probe)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "module",
    [
        "common.files",
        "common.freshness",
        "common.layout",
        "common.sources",
        "common.logs",
        "curation.pipeline",
        "difficulty.step",
        "shards.run",
    ],
)
def test_cpu_stages_import_no_torch(module: str) -> None:
    assert not _loaded_after(f"import {module}") & {"torch", "megatron"}


def test_common_imports_no_stage_library() -> None:
    code = "import " + ", ".join(
        f"common.{m}" for m in ("errors", "files", "freshness", "layout", "logs", "progress", "sources", "text")
    )
    assert _loaded_after(code) == set()


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["sql", "--help"]])
def test_cli_start_imports_only_what_the_command_runs(argv: list[str]) -> None:
    code = (
        f"sys.argv = ['hebatron', *{argv!r}]\nfrom hebatron.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) == set()
