"""The curation pipeline: a list of datatrove stages, handed to the Local, Ray or Slurm executor.

    filter          read → extract → normalize → language ID → quality filters → exact-dedup hashes
                                                                                   (one task per file group)
    exact_find                                   exact duplicates among the hashes of all tasks
    minhash_sig/buckets/cluster/filter           exact duplicates dropped, then MinHash near-dedup (5-grams,
                                                 32×4 bands, candidate pairs verified on the whole signature),
                                                 cluster sizes kept
    publish         RUN/.work/out/{curated,excluded} → RUN/{curated,excluded}, RUN/stats.json

The filter stage's output is uncompressed JSONL (gzipping it took more time than most filters), read twice, by
minhash_sig and minhash_filter, each dropping the exact duplicates on the way. Intermediate data lives in
RUN/.work/; every stage writes completion markers under RUN/.work/logs/<stage>, so running the same command again
skips finished tasks and resumes the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.exact_dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
)
from datatrove.pipeline.dedup.minhash import (
    MinhashDedupCluster,
    MinhashDedupFilter,
)
from datatrove.pipeline.formatters import SymbolLinesFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.typeshelper import StatHints

from common.layout import RunLayout
from common.paths import glob_literal
from curation.config import CurationConfig
from curation.dependency_check import use_fast_check
from curation.executors import Stage
from curation.extract import HtmlExtractor
from curation.language import LanguageID
from curation.near_dup import bucket_tasks, minhash_config, signature_and_buckets
from curation.nemo import NemoFilter
from curation.normalize import HebrewNormalizer
from curation.output import CuratedWriter, Publish, excluded_writer
from curation.quality import HebrewFineWebQuality, HebrewGopherQuality, HebrewGopherRepetition, HebrewLetterShare
from curation.readers import CrawlReader, DropRejected
from curation.splits import InputOrder
from curation.visual import VisualOrder
from curation.words import HEBREW_WORDS

use_fast_check()  # datatrove checks each step's dependencies by name (curation/dependency_check.py)


class LiteralFolder(DataFolder):
    """A local DataFolder whose own path is never read as a pattern: datatrove lists dedup signatures with a glob
    under the folder, and a run directory called ``run[1]*`` would otherwise match nothing (and silently keep
    every copy)."""

    def glob(self, path, **kwargs):
        pattern = self.fs.sep.join((glob_literal(self.path), path)) if path else glob_literal(self.path)
        found = self.fs.glob(pattern, **kwargs)
        return self._relpath_detail(found) if kwargs.get("detail") else self._relpath(found)


def work_folder(layout: RunLayout, *parts: str) -> LiteralFolder:
    return LiteralFolder(layout.path(*parts))


class WorkReader(JsonlReader):
    """Reads an intermediate folder of the run; a folder left empty (nothing survived the step that writes it),
    or no file for this task, is no documents, not an error or a warning."""

    name = "📖 Intermediate reader"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # no file for this task (a file whose every record was dropped earlier writes none): nothing to read
        if not self.data_folder.get_shard(rank, world_size, recursive=self.recursive, glob_pattern=self.glob_pattern):
            yield from data or ()
            return
        yield from super().run(data, rank, world_size)


def dedup_content(doc) -> str:
    """What exact dedup compares: the normalized text, whitespace-collapsed."""
    return " ".join(doc.text.split())


class PassingExactSignature(ExactDedupSignature):
    """datatrove's exact-dedup signature step that passes the documents on, so the hashes are taken in the
    filter stage, numbered as the next step (the writer of the filtered documents) stores them."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        signatures = []
        for doc_idx, doc in enumerate(data):
            with self.stats.time_stats:
                self.stat_update(StatHints.total)
                signatures.extend(self.get_hashes(doc, doc_idx))
            yield doc
        self.save_hashes(rank, signatures)


def intermediate_writer(folder: DataFolder) -> JsonlWriter:
    return JsonlWriter(folder, "${rank}.jsonl", compression=None)


def filter_steps(
    config: CurationConfig, layout: RunLayout, data_folder: str, paths_file: str, progress: bool
) -> list[PipelineStep]:
    out = work_folder(layout, "out", "excluded")
    q = config.quality
    steps: list[PipelineStep] = [
        CrawlReader(
            data_folder,
            paths_file,
            max_doc_bytes=config.reader.max_doc_bytes,
            text_key=config.reader.text_key,
            id_key=config.reader.id_key,
            url_key=config.reader.url_key,
            doc_progress=progress,
        ),
        DropRejected(exclusion_writer=excluded_writer(out, "reader")),
        HtmlExtractor(config.extract, exclusion_writer=excluded_writer(out, "extraction")),
        VisualOrder(config.visual_order, exclusion_writer=excluded_writer(out, "visual_order")),
        HebrewNormalizer(config.normalize),
        *([SymbolLinesFormatter()] if config.extract.remove_symbol_lines else []),
        LanguageID(config.language, exclusion_writer=excluded_writer(out, "language")),
        HebrewGopherRepetition(q.gopher_repetition, exclusion_writer=excluded_writer(out, "gopher_repetition")),
        HebrewFineWebQuality(q.fineweb_quality, exclusion_writer=excluded_writer(out, "fineweb_quality")),
        HebrewGopherQuality(q.gopher_quality, exclusion_writer=excluded_writer(out, "gopher_quality")),
    ]
    for name, params in q.nemo.items():
        steps.append(NemoFilter(name, params, exclusion_writer=excluded_writer(out, f"nemo_{name}")))
    steps.append(HebrewLetterShare(q, exclusion_writer=excluded_writer(out, "hebrew")))
    if config.decontaminate:
        from curation.decont.steps import DecontFilter

        steps.append(DecontFilter(config.decontaminate, exclusion_writer=excluded_writer(out, "decontamination")))
    return steps


def build_stages(
    config: CurationConfig, layout: RunLayout, data_folder: str, paths_file: str, tasks: int, progress: bool = False
) -> list[Stage]:
    filtered = work_folder(layout, "filtered")
    excluded_out, curated_out = work_folder(layout, "out", "excluded"), layout.path("out", "curated")
    dedup = config.dedup
    filter_stage = filter_steps(config, layout, data_folder, paths_file, progress)
    exact_stages: list[Stage] = []
    exact_filters: list[list[PipelineStep]] = [[], []]  # in the first stage that reads `filtered`, then the second
    if dedup.exact:
        parts = json.loads(Path(paths_file).read_text(encoding="utf-8"))
        exact_cfg = ExactDedupConfig(
            content_getter=dedup_content, hash_config=HashConfig(precision=64), document_priority=InputOrder(parts)
        )
        sigs, dups = work_folder(layout, "exact", "sigs"), work_folder(layout, "exact", "dups")
        filter_stage.append(PassingExactSignature(sigs, exact_cfg))
        exact_stages = [Stage("exact_find", [ExactFindDedups(sigs, dups, exact_cfg, save_cluster_size=True)], 1)]
        exact_filters = [
            [ExactDedupFilter(dups, exact_cfg, excluded_writer(excluded_out, "exact", "exact_duplicate"))],
            [ExactDedupFilter(dups, exact_cfg)],
        ]
    stages = [Stage("filter", [*filter_stage, intermediate_writer(filtered)], tasks), *exact_stages]

    final_writer = CuratedWriter(curated_out)
    if dedup.minhash:
        mh = minhash_config(dedup)
        sigs, buckets, clusters = (work_folder(layout, "minhash", p) for p in ("sigs", "buckets", "clusters"))
        signature, bucketer = signature_and_buckets(dedup, sigs, buckets, HEBREW_WORDS)
        stages += [
            Stage("minhash_sig", [WorkReader(filtered), *exact_filters[0], signature], tasks),
            Stage("minhash_buckets", [bucketer], bucket_tasks(dedup, tasks)),
            Stage(
                "minhash_cluster",
                [MinhashDedupCluster(buckets, clusters, config=mh, save_cluster_size=True, save_cluster_id=True)],
                1,
            ),
            Stage(
                "minhash_filter",
                [
                    WorkReader(filtered),
                    *exact_filters[1],
                    MinhashDedupFilter(
                        clusters,
                        excluded_writer(excluded_out, "minhash", "minhash_duplicate"),
                        load_cluster_sizes=True,
                        load_cluster_ids=True,
                    ),
                    final_writer,
                ],
                tasks,
            ),
        ]
    else:
        stages.append(Stage("write", [WorkReader(filtered), *exact_filters[0], final_writer], tasks))
    stages.append(Stage("publish", [Publish(str(layout.root), layout.path("out"), paths_file)], 1))
    return stages
