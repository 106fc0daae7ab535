#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless (nbclient) against a running SQL endpoint and
# writes the executed copies to OUT_DIR (default notebooks/executed); fails if a cell fails.
# The endpoint: BB_SQL_HOST (127.0.0.1), BB_SQL_PORT (5433), BB_SQL_USER (an email), BB_SQL_TOKEN (an API token).
# Example: bb demo; BB_JWT_SECRET=s bb sql-server &
#          BB_SQL_USER=demo@blockbuilders.local BB_SQL_TOKEN=$(BB_JWT_SECRET=s bb token --email demo@blockbuilders.local) scripts/notebooks.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${BB_PYTHON:-$("$here/python-env.sh")}"
out="${1:-$here/../notebooks/executed}"
exec "$py" "$here/run_notebooks.py" "$out" "$here"/../notebooks/*.ipynb
