#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, and integration tests against real Delta tables on
# disk, real exchange data in ../shared/data and the Python deltalake reader (installed on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blockbuilders-target}"
export BB_PYTHON="${BB_PYTHON:-$(scripts/python-env.sh)}"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
