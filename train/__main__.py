"""``python -m train RUN -o TRAIN_DIR [--recipe tiny-moe] [--order ...] [--seed S] [--steps-per-phase N]``
and ``python -m train ablate RUN -o DIR [--orders forward,reversed,shuffled] [--seeds 3]``.

The same as ``hebatron train`` / ``hebatron ablate``; also the entry point for
``torchrun --nproc_per_node N -m train ...``. Checkpointing spawns a helper process that re-imports this
module, hence the ``__main__`` guard.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from pathlib import Path


def _parser(ablation: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train" + (" ablate" if ablation else ""))
    parser.add_argument("run", type=Path, help="the run directory (with tokens/ and shards/manifest.json)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="TRAIN_DIR (ablation: its directory)")
    parser.add_argument("--recipe", default="tiny-moe", help="recipe name or .yaml path (model: and train:)")
    if ablation:
        parser.add_argument("--orders", default="forward,reversed,shuffled")
        parser.add_argument("--seeds", type=int, default=3, help="seeds per order, from the recipe's seed on")
    else:
        parser.add_argument("--order", choices=["forward", "reversed", "shuffled"])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--steps-per-phase", type=int)
    parser.add_argument("--tp", type=int, help="tensor-parallel size")
    parser.add_argument("--pp", type=int, help="pipeline-parallel size")
    parser.add_argument("--ep", type=int, help="expert-parallel size")
    parser.add_argument("--summary", type=Path, help="also write the returned summary as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ablation = bool(argv) and argv[0] == "ablate"
    args = _parser(ablation).parse_args(argv[1:] if ablation else argv)
    warnings.filterwarnings("ignore", message=".*Transformer Engine and Apex are not installed.*")
    warnings.filterwarnings("ignore", message="Apex is not installed")
    warnings.filterwarnings("ignore", message="full scope is deprecated")
    warnings.filterwarnings("ignore", category=FutureWarning)

    from hebatron.recipes import RecipeError, load_recipe
    from train.checkpoint import CheckpointMismatch
    from train.data import MissingTokensError
    from train.megatron_glue import HybridModelUnavailable

    overrides = {"order": getattr(args, "order", None), "seed": args.seed, "steps_per_phase": args.steps_per_phase,
                 "tensor_parallel": args.tp, "pipeline_parallel": args.pp, "expert_parallel": args.ep}
    try:
        recipe = load_recipe(args.recipe)
        train = dataclasses.replace(recipe.train, **{k: v for k, v in overrides.items() if v is not None})
        if ablation:
            from train.ablate import ablate

            summary = ablate(args.run, args.output, orders=args.orders.split(","), seeds=args.seeds,
                             model=recipe.model, train=train, recipe_name=recipe.name)
        else:
            from train.loop import train_run

            summary = train_run(args.run, args.output, model=recipe.model, train=train, recipe_name=recipe.name)
    except (RecipeError, MissingTokensError, CheckpointMismatch, HybridModelUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.summary is not None:
        args.summary.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
