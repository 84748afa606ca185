"""``hebatron export``: a trained SwiGLU MoE checkpoint as a transformers Mixtral whose logits are the Megatron
model's (the Megatron side built from the checkpoint exactly as the training loop builds it), the run's
tokenizer beside it, and one-line refusals of what has no exact transformers family."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from common.files import file_sha256
from hebatron.recipes import load_recipe
from tests.train.conftest import ROOT, TINY_RECIPE, run_train
from tests.train.synthetic import make_run
from train.config import ModelConfig
from train.export import ExportRefused, hf_family

TEXT = "שלום עולם, זה מבחן קטן של הטוקנייזר. Hello world, a small tokenizer test. " * 3

#: The Megatron model of phase 3's checkpoint, as train.loop builds and restores it, on fixed tokens.
MEGATRON_LOGITS = """
import sys, warnings
warnings.filterwarnings("ignore")
import torch
from hebatron.recipes import load_recipe
from train import checkpoint, distributed
from train.loop import _wrap
from train.megatron_glue import build_model, to_transformer_config

recipe, ckpt, out = load_recipe(sys.argv[1]), sys.argv[2], sys.argv[3]
train = recipe.train
distributed.init_world(train)
distributed.seed_all(train.seed)
config = to_transformer_config(recipe.model, train)
net = build_model(recipe.model, train, 500, config)
ddp, optimizer, scheduler = _wrap(net, config, train, [2, 2, 2])
checkpoint.load_phase(checkpoint.Path(ckpt), net, optimizer, scheduler)
tokens = torch.load(sys.argv[4])
net.eval()
with torch.no_grad():
    logits = net(tokens, torch.arange(tokens.shape[1]).expand_as(tokens), None)
torch.save(logits.float(), out)
distributed.shutdown()
"""


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _hebatron(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hebatron", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A synthetic run with a real byte-level BPE tokenizer, trained 2 steps a phase with SwiGLU experts,
    and exported."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    base = tmp_path_factory.mktemp("export")
    run = make_run(base / "run", docs_per_phase=30, length=(10, 50))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([TEXT], trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"]))
    (run / "tokenizer").mkdir()
    tok.save(str(run / "tokenizer" / "tokenizer.json"))
    manifest_path = run / "shards" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tokenizer"] = {
        "name": "test-bpe",
        "kind": "hf-tokenizers",
        "path": "tokenizer/tokenizer.json",
        "vocab_size": 500,
        "eod": 0,
        "eod_token": "<|endoftext|>",
        "sha256": file_sha256(run / "tokenizer" / "tokenizer.json"),
    }
    manifest_path.write_text(json.dumps(manifest))
    recipe = base / "tiny-swiglu.yaml"
    text = TINY_RECIPE.format(name="tiny-swiglu", hidden=32).replace("squared-relu", "swiglu")
    recipe.write_text(text.replace("steps_per_phase: 3", "steps_per_phase: 2") + "  mcq_items: 0\n")
    train_dir, hf_dir = base / "train", base / "hf"
    _ok(run_train(run, "-o", train_dir, "--recipe", recipe))
    result = _ok(_hebatron("export", train_dir, "-o", hf_dir))
    return run, recipe, train_dir, hf_dir, result


def test_exported_logits_match_megatron(exported, tmp_path):
    from transformers import AutoModelForCausalLM

    _, recipe, train_dir, hf_dir, result = exported
    assert "MixtralForCausalLM after phase 3 (step 6)" in result.stdout
    config = json.loads((hf_dir / "config.json").read_text())
    assert config["architectures"] == ["MixtralForCausalLM"] and config["num_local_experts"] == 4
    assert (hf_dir / "model.safetensors").is_file()
    tokens = torch.randint(0, 500, (3, 32), generator=torch.Generator().manual_seed(7))
    torch.save(tokens, tmp_path / "tokens.pt")
    ckpt = train_dir / "checkpoints" / "phase-3"
    script = [sys.executable, "-c", MEGATRON_LOGITS, recipe, ckpt, tmp_path / "logits.pt", tmp_path / "tokens.pt"]
    _ok(subprocess.run(list(map(str, script)), cwd=ROOT, capture_output=True, text=True, timeout=300))
    expected = torch.load(tmp_path / "logits.pt")
    hf = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        got = hf(tokens).logits.float()
    assert got.shape == expected.shape == (3, 32, 512)
    assert expected.std() > 0.1  # a trained model's logits, not a constant
    assert (got - expected).abs().max() < 1e-3


def test_exported_tokenizer_is_the_runs(exported):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    run, _, _, hf_dir, _ = exported
    ours = Tokenizer.from_file(str(run / "tokenizer" / "tokenizer.json"))
    theirs = AutoTokenizer.from_pretrained(str(hf_dir))
    assert theirs.encode(TEXT, add_special_tokens=False) == ours.encode(TEXT).ids
    assert theirs.eos_token == "<|endoftext|>" and theirs.eos_token_id == 0


def test_refusals_name_why():
    with pytest.raises(ExportRefused, match="squared-relu"):
        hf_family(load_recipe("tiny-moe").model)
    with pytest.raises(ExportRefused, match="hybrid Mamba"):
        hf_family(load_recipe("nemotron3-nano-he").model)
    with pytest.raises(ExportRefused, match="shared expert"):
        hf_family(ModelConfig(activation="swiglu", moe_shared_expert_size=64))
    assert hf_family(load_recipe("tiny-moe-swiglu").model) == "mixtral"
    assert hf_family(ModelConfig(activation="swiglu", num_experts=None)) == "llama"
