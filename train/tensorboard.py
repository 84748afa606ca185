"""``hebatron train --tensorboard DIR``: the records of ``metrics.jsonl`` also as TensorBoard scalars.

Every number of every record becomes the scalar ``{kind}/{field}`` (``train/loss``, ``train/lr``,
``train/grad_norm``, ``train/tokens_per_s``, ``train/mfu``, ``train/memory_gib``, ``eval/he_loss``,
``eval/he_acc``, ``data/epochs``, ...) at the global step: a train record's own, and for the eval and data
records of a phase the step that ends it. The writer is ``torch.utils.tensorboard.SummaryWriter``, which needs
the ``tensorboard`` package (``pip install tensorboard``, or the project's ``tensorboard`` extra). A resumed run
opens its writer with ``purge_step`` at the checkpoint's step, so TensorBoard drops the events after it that
an interrupted run had written, as ``metrics.jsonl`` is cut back.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import HebatronError

__all__ = ["TensorBoardUnavailable", "TensorBoardSink", "scalars", "check_available"]

#: Fields that place a record (not values to plot).
_POSITION = {"kind", "step", "phase", "after_phase"}


class TensorBoardUnavailable(HebatronError, ImportError):
    """``--tensorboard`` without the ``tensorboard`` package."""


def check_available() -> None:
    """``TensorBoardUnavailable`` (one line) when ``torch.utils.tensorboard`` cannot be imported."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as e:
        raise TensorBoardUnavailable(
            f"--tensorboard needs the tensorboard package, which is not installed ({e}); "
            "pip install tensorboard (or the hebatron[tensorboard] extra), or train without --tensorboard"
        ) from None


def scalars(record: dict) -> dict[str, float]:
    """``{"kind/field": value}`` for every number of a metrics record (None and booleans left out)."""
    kind = record.get("kind", "train")
    return {
        f"{kind}/{k}": float(v)
        for k, v in record.items()
        if k not in _POSITION and isinstance(v, int | float) and not isinstance(v, bool)
    }


class TensorBoardSink:
    """Receives each record ``MetricsLog`` writes; eval and data records take the last train step seen."""

    def __init__(self, log_dir: Path, *, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.step = start_step
        self.writer = SummaryWriter(str(log_dir), purge_step=start_step + 1 if start_step else None)

    def __call__(self, record: dict) -> None:
        if record.get("kind") == "train":
            self.step = int(record["step"])
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, self.step)
        if record.get("kind") == "eval":  # a phase ended: make it visible now
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()
