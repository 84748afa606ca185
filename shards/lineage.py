"""Where each shard row's tokens are in its phase's Megatron files: ``RUN/tokens/phase-k/lineage.parquet``.

One row per shard row: ``id``, ``phase``, ``shard`` (its file, relative to ``RUN/shards``) and ``shard_row``,
``prefix`` (the ``.bin``/``.idx`` pair, relative to ``RUN/tokens``), ``document`` (its index in that dataset),
``first_token`` (its offset in the ``.bin``, in tokens) and ``tokens`` (end-of-document token included): the
document is ``bin[first_token : first_token + tokens]``, which is also ``IndexedDataset(prefix)[document]``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LINEAGE_FILE = "lineage.parquet"
LINEAGE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("phase", pa.int8()),
        ("shard", pa.string()),
        ("shard_row", pa.int64()),
        ("prefix", pa.string()),
        ("document", pa.int64()),
        ("first_token", pa.int64()),
        ("tokens", pa.int64()),
    ]
)


class Lineage:
    """Collects one phase's token ranges while ``tokenize`` writes its datasets."""

    def __init__(self, phase: int):
        self.phase = phase
        self.columns: dict[str, list] = {name: [] for name in LINEAGE_SCHEMA.names}

    def add(self, doc_id: str, shard: str, row: int, role: str, document: int, first_token: int, tokens: int) -> None:
        values = (doc_id, self.phase, shard, row, f"phase-{self.phase}/{role}", document, first_token, int(tokens))
        for name, value in zip(LINEAGE_SCHEMA.names, values, strict=True):
            self.columns[name].append(value)

    def write(self, tokens_dir: Path, relative: str) -> str:
        pq.write_table(pa.table(self.columns, schema=LINEAGE_SCHEMA), tokens_dir / relative, compression="zstd")
        return relative
