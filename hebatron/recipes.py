"""Recipes: YAML files, loaded strictly into typed dataclasses.

A recipe is a name from `hebatron/recipes/` (`default`, `demo`, ...) or a path to a YAML file. It states only
what differs from the dataclasses' defaults, and may name a `base` recipe (a built-in name, or a path relative
to the recipe file): the recipe's mapping is merged over its base's, mappings key by key, anything else
replacing. `name` defaults to the file's stem. Every value is checked against the dataclass type hints before
anything is built; a wrong type or a key that the dataclasses do not define is an error naming the file and
the dotted key.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from common.errors import HebatronError
from curation.config import CurationConfig
from difficulty.phases import DifficultyConfig
from hebatron.runner import RunConfig
from shards.config import ShardConfig
from train.config import ModelConfig, TrainConfig
from train.sft_config import SftConfig

RECIPES_DIR = Path(__file__).parent / "recipes"
_SUFFIXES = (".yaml", ".yml")


class RecipeError(HebatronError, ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


@dataclass(kw_only=True, slots=True)
class Recipe:
    name: str = "default"
    """Recipe name, for reports and manifests."""
    description: str = ""
    """One line on what the recipe is for."""
    curation: CurationConfig = field(default_factory=CurationConfig)
    """The `curation:` section."""
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig)
    """The `difficulty:` section."""
    shards: ShardConfig = field(default_factory=ShardConfig)
    """The `shards:` section."""
    run: RunConfig = field(default_factory=RunConfig)
    """The `run:` section (what `hebatron run` does)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The `model:` section."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """The `train:` section."""
    sft: SftConfig = field(default_factory=SftConfig)
    """The `sft:` section (bilingual supervised fine-tuning after the curriculum)."""


def recipe_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in _SUFFIXES:
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
    data, files = _load_data(path, ())
    label = str(path) if len(files) == 1 else f"{path} (over {' over '.join(map(str, files[1:]))})"
    return _construct(Recipe, data, label, "")  # every file was checked by _load_data


def _load_data(path: Path, chain: tuple[Path, ...]) -> tuple[dict, list[Path]]:
    """The recipe's own mapping merged over its bases', checked file by file; and the files, child first."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise RecipeError(f"{path}: recipe base cycle: {cycle}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    except OSError as e:
        raise RecipeError(f"{path}: cannot read the recipe: {e.strerror or e}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    base = data.pop("base", None)
    data = check(Recipe, data, str(path), "")
    if base is None:
        return data, [path]
    base_data, files = _load_data(_base_path(base, path), (*chain, resolved))
    return merge(base_data, data), [path, *files]


def _base_path(base: Any, child: Path) -> Path:
    if not isinstance(base, str) or not base:
        raise RecipeError(f"{child}: base must be a recipe name or a .yaml path, got {base!r}")
    if Path(base).suffix not in _SUFFIXES:
        try:
            return recipe_path(base)
        except RecipeError as e:
            raise RecipeError(f"{child}: base: {e}") from None
    path = child.parent / base
    if not path.is_file():
        raise RecipeError(f"{child}: base recipe not found: {path}")
    return path


def merge(base: dict, child: dict) -> dict:
    """`child` over `base`: mappings merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in child.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _construct(cls: type, data: dict, file: str, where: str):
    """Builds dataclass `cls` from a mapping that `check` passed, recursively."""
    hints = _hints(cls)
    kwargs = {}
    for key, value in data.items():
        kind = _dataclass_in(hints[key])
        kwargs[key] = _construct(kind, value, file, _join(where, key)) if kind and value is not None else value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise RecipeError(f"{file}: {_located(where or cls.__name__, str(e))}") from None


def _located(where: str, message: str) -> str:
    """`curation.quality` + `quality.nemo.urls: ...` -> `curation.quality.nemo.urls: ...`."""
    parent, _, leaf = where.rpartition(".")
    if message.startswith((f"{leaf}.", f"{leaf}:", f"{leaf} ")):
        return _join(parent, message)
    return f"{where}: {message}"


# --- type checks against the dataclass hints ----------------------------------------------------------------


class _Mismatch(Exception):
    def __init__(self, key: str, expected: str, got: str, note: str = ""):
        super().__init__(key)
        self.key, self.expected, self.got, self.note = key, expected, got, note


def check(cls: type, data: Any, file: str, where: str) -> dict:
    """`data` checked against dataclass `cls` (unknown keys, value types); tuples and paths converted."""
    try:
        return _check(cls, data, file, where)
    except _Mismatch as m:
        raise RecipeError(f"{file}: {m.key or cls.__name__} must be {m.expected}, got {m.got}{m.note}") from None


def _check(hint: Any, value: Any, file: str, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return _check_fields(hint, value, file, key)
    if hint is type(None) or hint is None:
        if value is None:
            return None
        raise _Mismatch(key, "null", repr(value))
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return _check_union(hint, args, value, file, key)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _Mismatch(key, _describe(hint), repr(value))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch(key, _describe(hint), repr(value))
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch(key, _describe(hint), repr(value))
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise _Mismatch(key, _describe(hint), repr(value), _number_note(value))
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Mismatch(key, _describe(hint), repr(value))
    if hint is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise _Mismatch(key, _describe(hint), repr(value))
    if origin in (tuple, list):
        return _check_sequence(hint, origin, args, value, file, key)
    if origin is dict:
        return _check_mapping(hint, args, value, file, key)
    return value  # a hint these checks do not know: the dataclass validates it


def _check_fields(cls: type, data: Any, file: str, where: str) -> dict:
    if not isinstance(data, dict):
        raise _Mismatch(where, "a mapping", repr(data))
    hints = _hints(cls)
    for key in data:
        if key not in hints:
            raise RecipeError(f"{file}: unknown key '{_join(where, key)}' (known: {', '.join(sorted(hints))})")
    return {key: _check(hints[key], value, file, _join(where, key)) for key, value in data.items()}


def _check_union(hint: Any, args: tuple, value: Any, file: str, key: str) -> Any:
    if value is None and type(None) in args:
        return None
    options, note = [a for a in args if a is not type(None)], ""
    for option in options:
        try:
            return _check(option, value, file, key)
        except _Mismatch as m:
            if len(options) == 1 and m.key != key:
                raise  # the right kind of value, with a wrong element: name the element
            note = m.note
    raise _Mismatch(key, _describe(hint), repr(value), note)


def _check_sequence(hint: Any, origin: type, args: tuple, value: Any, file: str, key: str) -> Any:
    if not isinstance(value, list | tuple):
        raise _Mismatch(key, _describe(hint), repr(value))
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _Mismatch(key, _describe(hint), f"{len(value)} item(s): {list(value)!r}")
        items = [_check(a, v, file, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))]
    else:
        item = args[0] if args else Any
        items = [_check(item, v, file, f"{key}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _check_mapping(hint: Any, args: tuple, value: Any, file: str, key: str) -> dict:
    if not isinstance(value, dict):
        raise _Mismatch(key, _describe(hint), repr(value))
    key_hint, value_hint = args or (Any, Any)
    out = {}
    for k, v in value.items():
        try:
            checked_key = _check(key_hint, k, file, key)
        except _Mismatch:
            raise _Mismatch(key, _describe(hint), f"the key {k!r}") from None
        out[checked_key] = _check(value_hint, v, file, f"{key}.{k}")
    return out


def _number_note(value: Any) -> str:
    try:
        float(value)
    except (TypeError, ValueError):
        return ""
    return " (YAML reads a number without a decimal point, such as 1e-3, as text: write 1.0e-3)"


_NAMES = {
    bool: ("true or false", "true/false values"),
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
    Path: ("a path", "paths"),
}


def _describe(hint: Any, plural: bool = False) -> str:
    """The expected type in words: `a number`, `a list of 2 numbers`, `one of 'keep', 'strip'`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in _NAMES:
        return _NAMES[hint][plural]
    if hint is Any:
        return "values" if plural else "anything"
    if dataclasses.is_dataclass(hint):
        return "mappings" if plural else "a mapping"
    if origin is Literal:
        return ("values among " if plural else "one of ") + ", ".join(map(repr, args))
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        words = [_describe(a, plural) for a in args if a is not type(None)]
        return " or ".join(words + (["null"] if type(None) in args else []))
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            kinds = {_describe(a, True) for a in args}
            inner = f"{len(args)} {kinds.pop()}" if len(kinds) == 1 else ", ".join(_describe(a) for a in args)
        else:
            inner = _describe(args[0], True) if args else "values"
        return f"lists of {inner}" if plural else f"a list of {inner}"
    if origin is dict:
        k, v = args or (Any, Any)
        inner = f"{_describe(k, True)} to {_describe(v, True)}"
        return f"mappings of {inner}" if plural else f"a mapping of {inner}"
    return getattr(hint, "__name__", str(hint))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _dataclass_in(hint) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), None)
    return None
