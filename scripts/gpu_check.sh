#!/usr/bin/env bash
# The trainer on one GPU, in at most ~8 minutes, with no package registry: tokens/s, MFU and peak memory of
# moe-100m for a few steps with Megatron's local layer spec and (when transformer_engine imports) with the
# Transformer Engine spec, then the gpu-marked tests.
#
#   scripts/gpu_check.sh WHEELS [RUN_DIR]
#
# WHEELS: a folder of wheels prepared on a machine with a registry (README, "Checking a GPU machine"):
#   megatron-core 0.16.1 (cp312), this package's own wheel, and the small runtime dependencies the
#   machine may lack. Only what does not already import is installed from it (--no-index --no-deps), into
#   a folder beside the run (the machine's Python and CUDA torch are used as they are).
# RUN_DIR: a tokenized run folder (hebatron shard output) to train on; default: a synthetic one built here.
#
# Run from the repository root. Output: one table row per variant; the logs stay in $GPU_CHECK_DIR.
set -euo pipefail

WHEELS=${1:?usage: scripts/gpu_check.sh WHEELS [RUN_DIR]}
RUN=${2:-}
REPO=$(pwd)
WORK=${GPU_CHECK_DIR:-/tmp/hebatron-gpu-check}
PY=${PYTHON:-python3}
STEPS=${GPU_CHECK_STEPS:-8}       # steps per phase (3 phases); the first logged window is warm-up
VARIANT_TIMEOUT=${GPU_CHECK_VARIANT_TIMEOUT:-150}
TESTS_TIMEOUT=${GPU_CHECK_TESTS_TIMEOUT:-150}

WHEELS=$(cd "$WHEELS" && pwd)
mkdir -p "$WORK"
PKGS=$WORK/site
export PYTHONPATH=$PKGS
export PYTHONWARNINGS=ignore

"$PY" - <<'EOF'
import sys, torch
print(f"python {sys.version.split()[0]} | torch {torch.__version__} | CUDA {torch.version.cuda} | "
      f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device'}")
EOF

install() {  # install DIST from the wheel folder only (never a registry), without its dependencies
    "$PY" -m pip install --quiet --no-index --no-deps --find-links "$WHEELS" --target "$PKGS" --upgrade "$@"
}

# --- install: what the trainer imports, where the machine lacks it -----------------------------------------
for pair in numpy:numpy yaml:PyYAML psutil:psutil packaging:packaging typing_extensions:typing_extensions \
    typer:typer click:click rich:rich shellingham:shellingham annotated_doc:annotated-doc \
    markdown_it:markdown-it-py mdurl:mdurl pygments:Pygments loguru:loguru tqdm:tqdm pyarrow:pyarrow \
    pytest:pytest pluggy:pluggy iniconfig:iniconfig; do
    module=${pair%%:*} dist=${pair#*:}
    if ! "$PY" -c "import $module" 2>/dev/null; then
        echo "installing $dist from $WHEELS"
        install "$dist"
    fi
done
install "megatron-core==0.16.1" hebatron
(cd "$WORK" && "$PY" -c "import hebatron.cli, train.loop, megatron.core") || {  # the installed copy
    echo "gpu_check: the trainer does not import (see above): add the missing wheel to $WHEELS" >&2
    exit 2
}
TE=0
if "$PY" -c "import transformer_engine.pytorch" 2>/dev/null; then TE=1; fi

# --- data: a carried run, or a synthetic one (Markov-chain 'Hebrew'/'English', vocabulary 500) -------------
if [ -z "$RUN" ]; then
    RUN=$WORK/run
    if [ ! -f "$RUN/shards/manifest.json" ]; then
        PYTHONPATH=$REPO:$PKGS "$PY" -c "
from pathlib import Path
from tests.train.synthetic import make_run
make_run(Path('$RUN'), docs_per_phase=600, length=(100, 400))"
    fi
fi

# --- train: moe-100m, a few steps per phase, logged every 2 steps, no multiple-choice suite ----------------
summary() {  # tokens/s (median after the first window), MFU, peak memory from a metrics.jsonl
    "$PY" - "$1" "$2" <<'EOF'
import json, statistics, sys
records = [json.loads(x) for x in open(sys.argv[2] + "/metrics.jsonl") if x.strip()]
train = [r for r in records if r.get("kind") == "train"][1:]
if not train:
    print(f"{sys.argv[1]:<8} no train records"); sys.exit(0)
tps = statistics.median(r["tokens_per_s"] for r in train)
mfu = [r["mfu"] for r in train if r.get("mfu") is not None]
mem = max((r.get("memory_gib") or 0) for r in train)
print(f"{sys.argv[1]:<8} tokens/s {tps:>12,.0f} | MFU {100 * statistics.median(mfu):5.1f}% | "
      f"peak memory {mem:6.2f} GiB | loss {train[-1]['loss']:.3f} ({len(train)} windows)" if mfu else
      f"{sys.argv[1]:<8} tokens/s {tps:>12,.0f} | MFU - (unknown GPU) | peak memory {mem:6.2f} GiB")
EOF
}

variant() {  # NAME LAYER_SPEC
    local name=$1 spec=$2 out=$WORK/train-$1
    rm -rf "$out"
    cat > "$WORK/$name.yaml" <<EOF
name: moe-100m-$name
base: moe-100m
train:
  steps_per_phase: $STEPS
  log_interval: 2
  mcq_items: 0
  eval_iters: 1
  layer_spec: $spec
EOF
    echo "== $name: hebatron train --recipe moe-100m (layer_spec $spec) --device cuda"
    if (cd "$WORK" && timeout "$VARIANT_TIMEOUT" "$PY" -m hebatron train "$RUN" -o "$out" \
        --recipe "$WORK/$name.yaml" --device cuda > "$out.log" 2>&1); then
        grep -m1 "^device " "$out.log" || true
        RESULTS+=("$(summary "$name" "$out")")
    else
        echo "$name: failed or timed out (${VARIANT_TIMEOUT}s); the end of $out.log:"
        tail -n 15 "$out.log"
        RESULTS+=("$name     failed (see $out.log)")
    fi
}

RESULTS=()
variant local local
if [ "$TE" = 1 ]; then
    variant te te
else
    RESULTS+=("te       skipped: transformer_engine does not import")
fi

# --- the gpu-marked tests ----------------------------------------------------------------------------------
echo "== pytest -m gpu tests/train/test_gpu.py"
PYTHONPATH=$REPO:$PKGS timeout "$TESTS_TIMEOUT" "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/train/test_gpu.py \
    2>&1 | tail -n 25 || echo "gpu tests: failed or timed out (${TESTS_TIMEOUT}s)"

echo "== moe-100m, $STEPS steps per phase, global batch 64 x 1024 tokens"
printf '%s\n' "${RESULTS[@]}"
