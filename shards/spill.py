"""An external shuffle into fixed-size shards, in bounded memory.

Rows arrive in input order, each with its final place (phase, output position); shard ``j`` of a phase holds
positions ``[j * shard_rows, (j + 1) * shard_rows)``. Rows are buffered per shard; when the buffered text
passes ``buffer_bytes`` every buffer is spilled to a small Parquet piece under the staging directory.
``finish()`` then builds one shard at a time: its pieces (plus what is still buffered), sorted by position.
Memory: the buffer budget, then one shard. Output bytes depend only on the rows and their positions, never on
when spills happened.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common.files import file_sha256

__all__ = ["SHARD_SCHEMA", "ShuffleWriter"]

SHARD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("phase", pa.int8(), nullable=False),
        pa.field("perplexity", pa.float64()),
    ]
)
_POS = "__position"
_SPILL_SCHEMA = SHARD_SCHEMA.append(pa.field(_POS, pa.int64()))
ROW_GROUP_ROWS = 1000


class ShuffleWriter:
    def __init__(self, staging: Path, shard_rows: int, buffer_bytes: int = 256 << 20) -> None:
        self.staging = staging
        self.shard_rows = shard_rows
        self.buffer_bytes = buffer_bytes
        self._buffers: dict[tuple[int, int], list[pa.Table]] = defaultdict(list)
        self._pieces: dict[tuple[int, int], list[Path]] = defaultdict(list)
        self._buffered = 0
        self._spills = 0

    def add(self, phase: int, positions: np.ndarray, columns: dict[str, list | pa.Array]) -> None:
        """Rows of one phase: ``columns`` by SHARD_SCHEMA name, ``positions`` their output positions."""
        table = pa.table({**columns, _POS: pa.array(positions, pa.int64())}, schema=_SPILL_SCHEMA)
        shard_of = np.asarray(positions) // self.shard_rows
        for shard in np.unique(shard_of):
            part = table.filter(pa.array(shard_of == shard))
            self._buffers[(phase, int(shard))].append(part)
            self._buffered += part.nbytes
        if self._buffered > self.buffer_bytes:
            self._spill()

    def _spill(self) -> None:
        spill_dir = self.staging / "spill"
        spill_dir.mkdir(exist_ok=True)
        for key, tables in sorted(self._buffers.items()):
            path = spill_dir / f"p{key[0]}-s{key[1]:05d}-{self._spills:05d}.parquet"
            pq.write_table(pa.concat_tables(tables), path, compression="lz4")
            self._pieces[key].append(path)
        self._buffers.clear()
        self._buffered = 0
        self._spills += 1

    def finish(self, out_dir: Path, phase: int, n_rows: int) -> list[dict]:
        """Write ``out_dir/phase-<phase>/part-NNNNN.parquet`` for the phase's ``n_rows`` rows; returns the
        manifest's file entries (path relative to ``out_dir``, sha256, rows)."""
        files = []
        phase_dir = out_dir / f"phase-{phase}"
        phase_dir.mkdir(parents=True, exist_ok=True)
        for shard in range(-(-n_rows // self.shard_rows)):
            key = (phase, shard)
            pieces = self._pieces.pop(key, [])
            tables = [pq.read_table(p, schema=_SPILL_SCHEMA) for p in pieces]
            tables += self._buffers.pop(key, [])
            table = pa.concat_tables(tables)
            table = table.take(pc.sort_indices(table, [(_POS, "ascending")]))
            expected = min(self.shard_rows, n_rows - shard * self.shard_rows)
            if table.num_rows != expected:  # a bug, not bad input: never write a wrong shard silently
                raise RuntimeError(f"phase {phase} shard {shard}: {table.num_rows} rows, expected {expected}")
            table = table.drop_columns([_POS]).cast(SHARD_SCHEMA)
            path = phase_dir / f"part-{shard:05d}.parquet"
            pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            files.append({"path": str(path.relative_to(out_dir)), "sha256": file_sha256(path), "rows": table.num_rows})
            for piece in pieces:
                piece.unlink()
        return files
