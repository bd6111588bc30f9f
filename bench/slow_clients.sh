#!/usr/bin/env bash
# Slow clients against dcr-local (connections that never finish a request): builds the
# release binary, or takes DCR_LOCAL, starts it with FD_LIMIT open files on
# 127.0.0.1:PORT (scripts/lib/server.sh) and runs bench/slow_clients.py against it.
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
export FD_LIMIT="${FD_LIMIT:-1024}" PORT="${PORT:-3790}"
# shellcheck source=../scripts/lib/server.sh
source "$ROOT/scripts/lib/server.sh"
work="$(mktemp -d -t slow-clients-XXXXXX)"
trap 'dcr_server_stop; rm -rf "$work"' EXIT
dcr_server_start "$work/out" "$work/server.log" \
    env RUST_LOG=warn bash -c 'ulimit -n "$0" && exec "$@"' "$FD_LIMIT" \
    "$DCR_LOCAL" --listen "127.0.0.1:$PORT" --data-dir "$work/data"
echo "binary: $DCR_LOCAL"
python3 "$ROOT/bench/slow_clients.py" "$DCR_SERVER_PID"
dcr_server_stop
echo "  server log: $(wc -l <"$work/server.log") lines, $(wc -c <"$work/server.log") bytes"
