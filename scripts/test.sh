#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, and integration tests against real Delta tables on
# disk, real exchange data in ../shared/data, a real PostgreSQL (a private cluster started here from
# the system's binaries unless DATABASE_URL is set; each API test gets a fresh database in it) and
# the Python deltalake reader (installed on first use); then, for the whole suite, schemathesis against
# a live `bb serve` (scripts/fuzz-api.sh) and the infrastructure checks (scripts/check-infra.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blockbuilders-target}"
export BB_PYTHON="${BB_PYTHON:-$(scripts/python-env.sh)}"
cargo build --locked --workspace --all-targets
if [ -z "${DATABASE_URL:-}" ]; then
  pgdir="$(mktemp -d "${TMPDIR:-/tmp}/bb-test-pg.XXXXXX")"
  trap '"$CARGO_TARGET_DIR/debug/bb" postgres stop --dir "$pgdir/pg" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
  eval "export $("$CARGO_TARGET_DIR/debug/bb" postgres start --dir "$pgdir/pg" | grep '^DATABASE_URL=')"
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
# the whole suite (no filter given): also the API fuzzed against its OpenAPI document, and the
# deployment files (Terraform parsed and checked by checkov, the compose file, the Dockerfile)
if [ $# -eq 0 ]; then
  scripts/fuzz-api.sh "$CARGO_TARGET_DIR/debug/bb"
  scripts/check-infra.sh
fi
