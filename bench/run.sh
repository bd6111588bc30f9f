#!/usr/bin/env bash
# The load benchmark: dcr-local (durable store, default config) against
# the peer, oidc-provider (pinned in bench/peer/, in-memory adapter), with the same
# generator (wrk), the same request bodies and the same connection counts.
#
#   bash bench/run.sh
#
# Environment: DURATION (10s), THREADS (2), CONNECTIONS (32), CLIENTS (256:
# pre-registered clients for GET/PUT), WARMUP (2s), OURS_PORT (3700), PEER_PORT
# (3701), JWKS_PORT (3702). Results go to bench/results/<timestamp>/ (git-ignored).
#
# Not a test: CI does not run it. Figures are only comparable as ratios within
# one run (the machine is shared and noisy).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/bench"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
CLIENTS="${CLIENTS:-256}"
WARMUP="${WARMUP:-2s}"
OURS_PORT="${OURS_PORT:-3700}"
PEER_PORT="${PEER_PORT:-3701}"
JWKS_PORT="${JWKS_PORT:-3702}"
OUT="$BENCH/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

log() { printf '\n== %s\n' "$*" >&2; }

# shellcheck source=../scripts/lib/server.sh
source "$ROOT/scripts/lib/server.sh"

# ---- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    log "installing wrk (Debian)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
command -v node >/dev/null || { echo "node (20+) is required for the peer" >&2; exit 1; }

log "peer: oidc-provider from bench/peer/package-lock.json"
mkdir -p "$BENCH/.peer"
cp "$BENCH/peer/package.json" "$BENCH/peer/package-lock.json" "$BENCH/peer/server.mjs" "$BENCH/.peer/"
(cd "$BENCH/.peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

log "building dcr-local (release)"
(cd "$ROOT" && cargo build --release -q -p dcr-local)
DCR_LOCAL="$ROOT/target/release/dcr-local"

# ---- fixtures: the same bodies for both engines -------------------------------
# POST bodies: bench/post-bodies.txt (one JSON document per line; post_cpu.sh uses them too).
cp "$BENCH/post-bodies.txt" "$OUT/post-bodies.txt"
head -n1 "$OUT/post-bodies.txt" >"$OUT/prereg-body.json"
cat >"$OUT/put-body.json" <<'EOF'
{"client_id":"CLIENT_ID","redirect_uris":["https://app.example.com/cb","https://app.example.com/new"],"client_name":"Bench App Updated","grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic"}
EOF
node "$BENCH/sign.mjs" "$OUT/trust" 64 "https://directory.bench.example" >/dev/null

# ---- helpers -----------------------------------------------------------------
# start NAME LOGFILE CMD...: starts a server, waits for its "listening on" line
# (scripts/lib/server.sh), sets STARTED_PID.
start() {
    local name="$1" logfile="$2"
    shift 2
    dcr_server_start "$logfile" "$logfile.err" "$@" || { echo "$name did not start" >&2; exit 1; }
    PIDS+=("$DCR_SERVER_PID")
    STARTED_PID="$DCR_SERVER_PID"
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# load ENGINE SCENARIO URL: warm-up, then the measured run; appends a JSON line.
load() {
    local engine="$1" scenario="$2" url="$3"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$BENCH/load.lua" "$url" >/dev/null
    local line
    line="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$BENCH/load.lua" "$url" |
        grep '^{"requests"')"
    echo "{\"engine\":\"$engine\",\"scenario\":\"$scenario\",${line#\{}" | tee -a "$OUT/results.jsonl" >&2
}

# scenarios ENGINE URL: POST, then GET and PUT on freshly pre-registered clients.
scenarios() {
    local engine="$1" url="$2"
    log "$engine: POST /register"
    BENCH_MODE=post BENCH_BODIES="$OUT/post-bodies.txt" load "$engine" post "$url"
    # Pre-register after the POST load: the peer's in-memory adapter is an LRU
    # of 1,000 entries (a client and its token are two) and would have evicted them.
    python3 "$BENCH/preregister.py" "$url" "$OUT/prereg-body.json" "$CLIENTS" "$OUT/$engine-clients.txt"
    log "$engine: GET /register/{id} ($CLIENTS clients)"
    BENCH_MODE=get BENCH_CLIENTS="$OUT/$engine-clients.txt" load "$engine" get "$url"
    log "$engine: PUT /register/{id}"
    BENCH_MODE=put BENCH_CLIENTS="$OUT/$engine-clients.txt" BENCH_PUT_BODY="$OUT/put-body.json" \
        load "$engine" put "$url"
}

# ---- ours: durable store, default config --------------------------------------
log "dcr-local on 127.0.0.1:$OURS_PORT (fresh data dir, default config)"
start dcr-local "$OUT/ours.log" env RUST_LOG=warn \
    "$DCR_LOCAL" --listen "127.0.0.1:$OURS_PORT" --data-dir "$OUT/data-ours"
OURS_PID="$STARTED_PID"
scenarios ours "http://127.0.0.1:$OURS_PORT"
stop "$OURS_PID"

# ---- ours: software statements (ES256), JWK Set served on loopback ------------
log "JWK Set on 127.0.0.1:$JWKS_PORT; dcr-local trusting it"
python3 -m http.server "$JWKS_PORT" --bind 127.0.0.1 --directory "$OUT/trust" \
    >"$OUT/jwks.log" 2>&1 &
JWKS_PID=$!
PIDS+=("$JWKS_PID")
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$JWKS_PORT/jwks.json" >/dev/null && break
    sleep 0.05
done
: >"$OUT/jwks.log" # count only the server's own fetches
cat >"$OUT/trust.yaml" <<EOF
allow_loopback_http: true
software_statement_validation:
  jwks_uri: http://127.0.0.1:$JWKS_PORT/jwks.json
  issuer: https://directory.bench.example
  signing_algs: [ES256]
EOF
start dcr-local "$OUT/ours-ssa.log" env RUST_LOG=warn \
    "$DCR_LOCAL" --listen "127.0.0.1:$OURS_PORT" --data-dir "$OUT/data-ours-ssa" \
    --config "$OUT/trust.yaml"
OURS_PID="$STARTED_PID"
log "ours: POST /register with a software statement"
BENCH_MODE=post BENCH_BODIES="$OUT/trust/ssa-bodies.txt" \
    load ours post-ssa "http://127.0.0.1:$OURS_PORT"
JWKS_FETCHES="$(grep -c 'GET /jwks.json' "$OUT/jwks.log" || true)"
echo "{\"engine\":\"ours\",\"scenario\":\"jwks-fetches\",\"count\":$JWKS_FETCHES}" >>"$OUT/results.jsonl"
stop "$OURS_PID"
stop "$JWKS_PID"

# ---- the peer ----------------------------------------------------------------
log "peer (oidc-provider) on 127.0.0.1:$PEER_PORT"
start peer "$OUT/peer.log" env NODE_ENV=production \
    node "$BENCH/.peer/server.mjs" "$PEER_PORT"
PEER_PID="$STARTED_PID"
scenarios peer "http://127.0.0.1:$PEER_PORT"
stop "$PEER_PID"

# ---- summary -----------------------------------------------------------------
log "summary ($OUT)"
python3 - "$OUT/results.jsonl" "$THREADS" "$CONNECTIONS" "$DURATION" <<'EOF' | tee "$OUT/summary.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["engine"], r["scenario"]): r for r in rows}
print(f"wrk -t{sys.argv[2]} -c{sys.argv[3]} -d{sys.argv[4]}, loopback, one run\n")
print("| scenario | ours req/s | ours p50 ms | ours p99 ms | peer req/s | peer p50 ms | peer p99 ms | req/s ours/peer | non-2xx ours/peer |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in ["post", "get", "put", "post-ssa"]:
    o, p = by.get(("ours", s)), by.get(("peer", s))
    cell = lambda r, k, f="{:.2f}": f.format(r[k]) if r else "n/a"
    ratio = f"{o['rps'] / p['rps']:.1f}x" if o and p else "n/a (peer cannot)"
    errs = f"{o['non2xx'] + o['socket_errors'] if o else 'n/a'}/{p['non2xx'] + p['socket_errors'] if p else 'n/a'}"
    print(f"| {s} | {cell(o,'rps','{:.0f}')} | {cell(o,'p50_ms')} | {cell(o,'p99_ms')} | "
          f"{cell(p,'rps','{:.0f}')} | {cell(p,'p50_ms')} | {cell(p,'p99_ms')} | {ratio} | {errs} |")
o, p = by.get(("ours", "post")), by.get(("peer", "post"))
g, h = by.get(("ours", "get")), by.get(("peer", "get"))
print()
if o and p:
    print(f"- POST throughput ours/peer {o['rps']/p['rps']:.1f}x (target >= 5x): {'met' if o['rps'] >= 5*p['rps'] else 'MISSED'}")
    print(f"- POST p99 ours {o['p99_ms']:.2f} ms vs peer p50 {p['p50_ms']:.2f} ms (target <=): {'met' if o['p99_ms'] <= p['p50_ms'] else 'MISSED'}")
if g and h:
    print(f"- GET throughput ours/peer {g['rps']/h['rps']:.1f}x (target >= 15x): {'met' if g['rps'] >= 15*h['rps'] else 'MISSED'}")
f = by.get(("ours", "jwks-fetches"))
if f:
    print(f"- JWK Set fetches by dcr-local during the software statement load: {f['count']} (target 1)")
EOF
