"""The HTML report renders in headless Chromium with its plots and no console errors."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from difficulty.run import score_run
from hebatron.report import write_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed on first use when missing (the test machines run as root)."""
    path = shutil.which("chromium")
    if path is None:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], capture_output=True)
        path = shutil.which("chromium")
    if path is None:
        subprocess.run(["apt-get", "update"], capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"], check=True, capture_output=True
        )
        path = shutil.which("chromium")
    assert path, "chromium could not be installed with apt-get"
    return path


@pytest.fixture(scope="module")
def report_path(curated_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(curated_run[0], run)
    score_run(run, progress=False)
    return write_report(run)


def test_report_renders_with_plots_and_no_console_errors(chromium, report_path, tmp_path):
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            report_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert "CONSOLE" not in proc.stderr, proc.stderr
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", report_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count("<svg") >= 3  # funnel and drops, language ID, perplexity
    for heading in ("Curation funnel", "Language ID", "Difficulty"):
        assert heading in dom
    page = report_path.read_text()
    assert "<script" not in page and "<link" not in page and 'src="http' not in page  # self-contained
