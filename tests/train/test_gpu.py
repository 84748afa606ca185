"""The trainer on a CUDA GPU (``pytest -m gpu``; skipped without CUDA): the Transformer Engine spec builds with
its fused kernels and trains, the local and TE specs give the same model the same losses at init, a step
checkpoint resumes on CUDA, and a CUDA-trained checkpoint exports to Hugging Face."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.train.conftest import ROOT, TINY_RECIPE, run_train
from train.loop import EXIT_AFTER_STEP

pytestmark = pytest.mark.gpu


def _te():
    return pytest.importorskip("transformer_engine", reason="Transformer Engine is not installed")


def _recipe(tmp_path, name: str, extra: str = "", *, swiglu: bool = False):
    text = TINY_RECIPE.format(name=name, hidden=32)
    if swiglu:
        text = text.replace("activation: squared-relu", "activation: swiglu")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def _records(train_dir):
    return [json.loads(line) for line in (train_dir / "metrics.jsonl").read_text().splitlines()]


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_local_spec_trains_on_cuda(synthetic_run, tmp_path):
    recipe = _recipe(tmp_path, "gpu-local", "  layer_spec: local\n")
    result = _ok(run_train(synthetic_run, "-o", tmp_path / "out", "--recipe", recipe, "--device", "cuda"))
    assert "device cuda:0 (nccl) | layer spec local | attention DotProductAttention" in result.stdout
    assert "experts SequentialMLP (looped experts)" in result.stdout and "fused: none" in result.stdout
    train = [r for r in _records(tmp_path / "out") if r["kind"] == "train"]
    assert all(r["memory_gib"] > 0 for r in train)


def test_te_spec_builds_with_fusions_and_trains_on_cuda(synthetic_run, tmp_path):
    _te()
    from train.megatron_glue import te_kernels

    recipe = _recipe(tmp_path, "gpu-te", "  layer_spec: te\n  precision: bf16\n", swiglu=True)
    result = _ok(run_train(synthetic_run, "-o", tmp_path / "out", "--recipe", recipe, "--device", "cuda"))
    line = next(x for x in result.stdout.splitlines() if x.startswith("device cuda"))
    assert "layer spec te | attention TEDotProductAttention" in line
    assert "experts TEGroupedMLP (grouped GEMM)" in line
    assert "bias+activation" in line and "bias+dropout+add" in line
    have = te_kernels()
    for flag, label in (("rope", "rope"), ("permute", "moe permute"), ("router", "moe router")):
        assert (label in line) == have[flag], (label, line)
    train = [r for r in _records(tmp_path / "out") if r["kind"] == "train"]
    assert all(r["loss"] == r["loss"] and r["memory_gib"] > 0 for r in train)  # finite losses, memory logged


#: The same weights in a local-spec and a TE-spec model (saved by one, loaded by the other through Megatron's
#: sharded checkpoint names): the logits and the loss on a fixed batch must agree.
LOCAL_VS_TE = """
import os, sys, warnings
warnings.filterwarnings("ignore")
import torch
from megatron.core import dist_checkpointing
from megatron.core.dist_checkpointing.validation import StrictHandling
from train import distributed
from train.config import ModelConfig, TrainConfig
from train.megatron_glue import build_model, to_transformer_config

def built(impl, model, train):
    for name in ("NVTE_FLASH_ATTN", "NVTE_FUSED_ATTN", "NVTE_UNFUSED_ATTN"):
        os.environ.pop(name, None)  # Megatron sets them per attention backend and refuses a change
    distributed.seed_all(7)
    return build_model(model, train, 128, to_transformer_config(model, train, impl=impl), impl=impl).eval()

if __name__ == "__main__":
    model = ModelConfig(num_layers=2, hidden_size=64, num_attention_heads=4, num_query_groups=2, num_experts=4,
                        moe_ffn_hidden_size=64, seq_length=64, activation="swiglu", make_vocab_size_divisible_by=64)
    train = TrainConfig()
    distributed.init_world(train)
    local = built("local", model, train)
    dist_checkpointing.save(local.sharded_state_dict(), sys.argv[1])
    te = built("te", model, train)
    state, missing, unexpected = dist_checkpointing.load(
        te.sharded_state_dict(), sys.argv[1], strict=StrictHandling.RETURN_ALL
    )
    assert all("_extra_state" in k for k in missing), sorted(missing)[:5]
    result = te.load_state_dict(state, strict=False)
    assert all("_extra_state" in k for k in result.missing_keys), result.missing_keys[:5]
    tokens = torch.randint(0, 100, (2, 64), generator=torch.Generator().manual_seed(0)).cuda()
    positions = torch.arange(64, device="cuda").expand_as(tokens)
    with torch.no_grad():
        a, b = local(tokens, positions, None).float(), te(tokens, positions, None).float()
        la = local(tokens, positions, None, labels=tokens).float().mean()
        lb = te(tokens, positions, None, labels=tokens).float().mean()
    diff = float((a - b).abs().max())
    assert diff < 2e-2 * float(a.abs().max()), (diff, float(a.abs().max()))
    assert abs(float(la - lb)) < 1e-3, (float(la), float(lb))
    distributed.shutdown()
    print(f"ok {diff:.2e} {float(la):.5f} {float(lb):.5f}")
"""


def test_local_and_te_specs_agree_at_init(tmp_path):
    _te()
    script = tmp_path / "local_vs_te.py"
    script.write_text(LOCAL_VS_TE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ckpt")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "ok " in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]


def test_step_checkpoint_resumes_on_cuda(synthetic_run, tmp_path, monkeypatch):
    recipe = _recipe(tmp_path, "gpu-save", "  save_interval: 3\n")
    recipe.write_text(recipe.read_text().replace("steps_per_phase: 3", "steps_per_phase: 2"))
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    _ok(run_train(synthetic_run, "-o", whole, "--recipe", recipe, "--save-interval", "0", "--device", "cuda"))
    monkeypatch.setenv(EXIT_AFTER_STEP, "3")  # the first step of phase 2, checkpointed, then killed
    killed = run_train(synthetic_run, "-o", cut, "--recipe", recipe, "--device", "cuda")
    assert killed.returncode == 75, killed.stderr[-3000:]
    assert (cut / "checkpoints" / "step-3").exists()
    monkeypatch.delenv(EXIT_AFTER_STEP)
    resumed = _ok(run_train(synthetic_run, "-o", cut, "--recipe", recipe, "--device", "cuda"))
    assert "resuming inside phase 2 (step 3)" in resumed.stdout
    ours = [r for r in _records(cut) if r["kind"] == "train"]
    theirs = [r for r in _records(whole) if r["kind"] == "train"]
    assert [r["step"] for r in ours] == [r["step"] for r in theirs]
    # GPU kernels (atomics in the backward pass) are not bit-reproducible: the same losses within noise
    assert [r["loss"] for r in ours] == pytest.approx([r["loss"] for r in theirs], rel=2e-3)


def test_export_of_a_cuda_trained_checkpoint(synthetic_run, tmp_path):
    recipe = _recipe(tmp_path, "gpu-export", swiglu=True)
    _ok(run_train(synthetic_run, "-o", tmp_path / "out", "--recipe", recipe, "--device", "cuda"))
    result = subprocess.run(
        [sys.executable, "-m", "hebatron", "export", str(tmp_path / "out"), "-o", str(tmp_path / "hf")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "MixtralForCausalLM" in result.stdout
    assert (tmp_path / "hf" / "config.json").exists() and list((tmp_path / "hf").glob("*.safetensors"))
