#!/usr/bin/env bash
# The service under `sam local start-api`, on a local AWS emulator: one command,
# walked through in docs/local-testing.md.
#
#   bash scripts/sam-local.sh            # http://127.0.0.1:3000, Ctrl-C stops all
#   SAM_LOCAL_PORT=3001 bash scripts/sam-local.sh
#
# 1. the project's Python venvs (moto, the SAM CLI);
# 2. moto (scripts/moto_server.py) on 0.0.0.0, port from events/env-vars.json's
#    AWS_ENDPOINT_URL (5000), reachable from the function containers as
#    host.docker.internal;
# 3. the clients table, created from template.yaml's own definition
#    (scripts/create_table.py) under the name events/env-vars.json gives;
# 4. `sam build` (the Makefile: cargo lambda, for the host's architecture);
# 5. `sam local start-api --env-vars events/env-vars.json`.
# sam local runs each function in a Docker container: without Docker the script
# stops after step 3 and prints the command it would run.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh
dcr_venv
sam="$(dcr_sam_venv)"
export SAM_CLI_TELEMETRY=0 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

read -r endpoint table < <(python3 - <<'PY'
import json
p = json.load(open("events/env-vars.json"))["Parameters"]
print(p["AWS_ENDPOINT_URL"], p["DCR_CLIENTS_TABLE"])
PY
)
port="${endpoint##*:}"
local_endpoint="http://127.0.0.1:$port"

echo "==> moto on 0.0.0.0:$port (log target/sam-local-moto.log)"
mkdir -p target
python3 scripts/moto_server.py -H 0.0.0.0 -p "$port" >target/sam-local-moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/moto-api/', timeout=0.5)" "$local_endpoint" 2>/dev/null; then
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || { tail -n 20 target/sam-local-moto.log >&2; exit 1; }
  sleep 0.1
done

echo "==> table $table"
python3 scripts/create_table.py "$local_endpoint" "$table"

arch_flag=""
[ "$(uname -m)" = "aarch64" ] && arch_flag="--arm64"
start=("$sam" local start-api --port "${SAM_LOCAL_PORT:-3000}"
  --env-vars events/env-vars.json
  --parameter-overrides "DcrConfig=issuer: http://127.0.0.1:${SAM_LOCAL_PORT:-3000}"
  --add-host host.docker.internal:host-gateway)

if ! docker info >/dev/null 2>&1; then
  echo "==> no Docker here: sam local runs functions in containers, so it stops here."
  echo "    moto and the table are ready; with Docker this script would now run:"
  echo "    $sam build   (x86_64 hosts: an x86_64 copy of the template, .template.local.yaml)"
  printf '    %q' "${start[@]}"; echo
  exit 0
fi

echo "==> sam build"
# The template says arm64; on an x86_64 host build and run x86_64 instead.
if [ -z "$arch_flag" ]; then
  sed 's/Architectures: \[arm64\]/Architectures: [x86_64]/' template.yaml >.template.local.yaml
  ARCH_FLAG= "$sam" build --template-file .template.local.yaml
else
  "$sam" build
fi
echo "==> sam local start-api on http://127.0.0.1:${SAM_LOCAL_PORT:-3000}"
"${start[@]}"
