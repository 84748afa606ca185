"""Fixtures of the trainer tests: a synthetic run and tiny recipes (hidden 32, 4 experts, seq 32)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # megatron warns at import that Transformer Engine and Apex are absent (CPU)
    warnings.simplefilter("ignore")
    import megatron.core.optimizer  # noqa: F401

from tests.train.synthetic import make_run

ROOT = Path(__file__).resolve().parents[2]

TINY_RECIPE = """\
name: {name}
model:
  num_layers: 2
  hidden_size: {hidden}
  num_attention_heads: 4
  num_query_groups: 2
  ffn_hidden_size: 64
  num_experts: 4
  moe_router_topk: 2
  moe_ffn_hidden_size: 32
  seq_length: 32
  activation: squared-relu
  make_vocab_size_divisible_by: 64
train:
  micro_batch_size: 2
  global_batch_size: 4
  steps_per_phase: 3
  lr: 3.0e-3
  min_lr: 3.0e-4
  warmup_fraction: 0.1
  stable_fraction: 0.6
  decay_fraction: 0.3
  log_interval: 1
  eval_iters: 2
"""


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> Path:
    """A run directory with three phases of synthetic Hebrew/anchor tokens and the eval sets."""
    return make_run(tmp_path_factory.mktemp("train-run") / "run", docs_per_phase=40, length=(10, 60))


@pytest.fixture(scope="session")
def tiny_recipe(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipes") / "tiny-test.yaml"
    path.write_text(TINY_RECIPE.format(name="tiny-test", hidden=32), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def other_recipe(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipes") / "tiny-other.yaml"
    path.write_text(TINY_RECIPE.format(name="tiny-other", hidden=16), encoding="utf-8")
    return path


def run_train(*args: str | Path, torchrun: int | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m hebatron train ARGS`` (or ``ablate ARGS``; or under ``torchrun --nproc_per_node N``) in a
    subprocess: checkpointing spawns a helper that re-imports the main module, which pytest's is not made for."""
    if torchrun:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(torchrun),
            "--master_port",
            str(29500 + os.getpid() % 1000),
            "-m",
            "hebatron",
        ]
    else:
        cmd = [sys.executable, "-m", "hebatron"]
    if not args or args[0] != "ablate":
        cmd.append("train")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([*cmd, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def pytest_collection_modifyitems(config, items):
    """Megatron warns at import that Transformer Engine and Apex are absent: expected on CPU."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:.*Transformer Engine and Apex"))
            item.add_marker(pytest.mark.filterwarnings("ignore:full scope is deprecated"))
