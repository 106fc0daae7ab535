#!/usr/bin/env bash
# Creates (once) a Python virtual environment for a requirements file and prints its python's path.
#   scripts/python-env.sh                       # the tests' and notebooks' (scripts/requirements.txt)
#   scripts/python-env.sh infra/requirements.txt ~/.cache/blockbuilders-infra-venv
# Location: the second argument, else $BB_VENV, else ~/.cache/blockbuilders-venv. Reinstalls when
# the requirements file changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="${1:-$here/requirements.txt}"
venv="${2:-${BB_VENV:-$HOME/.cache/blockbuilders-venv}}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
