#!/usr/bin/env bash
# Benchmarks in release mode: ingest throughput and every indicator over ~1M candles (rows/s), then
# TA-Lib's C implementation over the same candles for comparison (python TA-Lib, installed on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blockbuilders-target}"
cargo bench --locked --workspace "$@"
python="$(scripts/python-env.sh)"
"$python" -c "import talib" 2>/dev/null || "$(dirname "$python")/pip" install --quiet --disable-pip-version-check "TA-Lib==0.8.2" numpy
"$python" scripts/bench-talib.py ../shared/data/filimonov-freqtrade/BTC_USDT-1m.feather
