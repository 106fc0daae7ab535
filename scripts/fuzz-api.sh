#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis: starts `bb serve` on loopback
# (a fresh database in the Postgres at DATABASE_URL, a lake with the sample candles, an admin token
# on the premium plan), lets schemathesis generate requests for every operation, and fails on any
# 5xx answer or any answer the document does not allow (status code, content type, body schema,
# headers). Prints schemathesis' summary. scripts/test.sh runs it after the Rust tests.
# Left out: the Stripe checkout and portal sessions, which call Stripe itself (api/tests/it/billing.rs
# drives them against a Stripe double); unconfigured they answer 503 by design.
#
#   DATABASE_URL=postgres://… scripts/fuzz-api.sh [BB_BINARY]
#   FUZZ_EXAMPLES=100 scripts/fuzz-api.sh        # more cases per operation (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to a Postgres server (scripts/test.sh starts one)}"
bb="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/blockbuilders-target}/debug/bb}"
py="$(scripts/python-env.sh)"
st="$(dirname "$py")/schemathesis"

work="$(mktemp -d "${TMPDIR:-/tmp}/bb-fuzz.XXXXXX")"
db="bb_fuzz_$(date +%s)_$$"
admin_url="$DATABASE_URL"
db_url="$("$py" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$DATABASE_URL" "$db")"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null

export BB_DATA_DIR="$work/data" BB_LAKE_URI="$work/lake" BB_JWT_SECRET="fuzz-secret-fuzz-secret-fuzz-secret-0123" BB_LOG=error
"$bb" ingest sample/ETH_USDT-1h.json.gz >/dev/null
# a Stripe webhook secret, so that forged webhook calls get their 400 (not "not configured")
DATABASE_URL="$db_url" BB_STRIPE_WEBHOOK_SECRET="whsec_fuzzfuzzfuzzfuzzfuzzfuzz" "$bb" serve --addr 127.0.0.1:0 --rate-limit-per-minute 0 --rate-limit-ip-per-minute 0 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 200); do
  grep -q '^serving http://' "$work/serve.log" && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
base="$(grep -o '^serving http://[0-9.:]*' "$work/serve.log" | sed 's/^serving //')"
[ -n "$base" ] || { cat "$work/serve.log" >&2; exit 1; }
token="$("$bb" token --email fuzz@example.com --role admin --plan premium --ttl 2h)"
# a strategy, so that its routes have something real to find
curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
  -d "{\"title\": \"fuzz\", \"graphJson\": $(cat sample/sma_cross.json)}" "$base/api/v1/strategies" >/dev/null

echo "schemathesis $("$st" --version | awk '{print $NF}') against $base/api/v1/openapi.json"
"$st" run "$base/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "${FUZZ_EXAMPLES:-20}" \
  --seed "${FUZZ_SEED:-20261208}" \
  --request-timeout 30 \
  --suppress-health-check all \
  --generation-database none \
  --exclude-path-regex '^/api/v1/billing/(checkout|portal)-session$' \
  --no-color
