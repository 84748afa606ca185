"""The held-out Hebrew multiple-choice suite: deterministic items from HTB dev/test, none of them trained on,
the accuracy of a scorer, and ``he_acc`` in every eval record of a real (tiny) training run."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from tests.train.conftest import run_train
from train import mcq


@pytest.fixture(scope="module")
def items():
    return mcq.build_items(mcq.heldout_sentences(), n=300)


def test_builder_is_deterministic_and_independent_of_the_sentence_list_object(items):
    again = mcq.build_items(list(mcq.heldout_sentences()), n=300)
    assert again == items and len(items) == 300
    assert mcq.build_items(mcq.heldout_sentences(), n=300, seed=mcq.SUITE_SEED + 1) != items


def test_every_item_holds_the_original_once_among_distinct_permutations(items):
    originals = {" ".join(s.split()) for s in mcq.heldout_sentences()}
    for item in items:
        assert len(item.options) == 2 and len(set(item.options)) == 2
        assert [t in originals for t in item.options].count(True) >= 1
        assert item.options[item.answer] in originals
        # every other option is a word-order permutation of the original (same words), never the original
        words = Counter(item.options[item.answer].split())
        assert all(Counter(t.split()) == words for t in item.options)
        assert sum(t == item.options[item.answer] for t in item.options) == 1
    assert len({i.answer for i in items}) > 1  # the original is not always in the same place


def test_short_sentences_are_skipped():
    got = mcq.build_items(["אחת שתיים שלוש", "א ב", "כלב רץ מהר מאוד הביתה"], n=10)
    assert len(got) == 1 and got[0].options[got[0].answer] == "כלב רץ מהר מאוד הביתה"


def test_no_item_text_is_in_the_train_split(items):
    from common.sources import htb_sentences, htb_train_sentences

    train = {" ".join(s.text.split()) for s in htb_train_sentences()}
    train |= {" ".join(s.text.split()) for s in htb_sentences("train")}
    assert not any(t in train for item in items for t in item.options)


@pytest.mark.parametrize("length", [1, 5, 8, 9, 17, 40])
def test_windows_predict_every_token_of_a_text_once(length):
    ids = list(range(1, length + 1))
    rows, owners = mcq.windows([ids, [99]], eod=0, seq_length=8)
    assert all(2 <= len(r) <= 9 for r in rows)
    predicted = [r[1:] for r, o in zip(rows, owners, strict=True) if o == 0]
    assert [t for r in predicted for t in r] == ids
    assert rows[0][0] == 0 and owners[-1] == 1 and rows[-1] == [0, 99]


def _stub_score(texts):
    """Log-likelihood of a stub model that prefers texts whose words are in alphabetical order."""
    return [float(sum(a < b for a, b in zip(t.split(), t.split()[1:], strict=False))) for t in texts]


def test_accuracy_takes_the_highest_score_and_splits_ties():
    items = [
        mcq.Item(("a b c", "b a c", "a c b"), 0),  # the stub's best is the original: right
        mcq.Item(("b a c", "a b c", "c b a"), 0),  # the stub prefers option 1: wrong
        mcq.Item(("b a c", "a c b", "c b a"), 0),  # options 0 and 1 tie at the top: half
        mcq.Item(("b a c", "a c b", "c b a"), 2),  # the original is below the tie: wrong
        mcq.Item(("c b a", "b a c"), 1),  # right
    ]
    assert mcq.accuracy(items, _stub_score) == pytest.approx(2.5 / 5)
    assert mcq.accuracy([], _stub_score) is None
    assert mcq.accuracy(items, lambda texts: None) is None


def test_accuracy_of_the_suite_under_the_stub_matches_a_direct_count(items):
    want = 0
    for item in items:
        s = _stub_score(list(item.options))
        top = [j for j, x in enumerate(s) if x == max(s)]
        want += (item.answer in top) / len(top)
    assert mcq.accuracy(items, _stub_score) == pytest.approx(want / len(items))


def test_a_scorer_that_cannot_tell_options_apart_scores_chance(items):
    assert mcq.accuracy(items, lambda texts: [0.0] * len(texts)) == pytest.approx(0.5)


def test_a_scorer_blind_to_word_order_but_noisy_scores_chance(items):
    """A model that knows nothing of word order but whose score of a perturbed sentence moves from the
    original's by symmetric noise: with pairs it scores 1/2 (with four options it would score 1/8)."""
    import random

    originals = {item.options[item.answer] for item in items}
    rng = random.Random(0)
    noise = {t: rng.gauss(0.0, 1.0) for item in items for t in item.options}

    def blind(texts):
        return [0.0 if t in originals else noise[t] for t in texts]

    assert abs(mcq.accuracy(items, blind) - 0.5) < 3 * (0.25 / len(items)) ** 0.5
    four = mcq.build_items(mcq.heldout_sentences(), n=300, options=4)
    originals = {item.options[item.answer] for item in four}
    noise = {t: rng.gauss(0.0, 1.0) for item in four for t in item.options}
    assert mcq.accuracy(four, blind) < 0.2  # ~1/8: why the suite uses pairs


@pytest.fixture(scope="module")
def run_with_tokenizer(synthetic_run, tmp_path_factory):
    """The synthetic run with a real byte-level BPE (trained on HTB train, within the run's 500 ids)."""
    from common.sources import htb_sentences
    from shards.tokenizer import train_bpe

    run = tmp_path_factory.mktemp("mcq") / "run"
    shutil.copytree(synthetic_run, run)
    tok = train_bpe(
        [s.text for s in htb_sentences("train")], run / "tokenizer" / "tokenizer.json", vocab_size=400, name="t"
    )
    path = run / "shards" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tokenizer"] |= {"path": "tokenizer/tokenizer.json", "sha256": tok.sha256, "eod": tok.eod_id}
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return run


def test_options_of_an_item_hold_the_same_tokens_under_the_run_tokenizer(run_with_tokenizer, items):
    from shards.tokenizer import load_tokenizer

    tok = load_tokenizer(run_with_tokenizer / "tokenizer" / "tokenizer.json")
    for item in items[:100]:
        encoded = tok.encode_batch([mcq.scored_text(t) for t in item.options])
        assert all(Counter(ids) == Counter(encoded[0]) for ids in encoded)


def test_training_writes_he_acc_in_every_eval_record(run_with_tokenizer, tiny_recipe, tmp_path):
    recipe = tmp_path / "tiny-mcq.yaml"
    recipe.write_text(tiny_recipe.read_text() + "  mcq_items: 24\n", encoding="utf-8")
    out = tmp_path / "train"
    result = run_train(run_with_tokenizer, "-o", out, "--recipe", recipe)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    evals = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "eval"]
    assert len(evals) == 3
    assert all(isinstance(e["he_acc"], float) and 0.0 <= e["he_acc"] <= 1.0 for e in evals)
    assert "he_acc" in result.stdout + result.stderr


@pytest.mark.parametrize("bad", [-1, 2.5, True, "200"])
def test_mcq_items_must_be_a_non_negative_integer(bad):
    from train.config import TrainConfig

    with pytest.raises(ValueError, match="train.mcq_items"):
        TrainConfig(mcq_items=bad)
    assert TrainConfig(mcq_items=0).mcq_items == 0


def test_without_a_tokenizer_file_or_with_no_items_there_is_no_suite(tmp_path):
    assert mcq.run_suite(tmp_path, {"tokenizer": {"vocab_size": 500}}, 0) == ([], None, None)
    items, encode, note = mcq.run_suite(tmp_path, {"tokenizer": {"vocab_size": 500}}, 10)
    assert items == [] and encode is None and "he_acc is not evaluated" in note


@pytest.mark.parametrize(
    "flags",
    [
        ("--ep", "2"),
        pytest.param(("--tp", "2"), marks=pytest.mark.slow),
        pytest.param(("--pp", "2"), marks=pytest.mark.slow),
    ],
)
def test_he_acc_under_torchrun_parallelism(run_with_tokenizer, tiny_recipe, tmp_path, flags):
    recipe = tmp_path / "tiny-mcq.yaml"
    recipe.write_text(tiny_recipe.read_text() + "  mcq_items: 12\n", encoding="utf-8")
    out = tmp_path / "par"
    result = run_train(run_with_tokenizer, "-o", out, "--recipe", recipe, *flags, torchrun=2)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    evals = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "eval"]
    assert [e["after_phase"] for e in evals] == [1, 2, 3]
    assert all(0.0 <= e["he_acc"] <= 1.0 for e in evals)
