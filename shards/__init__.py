"""Per-phase shards mixed with English anchor text, the manifest, and Megatron token files.

    shard_run(RUN, anchors, ShardConfig(...))   # RUN/shards/phase-k/part-*.parquet + manifest.json, RUN/tokenizer/
    tokenize_run(RUN)                           # RUN/tokens/phase-k/{hebrew,anchor}.{bin,idx} + tokens.json
    write_sample_anchors(PATH)                  # an English anchor JSONL from the standard library's docs
"""

from shards.anchors import AnchorError, discover_anchors, write_sample_anchors
from shards.config import ShardConfig
from shards.mix import AnchorPoolTooSmall, MixError
from shards.run import RunNotScoredError, shard_run
from shards.tokenize import TokenizeError, read_manifest, tokenize_run
from shards.tokenizer import TextTokenizer, TokenizerError, load_tokenizer

__all__ = [
    "AnchorError",
    "AnchorPoolTooSmall",
    "MixError",
    "RunNotScoredError",
    "ShardConfig",
    "TextTokenizer",
    "TokenizeError",
    "TokenizerError",
    "discover_anchors",
    "load_tokenizer",
    "read_manifest",
    "shard_run",
    "tokenize_run",
    "write_sample_anchors",
]
