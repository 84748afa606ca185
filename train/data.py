"""Per-phase training data and the held-out evaluation sets, as Megatron datasets.

Inputs (written by ``hebatron tokenize``): ``RUN/tokens/phase-{k}/{hebrew,anchor}.{bin,idx}``,
``RUN/tokens/eval/{he,en}.{bin,idx}`` and ``RUN/shards/manifest.json`` (per-phase ``anchor_ratio``, the
tokenizer's ``vocab_size`` and ``eod``).

Phase ``k`` is Megatron's ``BlendedDataset`` of its Hebrew and anchor prefixes weighted ``1 - r_k`` and
``r_k`` — Megatron realizes the weights exactly in samples, and every sample is ``seq_length + 1`` tokens, so
the token shares are the manifest's. ``shuffled`` order (the no-curriculum baseline) is one blend of all six
prefixes weighted ``(1 - r_k) s_k / S`` and ``r_k s_k / S`` (``s_k`` phase k's steps, ``S`` all steps: a third
each with equal steps): the same tokens of each kind as the curriculum, with no order, cut into three slots of
``s_k`` steps. Steps per phase come from ``phase_steps`` (``train.tokens_per_phase``; see ``train.epochs``).

A fixed English share (``train.anchor_share: fixed``) is built apart (``Interleaved``): one English stream for
the whole run, drawn from the three phases' anchor documents pooled, is consumed in order by the run's steps at
the mean share, whatever the order of the phases — every order sees the same English sequences at the same
steps, and only the order of the Hebrew differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from common import layout
from common.errors import HebatronError
from common.files import file_sha256
from common.freshness import recorded_files
from common.layout import PHASES, phase_order
from train import epochs
from train.config import ModelConfig, TrainConfig

__all__ = [
    "MissingTokensError",
    "TokenizerInfo",
    "PhaseData",
    "read_manifest",
    "manifest_sha256",
    "phase_order",
    "build_phases",
    "phase_tokens",
    "phase_steps",
    "anchor_ratios",
    "build_eval_sets",
]


class MissingTokensError(HebatronError, FileNotFoundError):
    """The run has no (or incomplete) token files; the message names the path and what to run."""


@dataclass(frozen=True, slots=True)
class TokenizerInfo:
    """The tokenizer stand-in Megatron's ``GPTDataset`` needs: ``vocab_size``, ``eod``, ``unique_identifiers``."""

    name: str
    vocab_size: int
    eod: int
    sha256: str = ""
    data_sha256: str = ""
    """The manifest's sha256: part of Megatron's dataset cache key, so re-tokenized data is never read
    through indices cached for the old files."""

    @property
    def unique_identifiers(self) -> dict:
        return {
            "class": "hebatron-manifest-tokenizer",
            "name": self.name,
            "vocab_size": self.vocab_size,
            "eod": self.eod,
            "sha256": self.sha256,
            "data_sha256": self.data_sha256,
        }

    @classmethod
    def from_manifest(cls, manifest: dict, path: Path, data_sha256: str = "") -> TokenizerInfo:
        tok = manifest.get("tokenizer") or {}
        try:
            return cls(
                name=str(tok.get("name", "")),
                vocab_size=int(tok["vocab_size"]),
                eod=int(tok["eod"]),
                sha256=str(tok.get("sha256", "")),
                data_sha256=data_sha256,
            )
        except (KeyError, TypeError, ValueError):
            raise MissingTokensError(
                f"{path}: the manifest's 'tokenizer' entry needs 'vocab_size' and 'eod', "
                f"got {tok!r}; re-run `hebatron shard`"
            ) from None


@dataclass(frozen=True, slots=True)
class PhaseData:
    """One curriculum slot: the phase label, its dataset, the sample where the slot starts in it, and its steps."""

    phase: int
    dataset: object
    offset: int
    steps: int


def read_manifest(run_dir: Path) -> dict:
    """The shard manifest, after checking that the run has been tokenized and that the token files and the
    manifest are the ones tokenize and shard recorded writing (by sha256)."""
    tokens = run_dir / "tokens"
    if not tokens.is_dir():
        raise MissingTokensError(
            f"{tokens} not found: this run has no token files; run `hebatron tokenize {run_dir}` first"
        )
    recorded_files(run_dir, "tokens", reader="train")
    recorded_files(run_dir, "shards/manifest.json", reader="train")
    try:
        manifest = layout.read_manifest(run_dir)
    except layout.MissingStageOutput as e:
        raise MissingTokensError(str(e)) from None
    path = run_dir / "shards" / "manifest.json"
    for k in PHASES:
        if str(k) not in manifest.get("phases", {}):
            raise MissingTokensError(f"{path}: phase {k} is missing from 'phases'; re-run `hebatron shard {run_dir}`")
    return manifest


def manifest_sha256(run_dir: Path) -> str:
    return file_sha256(run_dir / "shards" / "manifest.json")


def _prefix(run_dir: Path, *parts: str) -> str:
    prefix = run_dir.joinpath("tokens", *parts)
    for suffix in (".bin", ".idx"):
        if not prefix.with_name(prefix.name + suffix).is_file():
            raise MissingTokensError(f"{prefix}{suffix} not found: run `hebatron tokenize {run_dir}` first")
    return str(prefix)


def _documents(prefix: str) -> int:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    return len(IndexedDataset(prefix))


def _tokens(prefix: str) -> int:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    indexed = IndexedDataset(prefix)  # keep it alive: sequence_lengths is a view of its memory map
    return int(indexed.sequence_lengths.sum())


def phase_tokens(run_dir: Path, manifest: dict, anchor_share: str = "phase") -> dict[int, int]:
    """Phase -> the tokens its blend draws from (Hebrew + anchor, end-of-document tokens included), counted in
    the token files the trainer reads."""
    return {k: sum(_tokens(p) for p, _ in phase_blend(run_dir, manifest, k, anchor_share)) for k in PHASES}


def phase_steps(train: TrainConfig, tokens: dict[int, int]) -> dict[int, int]:
    """Phase -> its optimizer steps under ``train.tokens_per_phase``; they sum to ``train.total_steps``."""
    return epochs.phase_steps(train.tokens_per_phase, train.steps_per_phase, tokens)


def anchor_ratios(run_dir: Path, manifest: dict, anchor_share: str = "phase") -> dict[int, float]:
    """Phase -> the English share ``r`` the trainer draws: the manifest's ``anchor_ratio`` of each phase
    (``anchor_share`` phase) or, for ``fixed``, their mean in every phase."""
    ratios = {}
    for k in PHASES:
        ratio = float(manifest["phases"][str(k)].get("anchor_ratio", 0.0))
        if not 0.0 <= ratio < 1.0:
            raise MissingTokensError(
                f"{run_dir / 'shards' / 'manifest.json'}: phase {k} anchor_ratio must be in [0, 1), got {ratio}"
            )
        ratios[k] = ratio
    if anchor_share == "fixed":
        mean = sum(ratios.values()) / len(ratios)
        ratios = dict.fromkeys(ratios, mean)
    return ratios


def phase_blend(run_dir: Path, manifest: dict, phase: int, anchor_share: str = "phase") -> list[tuple[str, float]]:
    """``[(prefix, weight)]`` of one phase: Hebrew ``1 - r``, anchor ``r`` (empty parts left out; ``r`` from
    ``anchor_ratios``). The anchor is the phase's own anchor documents, or for ``fixed`` those of all three
    phases pooled (weighted by their tokens): the anchor files are sized for each phase's own ratio, so a
    phase-own anchor at the mean ratio would repeat the smallest set most, and the order would still move
    which English is repeated."""
    ratio = anchor_ratios(run_dir, manifest, anchor_share)[phase]
    blend = [(_prefix(run_dir, f"phase-{phase}", "hebrew"), 1.0 - ratio)]
    if ratio > 0 and anchor_share == "fixed":
        pool = [_prefix(run_dir, f"phase-{k}", "anchor") for k in PHASES]
        tokens = {p: _tokens(p) for p in pool if _documents(p) > 0}
        blend += [(p, ratio * t / sum(tokens.values())) for p, t in tokens.items()]
    elif ratio > 0:
        blend.append((_prefix(run_dir, f"phase-{phase}", "anchor"), ratio))
    blend = [(p, w) for p, w in blend if _documents(p) > 0]
    if not blend:
        raise MissingTokensError(f"{run_dir / 'tokens' / f'phase-{phase}'}: no documents to train on")
    return blend


def _gpt_config(
    model: ModelConfig, train: TrainConfig, tokenizer: TokenizerInfo, cache: Path | None, *, seed=None, **blend
):
    from megatron.core.datasets.gpt_dataset import GPTDatasetConfig

    return GPTDatasetConfig(
        random_seed=train.seed if seed is None else seed,
        sequence_length=model.seq_length,
        tokenizer=tokenizer,
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,
        mid_level_dataset_surplus=0.005,
        path_to_cache=str(cache) if cache is not None else None,
        **blend,
    )


def _build(sizes, config) -> list:
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset

    return BlendedMegatronDatasetBuilder(GPTDataset, sizes, lambda: True, config).build()


def build_phases(
    run_dir: Path,
    manifest: dict,
    tokenizer: TokenizerInfo,
    *,
    model: ModelConfig,
    train: TrainConfig,
    cache: Path | None = None,
    steps: dict[int, int] | None = None,
) -> list[PhaseData]:
    """The three curriculum slots in training order, phase k's ``steps[k] * global_batch_size`` samples
    (``steps``: from ``phase_steps``; None = ``steps_per_phase`` each)."""
    steps = steps or {k: train.steps_per_phase for k in PHASES}
    batch = train.global_batch_size
    if train.anchor_share == "fixed":
        return _fixed_share_phases(run_dir, manifest, tokenizer, model=model, train=train, cache=cache, steps=steps)
    if train.order == "shuffled":
        total = sum(steps.values())
        # w / (total / s) is exactly w / 3 when the steps are equal: the blend of equal steps is unchanged
        blend = [
            (p, w / (total / steps[k]))
            for k in PHASES
            for p, w in phase_blend(run_dir, manifest, k, train.anchor_share)
        ]
        config = _gpt_config(model, train, tokenizer, cache, blend=_unzip(blend), split="100,0,0")
        dataset = _build([total * batch, 0, 0], config)[0]
        slots, start = [], 0
        for k in PHASES:
            slots.append(PhaseData(phase=k, dataset=dataset, offset=start * batch, steps=steps[k]))
            start += steps[k]
        return slots
    slots = []
    for k in phase_order(train.order):
        config = _gpt_config(
            model,
            train,
            tokenizer,
            cache,
            blend=_unzip(phase_blend(run_dir, manifest, k, train.anchor_share)),
            split="100,0,0",
        )
        slots.append(PhaseData(phase=k, dataset=_build([steps[k] * batch, 0, 0], config)[0], offset=0, steps=steps[k]))
    return slots


class Interleaved:
    """The run's samples at a fixed English share ``ratio``, spread evenly: run sample ``g`` is English when
    ``floor((g + 1) r) > floor(g r)``, and then it is English sample ``floor(g r)`` of the run's one English
    stream; the Hebrew samples are ``hebrew`` in order. ``start``: the run sample where this dataset's sample 0
    sits, so a phase's slot continues the run's spacing and English stream where the slots before it stopped."""

    def __init__(self, hebrew, english, ratio: float, *, start: int = 0) -> None:
        self.hebrew, self.english, self.ratio, self.start = hebrew, english, ratio, start
        self.hebrew_before = start - self.english_before(start, ratio)

    @staticmethod
    def english_before(g: int, ratio: float) -> int:
        """English samples among the run's first ``g``."""
        return math.floor(g * ratio + 1e-9)

    def part(self, i: int) -> tuple[str, int]:
        """``("en", j)``: sample ``i`` is English sample ``j`` of the run's stream; ``("he", j)``: Hebrew ``j``."""
        g = self.start + i
        n_en = self.english_before(g, self.ratio)
        if self.english_before(g + 1, self.ratio) > n_en:
            return "en", n_en
        return "he", g - n_en - self.hebrew_before

    def __getitem__(self, i: int) -> dict:
        kind, j = self.part(i)
        return self.english[j] if kind == "en" else self.hebrew[j]


def _fixed_share_phases(
    run_dir: Path,
    manifest: dict,
    tokenizer: TokenizerInfo,
    *,
    model: ModelConfig,
    train: TrainConfig,
    cache: Path | None,
    steps: dict[int, int],
) -> list[PhaseData]:
    """A fixed English share: one English stream for the whole run, drawn from the anchor documents of all
    phases pooled, consumed in order by the run's steps whatever the order of the phases — so ``forward``,
    ``reversed`` and ``shuffled`` see the same English sequences at the same rate and differ only in the order
    of the Hebrew. Phase k's Hebrew is its own (``shuffled``: the three phases' Hebrew in one blend)."""
    ratio = anchor_ratios(run_dir, manifest, "fixed")[PHASES[0]]
    batch = train.global_batch_size
    order = list(PHASES) if train.order == "shuffled" else phase_order(train.order)
    samples = {k: steps[k] * batch for k in PHASES}
    english_total = Interleaved.english_before(sum(samples.values()), ratio)
    pool = [_prefix(run_dir, f"phase-{k}", "anchor") for k in PHASES]
    pool_tokens = {p: _tokens(p) for p in pool if _documents(p) > 0}
    english = None
    if ratio > 0 and english_total > 0 and pool_tokens:
        weights = [(p, t / sum(pool_tokens.values())) for p, t in pool_tokens.items()]
        config = _gpt_config(model, train, tokenizer, cache, blend=_unzip(weights), split="100,0,0")
        english = _build([english_total, 0, 0], config)[0]
    else:
        ratio = 0.0

    def hebrew(parts: list[tuple[int, float]], size: int):
        blend = [(_prefix(run_dir, f"phase-{k}", "hebrew"), w) for k, w in parts]
        blend = [(p, w) for p, w in blend if _documents(p) > 0]
        if not blend:
            raise MissingTokensError(f"{run_dir / 'tokens'}: no Hebrew documents to train on in phases {parts}")
        config = _gpt_config(model, train, tokenizer, cache, blend=_unzip(blend), split="100,0,0")
        return _build([max(size, 1), 0, 0], config)[0]

    total = sum(samples.values())
    if train.order == "shuffled":
        # w / (total / s) is exactly 1/3 each when the steps are equal
        dataset = Interleaved(hebrew([(k, samples[k] / total) for k in PHASES], total - english_total), english, ratio)
        slots, start = [], 0
        for k in order:
            slots.append(PhaseData(phase=k, dataset=dataset, offset=start, steps=steps[k]))
            start += samples[k]
        return slots
    slots, start = [], 0
    for k in order:
        n_en = Interleaved.english_before(start + samples[k], ratio) - Interleaved.english_before(start, ratio)
        dataset = Interleaved(hebrew([(k, 1.0)], samples[k] - n_en), english, ratio, start=start)
        slots.append(PhaseData(phase=k, dataset=dataset, offset=0, steps=steps[k]))
        start += samples[k]
    return slots


def build_eval_sets(
    run_dir: Path, tokenizer: TokenizerInfo, *, model: ModelConfig, train: TrainConfig, cache: Path | None = None
) -> tuple[dict[str, object], list[str]]:
    """``({"he": dataset, "en": dataset}, notes)``: one epoch of each held-out set in sequences of
    ``seq_length``, in an order seeded by ``train.eval_seed`` (not the training seed). A set that is absent
    (``hebatron tokenize`` writes no ``eval/en`` when no anchor text was held out) or shorter than one
    sequence is left out, with a note saying so."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    prefixes, notes = {}, []
    for name in ("he", "en"):
        prefix = run_dir / "tokens" / "eval" / name
        if not (Path(f"{prefix}.bin").is_file() and Path(f"{prefix}.idx").is_file()):
            notes.append(f"no held-out set {prefix}.bin: {name}_loss is not evaluated")
            continue
        indexed = IndexedDataset(str(prefix))  # keep it alive: sequence_lengths is a view of its memory map
        tokens = int(indexed.sequence_lengths.sum())
        if tokens < model.seq_length + 1:
            notes.append(
                f"{prefix}.bin holds {tokens} tokens, fewer than one sequence ({model.seq_length + 1}): "
                f"{name}_loss is not evaluated"
            )
            continue
        prefixes[name] = str(prefix)
    if not prefixes:
        return {}, notes
    blends = [None, None, None]
    for split, name in ((1, "he"), (2, "en")):
        if name in prefixes:
            blends[split] = ([prefixes[name]], None)
    config = _gpt_config(model, train, tokenizer, cache, seed=train.eval_seed, blend_per_split=blends)
    _, he_set, en_set = _build([0, None, None], config)
    return {name: ds for name, ds in (("he", he_set), ("en", en_set)) if ds is not None}, notes


def _unzip(blend: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    return [p for p, _ in blend], [w for _, w in blend]
