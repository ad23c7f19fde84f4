#!/usr/bin/env bash
# The package installs as docs/python.md says: python3 -m venv --system-site-packages,
# then pip install --no-build-isolation, offline. Quick: it installs a copy of the
# packaging files (setup.py, pyproject.toml, python/recur) with RECUR_BUILD_DIR
# pointing at this build, whose module is already built, so nothing is compiled
# and nothing is written into the source tree; then imports the installed package
# from elsewhere and checks it predicts as the CLI does.
# Usage: python/tests/install_test.sh SOURCE_DIR BUILD_DIR PYTHON RECUR_BIN
set -euo pipefail
src="$1"
build="$(cd "$2" && pwd)"
python="$3"
recur="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/src/python" "$work/src/docs"
cp "$src/setup.py" "$src/pyproject.toml" "$work/src/"
cp "$src/docs/python.md" "$work/src/docs/"
cp -r "$src/python/recur" "$work/src/python/"
"$python" -m venv --system-site-packages "$work/venv"
(cd "$work/src" && RECUR_BUILD_DIR="$build" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1 \
  "$work/venv/bin/pip" install -q --no-build-isolation .)

"$recur" train --quiet --save "$work/seed.safetensors"
cd "$work"
env -u PYTHONPATH "$work/venv/bin/python" - "$work" "$recur" <<'PY'
import json, subprocess, sys
import recur, recur.sklearn
work, cli = sys.argv[1], sys.argv[2]
assert recur.__file__.startswith(work + "/venv/"), recur.__file__
model = recur.load(work + "/seed.safetensors")
texts = ["i am happy", "this is not good"]
want = [json.loads(line) for line in subprocess.run(
    [cli, "predict", "--model", work + "/seed.safetensors", "--format", "jsonl", *texts],
    capture_output=True, text=True, check=True).stdout.splitlines()]
got = model.predict_proba(texts)
assert [[row["probabilities"][l] for l in model.labels] for row in want] == got.tolist()
print("installed", recur.__version__, "from", recur.__file__)
PY
