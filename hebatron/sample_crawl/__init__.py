"""A labelled, deterministic sample crawl of Hebrew-web-like pages built from offline text.

``build_sample_crawl(out_dir)`` writes ``crawl.warc.gz`` (one ``response`` record per page, after a
``warcinfo`` record naming the sources and their licences) and ``labels.jsonl`` (one line per page:
record_id, url, kind, expected keep/drop, charset, dup_group, variant). Curation stages are scored
against those labels.
"""

from hebatron.sample_crawl.build import SampleCrawl, build_sample_crawl
from hebatron.sample_crawl.plan import EXPECTED, KINDS, RATIOS

__all__ = ["EXPECTED", "KINDS", "RATIOS", "SampleCrawl", "build_sample_crawl"]
