#!/usr/bin/env bash
# Where the POST /register CPU goes: runs dcr-local (release, fresh data dir)
# under the bench's POST load (wrk -t2 -c32 -d10s) and prints the CPU seconds
# of each of its thread groups (the store writer, the tokio workers) and of wrk.
#
#   bash bench/post_cpu.sh            # BIN=path/to/dcr-local to measure another build
#
# Not a test. Needs wrk and /usr/bin/time.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p dcr-local
    BIN=target/release/dcr-local
fi
# shellcheck source=../scripts/lib/server.sh
source scripts/lib/server.sh
D=$(mktemp -d); PORT=18555
BODIES=bench/post-bodies.txt   # the bodies of bench/run.sh's POST load
dcr_server_start $D/out $D/log env RUST_LOG=warn $BIN --listen 127.0.0.1:$PORT --data-dir $D/data
PID=$DCR_SERVER_PID
BENCH_MODE=post BENCH_BODIES=$BODIES wrk -t2 -c32 -d2s -s bench/load.lua http://127.0.0.1:$PORT >/dev/null
snap() { for t in /proc/$PID/task/*; do echo "$(cat $t/comm) $(awk '{print $14+$15}' $t/stat)"; done | awk '{s[$1]+=$2} END {for (k in s) print k, s[k]}' | sort; }
snap > $D/a
/usr/bin/time -f "wrk cpu: user %U sys %S" env BENCH_MODE=post BENCH_BODIES=$BODIES wrk -t2 -c32 -d10s -s bench/load.lua http://127.0.0.1:$PORT | grep '^{"requests"'
snap > $D/b
echo "dcr-local threads, CPU seconds over the 10 s run:"
join $D/a $D/b | awk '{printf "  %-20s %.2f\n", $1, ($3-$2)/100}'
kill $PID; wait $PID 2>/dev/null || true; rm -rf $D
