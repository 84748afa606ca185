"""Verified MinHash near-dedup: wide banding finds candidates, the whole signature confirms them.

FineWeb-2's 14 bands x 8 hashes compare a pair at Jaccard 0.7 only 56% of the time (P = 1 - (1 - J^r)^b).
Narrower bands (32 x 4) compare it 99.9% of the time, but also compare distinct articles that share a third
of their text. So each candidate pair found in a band is checked before it reaches clustering: the share of
equal values among all b x r MinHash values estimates the pair's Jaccard (standard deviation
sqrt(J(1 - J)/(b r)), 0.04 at J = 0.7 with 128 values), and only pairs at or above the threshold are written.

Two steps, in datatrove's stage structure and file formats:

* `SignatureWithFull` is datatrove's `MinhashDedupSignature` that also writes each document's whole
  signature (`full/<rank>.minhash.full`: doc index + b x r values, in document order).
* `VerifiedBuckets` replaces `MinhashDedupBuckets`: one task per band (or several per band, split by hash range,
  as datatrove's), it groups the documents whose band values are equal and writes verified pairs as datatrove's
  `.dups` records, so `MinhashDedupCluster` and `MinhashDedupFilter` run unchanged.

The estimate, not the exact shingle Jaccard, is verified: it needs only the signatures already written (~1 KiB
a document, read by memory map), not the documents' texts or shingle sets at random access across all tasks.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets, MinhashDedupSignature
from fsspec.implementations.local import LocalFileSystem

FULL_DIR = "full"
#: A group of documents equal in one band is checked against at most this many mutually dissimilar members
#: (its "anchors"); a member like none of them becomes one. Bounds the work on a band shared by many pages.
MAX_ANCHORS = 32


def full_dtype(config: MinhashConfig) -> np.dtype:
    """One record of a full-signature file: the document's index in its task, then all its MinHash values."""
    values = np.dtype(config.hash_config.np_dtype).newbyteorder("<")
    return np.dtype([("doc", "<u4"), ("sig", values, (config.num_buckets * config.hashes_per_bucket,))])


def band_dtype(config: MinhashConfig) -> np.dtype:
    """One record of datatrove's per-band signature file: the band's values, then the document's index."""
    values = f"<{config.hash_config.struct_format}"
    return np.dtype([(f"h{i}", values) for i in range(config.hashes_per_bucket)] + [("doc", "<u4")])


class SignatureWithFull(MinhashDedupSignature):
    """datatrove's MinHash signature step; also writes every document's whole signature for verification."""

    name = "🎯 MinHash stage 1 (+ full signatures)"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1):
        self._doc_idx = -1
        dtype = full_dtype(self.config)
        with self.output_folder.open(f"{FULL_DIR}/{rank:05d}.minhash.full", mode="wb") as self._full:
            self._record = np.zeros(1, dtype=dtype)
            super().run(self._counted(data), rank, world_size)  # datatrove's stage 1 yields nothing

    def _counted(self, data: DocumentsPipeline) -> DocumentsPipeline:
        # datatrove's loop numbers documents with enumerate() and hashes each as it arrives
        for self._doc_idx, doc in enumerate(data):
            yield doc

    def get_signature(self, shingles: np.ndarray) -> list[list[int]]:
        sig = super().get_signature(shingles)
        self._record["doc"] = self._doc_idx
        self._record["sig"] = np.concatenate([np.asarray(band, dtype=np.uint64) for band in sig])
        self._full.write(self._record.tobytes())
        return sig


class FullSignatures:
    """The whole signatures of every signature task, read lazily (memory-mapped on a local file system)."""

    def __init__(self, folder, config: MinhashConfig) -> None:
        self.folder, self.dtype = folder, full_dtype(config)
        self._files: dict[int, np.ndarray] = {}

    def of_task(self, task: int) -> np.ndarray:
        if task not in self._files:
            path = f"{FULL_DIR}/{task:05d}.minhash.full"
            if isinstance(self.folder.fs, LocalFileSystem):
                local = Path(self.folder.resolve_paths(path))
                empty = local.stat().st_size == 0
                self._files[task] = np.zeros(0, self.dtype) if empty else np.memmap(local, dtype=self.dtype, mode="r")
            else:
                with self.folder.open(path, "rb") as f:
                    self._files[task] = np.frombuffer(f.read(), dtype=self.dtype)
        return self._files[task]

    def rows(self, task: int, docs: np.ndarray) -> np.ndarray:
        """Row of each document index in its task's file (written in document order, so sorted)."""
        return np.searchsorted(self.of_task(task)["doc"], docs)

    def sig(self, task: int, row: int) -> np.ndarray:
        return self.of_task(task)["sig"][row]


class VerifiedBuckets(MinhashDedupBuckets):
    """Candidate pairs from one band (datatrove's bucket stage layout), written only when the estimated
    Jaccard of the two whole signatures reaches `threshold`."""

    name = "🎯 MinHash stage 2 (verified)"

    def __init__(self, input_folder, output_folder, config: MinhashConfig, threshold: float, **kwargs) -> None:
        super().__init__(input_folder, output_folder, config=config, **kwargs)
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"verification threshold must be within (0, 1], got {threshold}")
        self.threshold = threshold

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1):
        """Task ``rank`` of ``world_size``: with at least one task per band (a multiple of the bands), one band
        or a hash range of it, as datatrove's; with fewer tasks than bands, every ``world_size``-th band (so a
        small run does not start one process per band, which on Ray costs seconds each)."""
        assert data is None, "VerifiedBuckets reads signature files; it takes no documents"
        n_bands = self.config.num_buckets
        if world_size >= n_bands:
            assert world_size % n_bands == 0, "the number of tasks must be a multiple of num_buckets, or below it"
            band, band_worker = divmod(rank, world_size // n_bands)
            work = [(band, band_worker, rank, world_size)]
        else:  # one whole band at a time: the hash range of worker 0 of 1
            work = [(band, 0, band, n_bands) for band in range(rank, n_bands, world_size)]
        full = FullSignatures(self.input_folder, self.config)
        for band, band_worker, range_rank, range_size in work:
            with self.track_time():
                sig_files = self.input_folder.list_files(subdirectory=f"bucket_{band:03d}")
                lo, hi = self.get_worker_hash_range(sig_files, range_rank, range_size)
                records, tasks, rows = self._band_records(sig_files, lo, hi, full)
                with self.output_folder.open(f"{band:05d}_{band_worker:02d}.dups", mode="wb") as out:
                    for group in self._groups(records, tasks):
                        self._verify_group(group, records, tasks, rows, full, out)

    def _band_records(self, sig_files: list[str], lo: int, hi: int, full: FullSignatures):
        """This worker's records of the band (values in [lo, hi)), with the signature task of each and its row
        in that task's full-signature file."""
        dtype, parts, tasks, rows = band_dtype(self.config), [], [], []
        for name in sorted(sig_files, key=lambda f: int(Path(f).name.removesuffix(".minhash.sig"))):
            task = int(Path(name).name.removesuffix(".minhash.sig"))
            with self.input_folder.open(name, "rb") as f:
                recs = np.frombuffer(f.read(), dtype=dtype)
            recs = recs[(recs["h0"] >= lo) & (recs["h0"] < hi)]
            parts.append(recs)
            tasks.append(np.full(len(recs), task, dtype=np.int64))
            rows.append(full.rows(task, recs["doc"]))
        if not parts:
            return np.zeros(0, dtype), np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(parts), np.concatenate(tasks), np.concatenate(rows)

    def _groups(self, records: np.ndarray, tasks: np.ndarray):
        """Indices of records whose band values are all equal, one array per group of two or more."""
        if len(records) < 2:
            return
        columns = [records[f"h{i}"] for i in range(self.config.hashes_per_bucket)]
        order = np.lexsort([records["doc"], tasks, *reversed(columns)])
        same = np.ones(len(order) - 1, dtype=bool)
        for col in columns:
            c = col[order]
            same &= c[1:] == c[:-1]
        starts = np.flatnonzero(~same) + 1
        for group in np.split(order, starts):
            if len(group) > 1:
                yield group

    def _verify_group(self, group, records, tasks, rows, full: FullSignatures, out) -> None:
        """Greedy within the group: each member is paired with the most similar anchor if the estimate reaches
        the threshold, else becomes an anchor itself (up to MAX_ANCHORS)."""
        anchors: list[int] = []
        anchor_sigs: list[np.ndarray] = []
        for i in group:
            sig = full.sig(int(tasks[i]), int(rows[i]))
            if anchors:
                self.stat_update("candidate_pairs")
                similarity = (np.stack(anchor_sigs) == sig).mean(axis=1)
                best = int(np.argmax(similarity))
                if similarity[best] >= self.threshold:
                    a, docs = anchors[best], records["doc"]
                    out.write(struct.pack("<4I", int(tasks[a]), int(docs[a]), int(tasks[i]), int(docs[i])))
                    self.stat_update("verified_pairs")
                    continue
                self.stat_update("rejected_pairs")
            if len(anchors) < MAX_ANCHORS:
                anchors.append(i)
                anchor_sigs.append(sig)
            else:
                self.stat_update("unchecked_members")


def minhash_config(dedup) -> MinhashConfig:
    """datatrove's MinHash configuration for a ``DedupConfig``."""
    from datatrove.utils.hashing import HashConfig

    return MinhashConfig(
        n_grams=dedup.n_grams,
        num_buckets=dedup.num_buckets,
        hashes_per_bucket=dedup.hashes_per_bucket,
        seed=dedup.seed,
        hash_config=HashConfig(precision=64),
    )


def signature_and_buckets(dedup, sigs: str, buckets: str, language: str):
    """The signature and bucket steps a ``DedupConfig`` asks for: FineWeb-2's plain ones
    (``verify_threshold`` null: every band match merges) or the verified ones."""
    config = minhash_config(dedup)
    if dedup.verify_threshold is None:
        return MinhashDedupSignature(sigs, config, language=language), MinhashDedupBuckets(sigs, buckets, config=config)
    signature = SignatureWithFull(sigs, config, language=language)
    return signature, VerifiedBuckets(sigs, buckets, config=config, threshold=dedup.verify_threshold)


def bucket_tasks(dedup, tasks: int) -> int:
    """Tasks of the bucket stage: one per band for FineWeb-2's plain steps (datatrove's layout); for the
    verified ones no more than the run's own tasks, each taking several bands when there are fewer."""
    if dedup.verify_threshold is None:
        return dedup.num_buckets
    return max(1, min(dedup.num_buckets, tasks))
