#!/usr/bin/env bash
# Load figures of the API on this machine: starts a private Postgres and `bb serve` (release build,
# no embedded worker: backtest jobs queue up, the API is what is measured) on loopback with the
# sample data, then drives, with oha (installed from crates.io into ~/.cache/blockbuilders-tools on
# first use), at rising fixed rates and then flat out:
#   GET /api/v1/strategies, GET /api/v1/backtests/{id}   (an authenticated premium user)
#   POST /api/v1/backtests                                (the same user; its daily quota lifted)
# and prints requests/s, p50/p95/p99 latency and errors per step; where Debian's wrk is installed,
# the flat-out GETs are measured with it too (it leaves more of the cores to the server). Bounded in
# time: each step runs LOAD_SECS seconds (default 5).
#
#   scripts/load.sh                 # all of it
#   LOAD_RATES="500 1000" scripts/load.sh
#   BB_BIN=path/to/bb scripts/load.sh   # measure another build
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${LOAD_SECS:-5}"
rates="${LOAD_RATES:-250 500 1000 2000}"
post_rates="${LOAD_POST_RATES:-50 100 200}"
conns="${LOAD_CONNECTIONS:-16}"
tools="$HOME/.cache/blockbuilders-tools"
oha="$tools/bin/oha"
if [ ! -x "$oha" ]; then
  echo "installing oha into $tools (once) ..." >&2
  cargo install oha --locked --quiet --root "$tools"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blockbuilders-target}"
if [ -z "${BB_BIN:-}" ]; then
  cargo build --release --locked --bin bb
  BB_BIN="$CARGO_TARGET_DIR/release/bb"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/bb-load.XXXXXX")"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  "$BB_BIN" postgres stop --dir "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export BB_DATA_DIR="$work/data" BB_LAKE_URI="$work/lake" BB_JWT_SECRET="load-test-secret-load-test-secret-0123" BB_LOG=error
eval "export $("$BB_BIN" postgres start --dir "$work/pg" | grep '^DATABASE_URL=')"
"$BB_BIN" migrate >/dev/null
"$BB_BIN" ingest sample/ETH_USDT-1h.json.gz >/dev/null
# the load is the point, not the quota: lift premium's daily backtests in this private database
psql -q "$DATABASE_URL" -c "UPDATE subscription_plans SET quotas = jsonb_set(quotas, '{backtests}', 'null') WHERE tier = 'premium'"
"$BB_BIN" serve --addr 127.0.0.1:0 --no-worker --rate-limit-per-minute 0 --rate-limit-ip-per-minute 0 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 100); do
  grep -q '^serving http://' "$work/serve.log" && break
  sleep 0.1
done
base="$(grep -o '^serving http://[0-9.:]*' "$work/serve.log" | sed 's/^serving //')"
[ -n "$base" ] || { cat "$work/serve.log" >&2; exit 1; }
token="$("$BB_BIN" token --email load@example.com --plan premium --ttl 2h)"
auth="Authorization: Bearer $token"
json="Content-Type: application/json"

curl -sf -H "$auth" "$base/api/v1/me" >/dev/null
strategy="$(curl -sf -H "$auth" -H "$json" -d "{\"title\": \"load\", \"graphJson\": $(cat sample/sma_cross.json)}" "$base/api/v1/strategies")"
strategy_id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$strategy")"
for i in $(seq 1 19); do
  curl -sf -H "$auth" -H "$json" -d "{\"title\": \"load $i\", \"graphJson\": $(cat sample/sma_cross.json)}" "$base/api/v1/strategies" >/dev/null
done
version_id="$(curl -sf -H "$auth" "$base/api/v1/strategies/$strategy_id/versions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"
backtest="{\"strategyVersionId\": \"$version_id\", \"exchange\": \"binance\", \"symbol\": \"ETHUSDT\", \"timeframe\": \"1h\", \"from\": \"2022-03-17T03:00:00Z\", \"to\": \"2022-07-20T03:00:00Z\"}"
run_id="$(curl -sf -H "$auth" -H "$json" -d "$backtest" "$base/api/v1/backtests" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

report() {
  python3 -c '
import json, sys
label, r = sys.argv[1], json.load(sys.stdin)
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
ok = sum(v for k, v in codes.items() if k.startswith("2"))
# requests still in flight when the step ends are cut off by oha, not failed by the server
cut = sum(v for k, v in r.get("errorDistribution", {}).items() if "deadline" in k)
errors = sum(codes.values()) - ok + sum(r.get("errorDistribution", {}).values()) - cut
ms = lambda v: "%.2f ms" % (v * 1000) if v is not None else "-"
print("%-44s %9.0f req/s   p50 %9s   p95 %9s   p99 %9s   errors %d" % (label, s["requestsPerSec"], ms(p["p50"]), ms(p["p95"]), ms(p["p99"]), errors))
' "$1"
}
step() { # label, oha args...
  local label="$1"; shift
  "$oha" --no-tui --output-format json -z "${secs}s" "$@" | report "$label"
}

echo "bb serve $("$BB_BIN" --version | cut -d' ' -f2) at $base, $conns connections, ${secs} s a step, $(nproc) cores"
for path in "/api/v1/strategies" "/api/v1/backtests/$run_id"; do
  name="GET ${path/$run_id/{id\}}"
  for rate in $rates; do
    step "$name @ $rate/s" -c "$conns" -q "$rate" --latency-correction -H "$auth" "$base$path"
  done
  step "$name flat out" -c "$conns" -H "$auth" "$base$path"
  if command -v wrk >/dev/null; then
    # the same saturation with wrk (Debian), a lighter generator: more of the two cores go to the server
    wrk -t1 -c"$conns" -d"${secs}s" --latency -H "$auth" "$base$path" | awk -v label="$name flat out (wrk)" '
      /^ +50%/ {p50 = $2} /^ +99%/ {p99 = $2} /Requests\/sec/ {rps = $2} /Non-2xx|Socket errors/ {err = err " " $0}
      END {printf "%-44s %9.0f req/s   p50 %9s   p99 %9s   %s\n", label, rps, p50, p99, (err == "" ? "errors 0" : err)}'
  fi
done
for rate in $post_rates; do
  step "POST /api/v1/backtests @ $rate/s" -c "$conns" -q "$rate" --latency-correction -m POST -H "$auth" -H "$json" -d "$backtest" "$base/api/v1/backtests"
done
step "POST /api/v1/backtests flat out" -c "$conns" -m POST -H "$auth" -H "$json" -d "$backtest" "$base/api/v1/backtests"
