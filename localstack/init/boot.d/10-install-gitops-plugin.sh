#!/bin/bash
# LocalStack runs boot.d hooks in its container before its runtime starts, so the plugin's entry points
# are there when LocalStack looks up providers. The checkout is mounted read-only at /opt/gitops-harness
# (docker-compose.yml); pip builds from a copy. The harness goes in without dependencies: it pins moto,
# and LocalStack's image ships its fork (moto-ext), which the planes' moto imports use.
set -euo pipefail
python="${GITOPS_LOCALSTACK_PYTHON:-/opt/code/localstack/.venv/bin/python}"
src=/opt/gitops-harness
build="$(mktemp -d)"
cp -r "$src/pyproject.toml" "$src/README.md" "$src/src" "$build/"
mkdir -p "$build/plugin" && cp -r "$src/localstack/pyproject.toml" "$src/localstack/src" "$build/plugin/"
"$python" -m pip install --quiet --no-deps "$build"
"$python" -m pip install --quiet "$build/plugin"
echo "gitops-harness LocalStack plugin installed into $python"
