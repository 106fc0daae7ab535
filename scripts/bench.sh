#!/usr/bin/env bash
# Benchmarks in release mode: ingest throughput (rows/s) on the largest 1m file of ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blockbuilders-target}"
cargo bench --locked -p ingest "$@"
