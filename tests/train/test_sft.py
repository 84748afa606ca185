"""Supervised fine-tuning: the packed item layout (fast) and ``hebatron sft`` end to end with a resume (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.train.conftest import ROOT
from train.sft_data import layout_row

SFT_RECIPE = """\
name: sft-test
model: {{num_layers: 2, hidden_size: 32, num_attention_heads: 4, num_query_groups: 2, ffn_hidden_size: 64,
  num_experts: 4, moe_router_topk: 2, moe_ffn_hidden_size: 32, seq_length: 64, activation: squared-relu,
  make_vocab_size_divisible_by: 64}}
train: {{micro_batch_size: 2, global_batch_size: 4, steps_per_phase: 1, eval_iters: 1, mcq_items: 0}}
sft:
  steps: 4
  lr: 3.0e-3
  save_interval: {save}
  data: {{eval_pairs: 4, templates: {{he2en: "he: {{he}}\\nen:", en2he: "en: {{en}}\\nhe:"}}}}
"""


def test_packed_row_keeps_samples_apart_and_masks_prompts() -> None:
    row = layout_row([([5, 6, 7], [0, 1, 1]), ([8, 9], [0, 1])], length=7, eod=0)
    assert row["tokens"].tolist() == [5, 6, 7, 8, 9, 0, 0]
    assert row["labels"].tolist() == [6, 7, 8, 9, 0, 0, 0]
    # a label is a target only when it is a response token: never the next sample's prompt, never padding
    assert row["loss_mask"].tolist() == [1, 1, 0, 1, 0, 0, 0]
    assert row["position_ids"].tolist() == [0, 1, 2, 0, 1, 0, 1]
    masked = row["attention_mask"][0]
    assert not masked[3, 3] and not masked[4, 3]  # the second sample sees itself
    assert masked[3, 0] and masked[4, 2]  # and nothing of the first
    assert masked[0, 1]  # causal
    assert masked.dtype == torch.bool


def _hebatron(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT), **(env or {})}
    cmd = [sys.executable, "-m", "hebatron", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)


@pytest.mark.slow
def test_sft_end_to_end_resumes_with_the_same_losses(tmp_path) -> None:
    from common.sources import english_paragraphs, htb_train_sentences
    from shards.tokenizer import train_bpe
    from tests.shards.test_sft_data import PAIRS, _write
    from tests.train.synthetic import make_run

    run = make_run(tmp_path / "run", docs_per_phase=20, length=(10, 60))  # vocabulary 500, end of document 0
    texts = [s.text for s in htb_train_sentences()][:1500] + list(english_paragraphs())[:1500]
    train_bpe(texts, run / "tokenizer" / "tokenizer.json", vocab_size=500, name="t500")  # the same two numbers
    recipes = {}
    for save in (0, 2):
        recipes[save] = tmp_path / f"sft-{save}.yaml"
        recipes[save].write_text(SFT_RECIPE.format(save=save), encoding="utf-8")
    done = _hebatron("train", run, "-o", tmp_path / "train", "--recipe", recipes[0])
    assert done.returncode == 0, done.stderr[-3000:]
    pairs = _write(tmp_path / "pairs.jsonl", PAIRS)
    done = _hebatron("sft-data", pairs, "-o", run, "--recipe", recipes[0])
    assert done.returncode == 0, done.stderr[-3000:]

    whole = _hebatron("sft", run, "-o", tmp_path / "whole", "--from", tmp_path / "train", "--recipe", recipes[0])
    assert whole.returncode == 0, whole.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [0, 4]
    keys = ("he2en_loss", "en2he_loss", "he2en_exact", "en2he_exact", "he_loss", "en_loss")
    assert all(isinstance(r[k], float) for r in evals for k in keys)
    assert evals[1]["he2en_loss"] < evals[0]["he2en_loss"] and evals[1]["en2he_loss"] < evals[0]["en2he_loss"]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4]
    again = _hebatron("sft", run, "-o", tmp_path / "whole", "--from", tmp_path / "train", "--recipe", recipes[0])
    assert "already finished" in again.stdout

    # interrupted after the step-2 checkpoint, then resumed: the same losses as the uninterrupted run
    cut = tmp_path / "cut"
    args = ("sft", run, "-o", cut, "--from", tmp_path / "train", "--recipe", recipes[2])
    stopped = _hebatron(*args, env={"HEBATRON_EXIT_AFTER_STEP": "2"})
    assert stopped.returncode == 75, stopped.stderr[-3000:]
    resumed = _hebatron(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming fine-tuning at step 2" in resumed.stdout
    cut_records = [json.loads(line) for line in (cut / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in cut_records if r["kind"] == "eval"] == [0, 4]
    losses = [r["loss"] for r in cut_records if r["kind"] == "train"]
    assert losses == pytest.approx([r["loss"] for r in records if r["kind"] == "train"], rel=1e-5)


def test_exact_match_is_greedy_equals_reference() -> None:
    """A pair counts only when every response token (end of document included) is the argmax."""
    from train.sft import _exact
    from train.sft_config import SftConfig
    from train.sft_data import EvalSamples

    rows = [
        {"prompt": [5, 6], "response": [7, 8, 0]},  # the model below predicts this one exactly
        {"prompt": [5, 6], "response": [7, 9, 0]},  # one wrong token
        {"prompt": [5, 6], "response": [7] * 30 + [0]},  # longer than exact_max_tokens: not scored
    ]
    samples = EvalSamples(rows, seq_length=40, eod=0)

    class Oracle(torch.nn.Module):
        """Predicts the next token of the first row (and anything after its end: 1)."""

        def forward(self, tokens, position_ids, attention_mask):
            want = torch.as_tensor([6, 7, 8, 0] + [1] * (tokens.shape[1] - 4))
            return torch.nn.functional.one_hot(want, 12).float().expand(tokens.shape[0], -1, -1)

    ddp = torch.nn.Module()
    ddp.module = Oracle()
    assert _exact(ddp, samples, SftConfig(exact_max_tokens=5), vocab=12, device="cpu") == 0.5
