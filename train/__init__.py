"""Megatron-core MoE trainer through the curriculum phases (see ``train.loop.train_run``).

Importing the package is light (configs only); torch and Megatron load with ``train_run`` / ``ablate``.
"""

from __future__ import annotations

from train.config import ModelConfig, TrainConfig

__all__ = ["ModelConfig", "TrainConfig", "train_run", "ablate"]


def __getattr__(name: str):
    if name == "train_run":
        from train.loop import train_run

        return train_run
    if name == "ablate":
        from train.ablate import ablate

        return ablate
    raise AttributeError(f"module 'train' has no attribute {name!r}")
