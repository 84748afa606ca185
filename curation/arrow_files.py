"""Arrow IPC files, as Hugging Face `datasets` writes them with `save_to_disk` (`data-00000-of-00001.arrow`
beside `dataset_info.json` and `state.json`): the stream format, or the file format from other writers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

ARROW_SUFFIXES = (".arrow",)


def arrow_batches(f: BinaryIO):
    """(schema, iterator of record batches) of the Arrow IPC stream or file F (seekable)."""
    import pyarrow as pa

    start = f.tell()
    try:
        reader = pa.ipc.open_stream(f)
        return reader.schema, iter(reader)
    except pa.ArrowInvalid:
        f.seek(start)
        file_reader = pa.ipc.open_file(f)
        batches: Iterator = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
        return file_reader.schema, batches
