"""Recipe loading: defaults live once, bases merge, and bad values are one-line errors naming file and key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import yaml

from common.errors import HebatronError
from curation.config import CurationConfig
from hebatron.recipes import RECIPES_DIR, Recipe, RecipeError, load_recipe, merge
from shards.config import ShardConfig

SECTIONS = [f.name for f in dataclasses.fields(Recipe) if f.name not in ("name", "description")]


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_recipe_is_the_dataclass_defaults():
    recipe, defaults = load_recipe("default"), Recipe()
    assert recipe.name == "default"
    for section in SECTIONS:
        assert getattr(recipe, section) == getattr(defaults, section), section


def test_default_yaml_states_nothing_but_what_it_is():
    stated = yaml.safe_load((RECIPES_DIR / "default.yaml").read_text(encoding="utf-8"))
    assert set(stated) <= {"name", "description"}


def test_every_builtin_recipe_loads():
    for path in sorted(RECIPES_DIR.glob("*.yaml")):
        assert load_recipe(path.stem).name == path.stem


def test_demo_is_tiny_moe_plus_its_own_sections():
    demo, tiny = load_recipe("demo"), load_recipe("tiny-moe")
    assert demo.name == "demo"
    assert demo.model == tiny.model and demo.train == tiny.train
    assert demo.shards == ShardConfig(anchor_ratio=(0.3, 0.2, 0.1), vocab_size=8000)
    assert demo.curation == CurationConfig()
    stated = yaml.safe_load((RECIPES_DIR / "demo.yaml").read_text(encoding="utf-8"))
    assert stated["base"] == "tiny-moe" and "model" not in stated and "train" not in stated


def test_base_merges_mappings_key_by_key_and_replaces_the_rest(tmp_path):
    write(tmp_path, "parent.yaml", "description: parent\ntrain:\n  seed: 7\n  lr: 2.0e-3\nrun:\n  inputs: [a, b]\n")
    child = write(tmp_path, "child.yaml", "base: parent.yaml\ntrain:\n  seed: 8\nrun:\n  inputs: [c]\n")
    recipe = load_recipe(child)
    assert recipe.name == "child" and recipe.description == "parent"
    assert (recipe.train.seed, recipe.train.lr) == (8, 2.0e-3)
    assert recipe.run.inputs == ["c"]
    assert merge({"a": {"x": 1, "y": 2}, "l": [1]}, {"a": {"y": 3}, "l": [2]}) == {"a": {"x": 1, "y": 3}, "l": [2]}


def test_base_by_builtin_name_from_any_folder(tmp_path):
    child = write(tmp_path, "mine.yaml", "base: tiny-moe\ntrain:\n  steps_per_phase: 3\n")
    recipe, tiny = load_recipe(child), load_recipe("tiny-moe")
    assert recipe.name == "mine" and recipe.model == tiny.model
    assert recipe.train == dataclasses.replace(tiny.train, steps_per_phase=3)


def test_base_cycle_names_the_files(tmp_path):
    a = write(tmp_path, "a.yaml", "base: b.yaml\n")
    write(tmp_path, "b.yaml", "base: a.yaml\n")
    with pytest.raises(RecipeError, match=r"cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_recipe(a)
    itself = write(tmp_path, "self.yaml", "base: self.yaml\n")
    with pytest.raises(RecipeError, match="cycle"):
        load_recipe(itself)


def test_missing_base_is_an_error_naming_the_child(tmp_path):
    child = write(tmp_path, "child.yaml", "base: nowhere.yaml\n")
    with pytest.raises(RecipeError, match=r"child\.yaml: base recipe not found: .*nowhere\.yaml"):
        load_recipe(child)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "curation:\n  language:\n    threshold: high\n",
            "bad.yaml: curation.language.threshold must be a number, got 'high'",
        ),
        ("model:\n  num_layers: true\n", "bad.yaml: model.num_layers must be an integer, got True"),
        ("model:\n  num_layers: 2.5\n", "model.num_layers must be an integer, got 2.5"),
        ("curation:\n  dedup:\n    exact: 'yes'\n", "curation.dedup.exact must be true or false, got 'yes'"),
        ("description: 3\n", "description must be a string, got 3"),
        ("curation:\n  normalize:\n    niqqud: drop\n", "curation.normalize.niqqud must be one of 'keep', 'strip'"),
        ("model:\n  num_query_groups: two\n", "model.num_query_groups must be an integer or null, got 'two'"),
        ("shards:\n  anchor_ratio: [0.3, 0.2]\n", r"shards.anchor_ratio must be a list of 3 numbers"),
        ("shards:\n  anchor_ratio: [0.3, x, 0.1]\n", r"shards.anchor_ratio\[1\] must be a number, got 'x'"),
        ("shards:\n  tokenizer: 5\n", "shards.tokenizer must be a path or null, got 5"),
        ("difficulty:\n  percentiles: 33\n", "difficulty.percentiles must be a list of 2 numbers, got 33"),
        ("run:\n  inputs: sample\n", "run.inputs must be a list of strings, got 'sample'"),
        (
            "curation:\n  quality:\n    gopher_repetition:\n      top_n_grams: {two: 0.1}\n",
            "curation.quality.gopher_repetition.top_n_grams must be a mapping of integers to numbers, "
            "got the key 'two'",
        ),
        (
            "curation:\n  quality:\n    gopher_repetition:\n      dup_n_grams: {5: lots}\n",
            "curation.quality.gopher_repetition.dup_n_grams.5 must be a number, got 'lots'",
        ),
        ("curation:\n  quality:\n    nemo: {urls: 0.2}\n", "curation.quality.nemo.urls must be a mapping of strings"),
        ("curation: 3\n", "curation must be a mapping, got 3"),
        ("train:\n  lr: 1e-3\n", "train.lr must be a number, got '1e-3' .*write 1.0e-3"),
    ],
)
def test_wrong_types_name_file_key_and_expected_type(tmp_path, text, message):
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(write(tmp_path, "bad.yaml", text))
    assert "\n" not in str(info.value)


def test_numbers_accept_integers_and_paths_accept_strings(tmp_path):
    recipe = load_recipe(
        write(tmp_path, "ok.yaml", "curation:\n  language:\n    threshold: 1\ndifficulty:\n  lm_dir: some/lm\n")
    )
    assert recipe.curation.language.threshold == 1
    assert recipe.difficulty.lm_dir is not None and recipe.difficulty.lm_dir.name == "lm"


def test_error_in_a_base_names_the_base(tmp_path):
    write(tmp_path, "parent.yaml", "train:\n  seed: seven\n")
    child = write(tmp_path, "child.yaml", "base: parent.yaml\n")
    with pytest.raises(RecipeError, match=r"parent\.yaml: train\.seed must be an integer"):
        load_recipe(child)


def test_misspelt_nemo_argument_names_filter_argument_and_known_ones(tmp_path):
    path = write(tmp_path, "bad.yaml", "curation:\n  quality:\n    nemo:\n      urls: {max_url_ratio: 0.1}\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert "bad.yaml: curation.quality.nemo.urls: UrlsFilter has no argument 'max_url_ratio'" in message
    assert "known: max_url_to_text_ratio" in message and "\n" not in message


def test_unknown_keys_name_file_and_key(tmp_path):
    with pytest.raises(RecipeError, match=r"bad\.yaml: unknown key 'curation\.languag'"):
        load_recipe(write(tmp_path, "bad.yaml", "curation:\n  languag: {threshold: 0.9}\n"))
    with pytest.raises(RecipeError, match=r"bad2\.yaml: unknown key 'modle'"):
        load_recipe(write(tmp_path, "bad2.yaml", "modle: {}\n"))


def test_recipe_error_is_a_user_facing_value_error():
    assert issubclass(RecipeError, HebatronError) and issubclass(RecipeError, ValueError)


def test_loading_recipes_imports_neither_datatrove_nor_nemo_curator():
    code = (
        "import sys, hebatron.recipes as r; r.load_recipe('demo'); r.load_recipe('default'); "
        "print(sorted(m for m in ('datatrove', 'nemo_curator', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
