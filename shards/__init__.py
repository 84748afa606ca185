"""Per-phase shards mixed with English anchor text, the manifest, and Megatron token files.

shard_run(RUN, anchors, ShardConfig(...))   # RUN/shards/phase-k/part-*.parquet + manifest.json, RUN/tokenizer/
tokenize_run(RUN)                           # RUN/tokens/phase-k/{hebrew,anchor}.{bin,idx} + tokens.json
write_sample_anchors(PATH)                  # an English anchor JSONL from the standard library's docs
"""

import importlib

_EXPORTS = {
    "AnchorError": "shards.anchors",
    "discover_anchors": "shards.anchors",
    "write_sample_anchors": "shards.anchors",
    "ShardConfig": "shards.config",
    "AnchorPoolTooSmall": "shards.mix",
    "MixError": "shards.mix",
    "RunNotScoredError": "shards.run",
    "shard_run": "shards.run",
    "TokenizeError": "shards.tokenize",
    "read_manifest": "common.layout",
    "tokenize_run": "shards.tokenize",
    "TextTokenizer": "shards.tokenizer",
    "TokenizerError": "shards.tokenizer",
    "load_tokenizer": "shards.tokenizer",
}


def __getattr__(name: str):  # lazy: `import shards.config` (recipes) does not pull in pyarrow, tokenizers, ...
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'shards' has no attribute {name!r}")


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
