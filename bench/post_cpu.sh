#!/usr/bin/env bash
# Where the CPU of a request goes: runs dcr-local (release, fresh data dir)
# under the bench's load (wrk -t2 -c32 -d10s, POST /register by default, or
# GET /register/{id} of 256 clients with MODE=get) and prints the CPU seconds
# of each of its thread groups (the store writer, the tokio workers) and of
# wrk, in all and per request. CPU per request is the figure to compare two
# builds by on a shared machine: req/s moves with whatever else runs.
#
#   bash bench/post_cpu.sh            # MODE=get for reads; BIN=path/to/dcr-local for another build
#
# Not a test. Needs wrk, curl, python3 and /usr/bin/time.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p dcr-local
    BIN=target/release/dcr-local
fi
# shellcheck source=../scripts/lib/server.sh
source scripts/lib/server.sh
MODE="${MODE:-post}"
D=$(mktemp -d); PORT=18555
trap 'rm -rf "$D"' EXIT
dcr_server_start $D/out $D/log env RUST_LOG="${RUST_LOG:-warn}" $BIN --listen 127.0.0.1:$PORT --data-dir $D/data
PID=$DCR_SERVER_PID
export BENCH_MODE=$MODE BENCH_BODIES=bench/post-bodies.txt BENCH_CLIENTS=$D/clients.txt
if [ "$MODE" = get ]; then
    head -n1 bench/post-bodies.txt > $D/body.json   # the bodies of bench/run.sh's loads
    python3 bench/preregister.py http://127.0.0.1:$PORT $D/body.json 256 $D/clients.txt
fi
wrk -t2 -c32 -d2s -s bench/load.lua http://127.0.0.1:$PORT >/dev/null
snap() { for t in /proc/$PID/task/*; do echo "$(cat $t/comm) $(awk '{print $14+$15}' $t/stat)"; done | awk '{s[$1]+=$2} END {for (k in s) print k, s[k]}' | sort; }
snap > $D/a
/usr/bin/time -o $D/wrk-time -f "%U %S" wrk -t2 -c32 -d10s -s bench/load.lua http://127.0.0.1:$PORT | grep '^{"requests"' | tee $D/result
snap > $D/b
N=$(sed 's/.*"requests":\([0-9]*\).*/\1/' $D/result)
echo "CPU over the 10 s run, in all and per request ($N requests):"
join $D/a $D/b | awk -v n="$N" '$3 > $2 {printf "  %-20s %6.2f s  %6.1f us\n", $1, ($3-$2)/100, ($3-$2)/100/n*1e6}'
awk -v n="$N" '{printf "  %-20s %6.2f s  %6.1f us\n", "wrk (user+sys)", $1+$2, ($1+$2)/n*1e6}' $D/wrk-time
kill $PID; wait $PID 2>/dev/null || true
