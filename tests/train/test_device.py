"""``--device``: cuda where CUDA is unusable fails with one line naming why (never a silent CPU run); the
start of a run names the device, the layer spec, the attention and the experts' kernels."""

from __future__ import annotations

import pytest
import torch

from tests.train.conftest import run_train
from train.distributed import DeviceUnavailable, select_device

NO_CUDA = not torch.cuda.is_available()


@pytest.mark.skipif(not NO_CUDA, reason="CUDA is usable here")
def test_cuda_where_it_is_unusable_is_one_line(synthetic_run, tiny_recipe, tmp_path):
    with pytest.raises(DeviceUnavailable, match="--device cuda: "):
        select_device("cuda")
    result = run_train(synthetic_run, "-o", tmp_path / "t", "--recipe", tiny_recipe, "--device", "cuda")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device cuda: ")
    if torch.version.cuda is None:
        assert "CPU-only build" in lines[0]
    assert not (tmp_path / "t" / "metrics.jsonl").exists()


def test_cpu_hides_cuda_and_other_names_fail(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # recorded, so the variable is restored afterwards
    if NO_CUDA:
        select_device("cpu")
        assert not torch.cuda.is_available()
    with pytest.raises(DeviceUnavailable, match="cpu or cuda"):
        select_device("tpu")
