"""Text records (anchors, reference-LM corpora) read from gzip, zstd, bzip2 and xz files: whole files give every
record; a cut one is an error naming the file, never a silent short read."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma

import pytest
import zstandard

from common.records import RecordError, iter_text_batches

COMPRESS = {
    ".gz": gzip.compress,
    ".zst": lambda data: zstandard.ZstdCompressor().compress(data),
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}
LINES = b"".join(json.dumps({"text": f"record {i}: some English prose"}).encode() + b"\n" for i in range(3000))


def _texts(path) -> list[str]:
    return [t for _, batch in iter_text_batches(path) for t in batch]


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_compressed_jsonl_reads_every_record(tmp_path, suffix):
    path = tmp_path / f"a.jsonl{suffix}"
    path.write_bytes(COMPRESS[suffix](LINES))
    texts = _texts(path)
    assert len(texts) == 3000 and texts[-1] == "record 2999: some English prose"


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_a_cut_compressed_file_is_an_error_naming_it(tmp_path, suffix):
    data = COMPRESS[suffix](LINES)
    path = tmp_path / f"cut.jsonl{suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordError, match=f"{path}: cannot read"):
        _texts(path)


def test_compression_is_recognized_by_its_bytes(tmp_path):
    path = tmp_path / "packed.jsonl"  # zstd-compressed, named as plain JSONL
    path.write_bytes(COMPRESS[".zst"](LINES))
    assert len(_texts(path)) == 3000
