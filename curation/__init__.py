"""Raw crawl → curated Parquet: datatrove steps, with what was dropped and why (see curation/pipeline.py)."""

from curation.dependency_check import use_fast_check

use_fast_check()  # in every process that unpickles a curation step: workers of the Local, Ray and Slurm executors
