#!/usr/bin/env bash
# Provide KenLM's `lmplz` (n-gram trainer) and `build_binary` in $VENV/bin.
#
# No wheel and no Debian package ships lmplz, so we build the two binaries from the kenlm 0.3.0 sdist
# (cmake + Boost). Idempotent: does nothing when both binaries already exist. The kenlm sources live
# only in a temporary directory and are never copied into the repository.
#
# Usage: scripts/build_lmplz.sh [VENV]        (default: $VENV, else .venv)
set -euo pipefail

VENV="${1:-${VENV:-.venv}}"
BIN="$VENV/bin"
KENLM_VERSION="${KENLM_VERSION:-0.3.0}"
BOOST_PKGS=(libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev)

log() { echo "[build_lmplz] $*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -x "$BIN/lmplz" && -x "$BIN/build_binary" ]]; then
    log "lmplz and build_binary already in $BIN; nothing to do"
    exit 0
fi
[[ -d "$BIN" ]] || die "no virtualenv at $VENV (expected $BIN); create it first"

PYTHON="$BIN/python"
[[ -x "$PYTHON" ]] || die "$PYTHON not found"
for tool in cmake make c++; do
    command -v "$tool" >/dev/null || die "'$tool' is required (Debian: apt-get install cmake build-essential)"
done

# --- Boost headers and libraries (Debian/Ubuntu) ------------------------------------------------
missing=()
for pkg in "${BOOST_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
        SUDO="sudo"
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
        $SUDO apt-get update >&2
        $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
fi

# --- kenlm sources → build → copy the two binaries ----------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kenlm-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log "downloading the kenlm==$KENLM_VERSION sdist"
# pip prepares an sdist's metadata even for `download`. First with the venv's own setuptools (nothing else
# to fetch); an old setuptools without bdist_wheel fails that, and then pip builds it in an isolated
# environment whose build requirements (setuptools, wheel, cmake) come as wheels: `--no-binary` names only
# kenlm, since `--no-binary :all:` would compile cmake from source (~9 minutes).
"$PYTHON" -m pip download --quiet --no-deps --no-binary kenlm --no-build-isolation \
    "kenlm==$KENLM_VERSION" -d "$WORK/dl" >/dev/null 2>&1 ||
    "$PYTHON" -m pip download --quiet --no-deps --no-binary kenlm \
        "kenlm==$KENLM_VERSION" -d "$WORK/dl" >&2
SDIST="$(ls "$WORK"/dl/kenlm-*.tar.gz 2>/dev/null | head -n1)"
[[ -n "$SDIST" ]] || die "pip did not produce a kenlm sdist in $WORK/dl"
tar -xzf "$SDIST" -C "$WORK"
SRC="$(ls -d "$WORK"/kenlm-*/ | head -n1)"

JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
log "building lmplz and build_binary (make -j$JOBS, ~1 minute)"
if ! { cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release &&
       make -C "$WORK/build" -j"$JOBS" lmplz build_binary; } >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    die "building kenlm failed (the last lines of the build log are above)"
fi

for exe in lmplz build_binary; do
    built="$(find "$WORK/build" -type f -name "$exe" -perm -u+x | head -n1)"
    [[ -n "$built" ]] || die "$exe was not built"
    install -m 755 "$built" "$BIN/.$exe.tmp"
    mv -f "$BIN/.$exe.tmp" "$BIN/$exe"   # atomic: a half-copied binary never appears
done
# smoke test: a 2-gram model from two sentences
printf 'a b c\na b\n' | "$BIN/lmplz" -o 2 -S 100M -T "$WORK/" --discount_fallback >"$WORK/smoke.arpa" 2>/dev/null &&
    grep -q '^\\2-grams:' "$WORK/smoke.arpa" || die "the built lmplz does not run (see: $BIN/lmplz --help)"
log "installed $BIN/lmplz and $BIN/build_binary"
