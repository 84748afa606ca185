"""The curation pipeline: a list of datatrove stages, handed to the Local, Ray or Slurm executor.

    filter          read → extract → normalize → language ID → quality filters        (one task per file group)
    exact_sig/find/filter                         exact dedup on the normalized text
    minhash_sig/buckets/cluster/filter           MinHash near-dedup (5-grams, 32×4 bands, candidate pairs
                                                 verified on the whole signature), cluster sizes kept
    publish         RUN/.work/out/{curated,excluded} → RUN/{curated,excluded}, RUN/stats.json

Intermediate data lives in RUN/.work/; every stage writes completion markers under RUN/.work/logs/<stage>,
so running the same command again skips finished tasks and resumes the rest.
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

from common.layout import RunLayout
from common.paths import glob_literal
from curation.config import CurationConfig
from curation.executors import Stage
from curation.extract import HtmlExtractor
from curation.language import LanguageID
from curation.near_dup import bucket_tasks, minhash_config, signature_and_buckets
from curation.nemo import NemoFilter, build_nemo_filter
from curation.normalize import HebrewNormalizer
from curation.output import CuratedWriter, Publish, excluded_writer
from curation.quality import HebrewFineWebQuality, HebrewGopherQuality, HebrewGopherRepetition, HebrewLetterShare
from curation.readers import CrawlReader, DropRejected
from curation.splits import InputOrder
from curation.visual import VisualOrder
from curation.words import HEBREW_WORDS


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
        steps.append(NemoFilter(build_nemo_filter(name, params), exclusion_writer=excluded_writer(out, f"nemo_{name}")))
    steps.append(HebrewLetterShare(q, exclusion_writer=excluded_writer(out, "hebrew")))
    if config.decontaminate:
        from curation.decont.steps import DecontFilter

        steps.append(DecontFilter(config.decontaminate, exclusion_writer=excluded_writer(out, "decontamination")))
    return steps


def build_stages(
    config: CurationConfig, layout: RunLayout, data_folder: str, paths_file: str, tasks: int, progress: bool = False
) -> list[Stage]:
    filtered, unique = work_folder(layout, "filtered"), work_folder(layout, "unique")
    excluded_out, curated_out = work_folder(layout, "out", "excluded"), layout.path("out", "curated")
    stages = [
        Stage(
            "filter",
            [
                *filter_steps(config, layout, data_folder, paths_file, progress),
                JsonlWriter(filtered, "${rank}.jsonl.gz"),
            ],
            tasks,
        )
    ]

    dedup = config.dedup
    if dedup.exact:
        parts = json.loads(Path(paths_file).read_text(encoding="utf-8"))
        exact_cfg = ExactDedupConfig(
            content_getter=dedup_content, hash_config=HashConfig(precision=64), document_priority=InputOrder(parts)
        )
        sigs, dups = work_folder(layout, "exact", "sigs"), work_folder(layout, "exact", "dups")
        stages += [
            Stage("exact_sig", [WorkReader(filtered), ExactDedupSignature(sigs, exact_cfg)], tasks),
            Stage("exact_find", [ExactFindDedups(sigs, dups, exact_cfg, save_cluster_size=True)], 1),
            Stage(
                "exact_filter",
                [
                    WorkReader(filtered),
                    ExactDedupFilter(dups, exact_cfg, excluded_writer(excluded_out, "exact", "exact_duplicate")),
                    JsonlWriter(unique, "${rank}.jsonl.gz"),
                ],
                tasks,
            ),
        ]
    else:
        unique = filtered

    final_writer = CuratedWriter(curated_out)
    if dedup.minhash:
        mh = minhash_config(dedup)
        sigs, buckets, clusters = (work_folder(layout, "minhash", p) for p in ("sigs", "buckets", "clusters"))
        signature, bucketer = signature_and_buckets(dedup, sigs, buckets, HEBREW_WORDS)
        stages += [
            Stage("minhash_sig", [WorkReader(unique), signature], tasks),
            Stage("minhash_buckets", [bucketer], bucket_tasks(dedup, tasks)),
            Stage(
                "minhash_cluster",
                [MinhashDedupCluster(buckets, clusters, config=mh, save_cluster_size=True, save_cluster_id=True)],
                1,
            ),
            Stage(
                "minhash_filter",
                [
                    WorkReader(unique),
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
        stages.append(Stage("write", [WorkReader(unique), final_writer], tasks))
    stages.append(Stage("publish", [Publish(str(layout.root), layout.path("out"), paths_file)], 1))
    return stages
