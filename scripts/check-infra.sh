#!/usr/bin/env bash
# Static checks of the deployment files, offline but for PyPI (no Terraform binary, no Docker daemon):
#   1. every infra/terraform/**/*.tf and environments/*.tfvars parses (python-hcl2), and the tfvars
#      set only declared variables;
#   2. checkov finds no failed check in infra/terraform (deliberate skips are inline, justified);
#   3. infra/compose.yaml is valid: `docker compose config` where the plugin exists, else the Compose
#      JSON schema (from the docker-compose 1.29.2 wheel on PyPI), plus consistency checks;
#   4. infra/Dockerfile builds in stages and runs as a non-root user with a HEALTHCHECK.
# Environment: BB_INFRA_VENV (default ~/.cache/blockbuilders-infra-venv), BB_TOOLS_CACHE (default
# ~/.cache/blockbuilders-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="$(scripts/python-env.sh infra/requirements.txt "${BB_INFRA_VENV:-$HOME/.cache/blockbuilders-infra-venv}")"
BIN="$(dirname "$PY")"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# ---- 1. Terraform files parse; tfvars set only declared variables ----
"$PY" - <<'EOF'
import glob, sys
import hcl2

root = "infra/terraform"
files = sorted(glob.glob(f"{root}/**/*.tf", recursive=True))
if not files:
    sys.exit(f"no Terraform files under {root}")
declared = set()
for f in files:
    try:
        with open(f) as fh:
            doc = hcl2.load(fh)
    except Exception as e:  # the parser raises several exception types
        sys.exit(f"{f}: does not parse: {e}")
    for block in doc.get("variable", []):
        declared.update(name.strip('"') for name in block)
print(f"parsed {len(files)} Terraform files ({len(declared)} variables declared)")

tfvars = sorted(glob.glob(f"{root}/environments/*.tfvars"))
if not tfvars:
    sys.exit(f"no {root}/environments/*.tfvars")
for f in tfvars:
    try:
        with open(f) as fh:
            values = hcl2.load(fh)
    except Exception as e:
        sys.exit(f"{f}: does not parse: {e}")
    unknown = sorted(k for k in values if not k.startswith("__") and k not in declared)
    if unknown:
        sys.exit(f"{f}: sets undeclared variables: {', '.join(unknown)}")
print(f"parsed {len(tfvars)} tfvars files; they set only declared variables")
EOF

# ---- 2. checkov ----
# --skip-download: no call to Prisma Cloud for guideline links (the checks are all local)
rc=0
"$BIN/checkov" -d infra/terraform --framework terraform --compact --quiet --skip-download >"$TMP/checkov.txt" 2>&1 || rc=$?
summary="$(grep -E '^Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "$TMP/checkov.txt" || true)"
if [ -z "$summary" ]; then
  cat "$TMP/checkov.txt" >&2
  echo "checkov: no summary line (exit $rc)" >&2
  exit 1
fi
echo "checkov: $summary"
if [ "$rc" -ne 0 ] || ! grep -q 'Failed checks: 0,' <<<"$summary"; then
  cat "$TMP/checkov.txt" >&2
  echo "checkov: failed checks (exit $rc)" >&2
  exit 1
fi

# ---- 3. Compose ----
schema=""
if docker compose version >/dev/null 2>&1; then
  docker compose -f infra/compose.yaml config -q
  docker compose -f infra/compose.yaml --profile cluster config -q
  how="docker compose config, with and without --profile cluster"
else
  cache="${BB_TOOLS_CACHE:-$HOME/.cache/blockbuilders-tools}/compose-schema"
  schema="$cache/compose_spec.json"
  if [ ! -s "$schema" ]; then
    mkdir -p "$cache"
    "$BIN/pip" download --quiet --disable-pip-version-check --no-deps -d "$cache" docker-compose==1.29.2 >&2
    "$PY" - "$cache" <<'EOF'
import glob, sys, zipfile
cache = sys.argv[1]
wheel = glob.glob(f"{cache}/docker_compose-1.29.2-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(f"{cache}/compose_spec.json", "wb") as out:
    out.write(z.read("compose/config/compose_spec.json"))
EOF
  fi
  how="Compose spec JSON schema of docker-compose 1.29.2"
fi

"$PY" - "$schema" "$how" <<'EOF'
import json, sys
import yaml

schema_path, how = sys.argv[1], sys.argv[2]
path = "infra/compose.yaml"
with open(path) as fh:
    doc = yaml.safe_load(fh)  # anchors and << merge keys resolve here
errors = []

if schema_path:
    import jsonschema

    with open(schema_path) as fh:
        schema = json.load(fh)
    notes = []
    # The 2021 schema predates the top-level `name` (the project name) of today's Compose
    # Specification; add it as the specification defines it.
    if "name" in doc and "name" not in schema.get("properties", {}):
        schema["properties"]["name"] = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"}
        notes.append("top-level name added to the schema")
    validator = jsonschema.Draft201909Validator(schema)
    problems = list(validator.iter_errors(doc))
    # extension fields (x-*) go only if the schema refuses them
    extension_keys = [k for k in doc if k.startswith("x-")]
    if any(not p.absolute_path and any(f"'{k}'" in p.message for k in extension_keys) for p in problems):
        doc = {k: v for k, v in doc.items() if not k.startswith("x-")}
        problems = list(validator.iter_errors(doc))
        notes.append("x-* keys dropped")
    for p in problems:
        where = "/".join(str(x) for x in p.absolute_path) or "(top level)"
        errors.append(f"schema: {where}: {p.message}")
    if notes:
        how += "; " + ", ".join(notes)

services = doc.get("services") or {}
volumes = set((doc.get("volumes") or {}).keys())


def depends(svc):
    d = svc.get("depends_on") or {}
    return {name: {} for name in d} if isinstance(d, list) else d


# one-shot services: something waits for them to complete (e.g. s3-bucket creating the bucket)
one_shot = {
    dep
    for svc in services.values()
    for dep, cond in depends(svc).items()
    if (cond or {}).get("condition") == "service_completed_successfully"
}

host_ports = {}
for name, svc in services.items():
    for dep in depends(svc):
        if dep not in services:
            errors.append(f"{name}: depends_on names no service: {dep}")
        elif not svc.get("profiles") and services[dep].get("profiles"):
            errors.append(f"{name}: starts without a profile but depends on {dep}, which needs profile(s) {services[dep]['profiles']}")
    for v in svc.get("volumes") or []:
        source = v.get("source") if isinstance(v, dict) else (v.split(":")[0] if ":" in v else None)
        kind = v.get("type", "volume") if isinstance(v, dict) else "volume"
        if source and kind == "volume" and not source.startswith(("/", ".", "~", "$")) and source not in volumes:
            errors.append(f"{name}: volume {source} is not declared under volumes:")
    if name not in one_shot and not svc.get("healthcheck"):
        errors.append(f"{name}: long-running service without a healthcheck")
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            host, proto = p.get("published"), p.get("protocol", "tcp")
        else:
            spec, _, proto = str(p).partition("/")
            parts = spec.split(":")
            host = parts[-2] if len(parts) >= 2 else None  # [ip:]host:container; bare container = random port
            proto = proto or "tcp"
        if host:
            key = (str(host), proto)
            if key in host_ports:
                errors.append(f"{name}: host port {host}/{proto} already published by {host_ports[key]}")
            host_ports[key] = name

if errors:
    sys.exit(f"{path}:\n  " + "\n  ".join(errors))
print(f"compose: {len(services)} services valid ({how}; depends_on, volumes, healthchecks, ports consistent)")
EOF

# ---- 4. Dockerfile ----
dockerfile=infra/Dockerfile
stages="$(grep -cE '^FROM[[:space:]]' "$dockerfile" || true)"
user="$(grep -E '^USER[[:space:]]' "$dockerfile" | tail -n1 | awk '{print $2}')"
[ "$stages" -ge 2 ] || { echo "$dockerfile: not a multi-stage build ($stages FROM lines)" >&2; exit 1; }
case "${user%%:*}" in
  "" ) echo "$dockerfile: no USER: the image would run as root" >&2; exit 1 ;;
  root | 0 ) echo "$dockerfile: the final USER is root" >&2; exit 1 ;;
esac
grep -qE '^HEALTHCHECK[[:space:]]' "$dockerfile" || { echo "$dockerfile: no HEALTHCHECK" >&2; exit 1; }
echo "Dockerfile: $stages stages, runs as USER $user, has a HEALTHCHECK"

echo "infra checks passed"
