"""Recipes: one YAML file, loaded strictly into typed dataclasses.

A recipe is a name from `hebatron/recipes/` (`default`, `demo`, ...) or a path to a YAML file. Any key
that the dataclasses do not define is an error naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curation.config import CurationConfig
from difficulty.phases import DifficultyConfig
from hebatron.runner import RunConfig
from shards.config import ShardConfig
from train.config import ModelConfig, TrainConfig

RECIPES_DIR = Path(__file__).parent / "recipes"


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


@dataclass(kw_only=True, slots=True)
class Recipe:
    name: str = "default"
    """Recipe name, for reports and manifests."""
    description: str = ""
    curation: CurationConfig = field(default_factory=CurationConfig)
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def recipe_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise RecipeError(f"recipe file not found: {path}")
        return path
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
        raise RecipeError(f"unknown recipe {name_or_path!r}; built-in recipes: {known} (or pass a .yaml path)")
    return candidate


def load_recipe(name_or_path: str | Path = "default") -> Recipe:
    path = recipe_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    return build(Recipe, data, str(path), "")


def build(cls: type, data: Any, file: str, where: str):
    """Builds dataclass `cls` from a mapping, recursively, refusing unknown keys."""
    if not isinstance(data, dict):
        raise RecipeError(f"{file}: '{where or cls.__name__}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise RecipeError(f"{file}: unknown key '{where + '.' if where else ''}{key}' "
                              f"(known: {', '.join(sorted(names))})")
    kwargs = {}
    for key, value in data.items():
        kind = _dataclass_in(hints[key])
        path = f"{where}.{key}" if where else key
        kwargs[key] = build(kind, value, file, path) if kind and value is not None else value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise RecipeError(f"{file}: {where or cls.__name__}: {e}") from None


def _dataclass_in(hint) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), None)
    return None
