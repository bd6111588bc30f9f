#!/usr/bin/env bash
# The Lambda start measure: each function binary, started under a
# local Lambda Runtime API emulator (bench/lambda_start.py) against moto, from
# process start to its first answered invocation; its peak RSS; its size.
#
#   bash bench/lambda.sh            # RUNS=5 by default
#
# Needs python3 (the project venv with moto: scripts/lib/venv.sh). Builds the
# functions as they are deployed, `cargo build --profile function`, for the host
# (x86_64). Not a test.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-5}"
OUT="$ROOT/bench/results/lambda-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
cd "$ROOT"

PKGS=(register-client get-client update-client delete-client server-metadata)
echo "== building ${PKGS[*]} (profile function)" >&2
cargo build --profile function -q $(printf -- '-p %s ' "${PKGS[@]}")

# shellcheck source=../scripts/lib/venv.sh
source scripts/lib/venv.sh && dcr_venv
# shellcheck source=../scripts/lib/moto.sh
source scripts/lib/moto.sh && dcr_moto_start
trap dcr_moto_stop EXIT

export AWS_ENDPOINT_URL="$DCR_TEST_MOTO_ENDPOINT"
export DCR_CLIENTS_TABLE="bench-clients"
export DCR_SECRET_PREFIX="bench/dcr/"
python3 scripts/create_table.py "$AWS_ENDPOINT_URL" "$DCR_CLIENTS_TABLE"

python3 bench/lambda_start.py "$ROOT/target/function" "$RUNS" "$OUT/lambda.json"
echo "results: $OUT/lambda.json" >&2
