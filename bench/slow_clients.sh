#!/usr/bin/env bash
# Slow clients against dcr-local (connections that never finish a request): builds the
# release binary, or takes DCR_LOCAL, and runs bench/slow_clients.py against it.
#
#   bash bench/slow_clients.sh                       # this tree
#   DCR_LOCAL=/path/to/old/dcr-local bash bench/slow_clients.sh
#
# Environment: ATTACKERS (2000), DURATION (20 s), FD_LIMIT (1024), PORT (3790);
# see bench/slow_clients.py. Not a test: CI does not run it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${DCR_LOCAL:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p dcr-local)
    DCR_LOCAL="$ROOT/target/release/dcr-local"
fi
exec python3 "$ROOT/bench/slow_clients.py" "$DCR_LOCAL"
