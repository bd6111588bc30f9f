# shellcheck shell=bash
# Starting a server that prints `listening on http://ADDR` when it is ready
# (dcr-local; the benchmark's peer prints the same) and waiting for it: the one
# definition scripts/test.sh, scripts/schemathesis.sh and the bench/ scripts use.
#
#   source scripts/lib/server.sh
#   dcr_server_start "$dir/out" "$dir/err" target/debug/dcr-local --listen 127.0.0.1:0 --data-dir "$dir/data"
#   curl "$DCR_SERVER_URL/.well-known/openid-configuration"
#   dcr_server_stop
#
# dcr_server_start OUT ERR CMD [ARGS...] runs CMD in the background, its stdout
# to OUT and its stderr to ERR, and waits up to 30 s (300 polls of 0.1 s) for
# the listening line on OUT. Then it sets DCR_SERVER_PID and DCR_SERVER_URL
# (`http://ADDR`) and returns 0; if the server exits first or never listens,
# it prints OUT and ERR to stderr, stops the server and returns 1.
# dcr_server_stop [PID] sends SIGTERM (a graceful stop) and waits for it.

dcr_server_start() {
  local out="$1" err="$2" pid line i
  shift 2
  "$@" >"$out" 2>"$err" &
  pid=$!
  for ((i = 0; i < 300; i++)); do
    line="$(head -n 1 "$out" 2>/dev/null || true)"
    if [[ "$line" == "listening on http://"* ]]; then
      DCR_SERVER_PID="$pid"
      DCR_SERVER_URL="${line#listening on }"
      export DCR_SERVER_PID DCR_SERVER_URL
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "dcr_server_start: $1 exited before listening:" >&2
      cat "$out" "$err" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "dcr_server_start: $1 did not print its listening line within 30 s:" >&2
  cat "$out" "$err" >&2
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

dcr_server_stop() {
  local pid="${1:-${DCR_SERVER_PID:-}}"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
