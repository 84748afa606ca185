"""Compressed input streams (gzip, zstd, bzip2, xz), recognized by their magic bytes as well as their name.

`decompressed(raw)` reads a compressed file as one stream of its concatenated frames (gzip members, zstd
frames, bzip2 and xz streams). Where the bytes end inside a frame it raises `EOFError`; where they are not a
valid frame, `CorruptStream`. Everything decompressed before that point has been returned, so a reader keeps
the records that precede the damage.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from typing import BinaryIO

SUFFIXES = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2", ".xz": "xz"}
"""File-name suffix → compression."""
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
)
MAGIC_BYTES = max(len(m) for m, _ in _MAGIC)
_CHUNK = 1 << 14  # compressed bytes fed at a time: what corrupt data costs of the text before it


class CorruptStream(OSError):
    """Bytes that the stream's compression cannot decode."""


def suffix_compression(name: str) -> str | None:
    """The compression a file's name announces (`a.jsonl.zst` → `zstd`), or None."""
    name = name.lower()
    return next((c for s, c in SUFFIXES.items() if name.endswith(s)), None)


def magic_compression(head: bytes) -> str | None:
    """The compression the first bytes of a file show, or None (not compressed, or a kind not known here)."""
    return next((c for m, c in _MAGIC if head.startswith(m)), None)


def _decompressor(kind: str):
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _errors() -> tuple[type[Exception], ...]:
    import zstandard

    return (zlib.error, OSError, lzma.LZMAError, zstandard.ZstdError, EOFError)


class _Stream(io.RawIOBase):
    """The decompressed bytes of RAW, one frame after another."""

    def __init__(self, raw: BinaryIO, kind: str):
        self.raw, self.kind = raw, kind
        self.errors = _errors()
        self.decoder = _decompressor(kind)
        self.fed = False  # whether the current decoder has been given any input
        self.pending = b""  # decompressed bytes not yet returned
        self.error: Exception | None = None  # raised once the bytes before it have been returned
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending and self.error is None and not self.done:
            self._fill()
        if not self.pending and self.error is not None:
            error, self.error, self.done = self.error, None, True
            raise error
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def _fill(self) -> None:
        data = self.raw.read(_CHUNK)
        if not data:
            self.done = not self.fed
            if self.fed:  # input ended inside a frame
                self.error = EOFError(f"the {self.kind} stream ends in the middle of a frame")
            return
        while data:
            try:
                self.pending += self.decoder.decompress(data)
            except self.errors as e:
                self.error = CorruptStream(f"corrupt {self.kind} data: {e}")
                return
            self.fed = True
            if not self.decoder.eof:
                return
            data = self.decoder.unused_data  # the next frame (concatenated streams)
            self.decoder, self.fed = _decompressor(self.kind), False
            if not data.strip(b"\x00"):  # zero padding after the last frame, as gzip allows
                data = b""


def decompressed(raw: BinaryIO, kind: str) -> io.BufferedReader:
    """RAW (a binary file at its start) decompressed as KIND, as a buffered binary stream."""
    return io.BufferedReader(_Stream(raw, kind), buffer_size=1 << 16)
