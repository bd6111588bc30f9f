# shellcheck shell=bash
# A local moto server (DynamoDB + Secrets Manager emulator) for the AWS store tests.
# Sourced, after scripts/lib/venv.sh's dcr_venv has put moto_server on PATH:
#
#   source scripts/lib/venv.sh && dcr_venv
#   source scripts/lib/moto.sh && dcr_moto_start && trap dcr_moto_stop EXIT
#   cargo test -p dcr-aws -p dcr-lambda
#
# dcr_moto_start exports DCR_TEST_MOTO_ENDPOINT and static test credentials. It
# does not export AWS_ENDPOINT_URL: tests hand the endpoint to their SDK config
# (dcr_aws::testing), so nothing else in the shell talks to moto by accident.

dcr_moto_start() {
  local root port log pid i
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if ! command -v moto_server >/dev/null 2>&1; then
    echo "dcr_moto_start: moto_server not on PATH (run dcr_venv first)" >&2
    return 1
  fi
  if [ -n "${DCR_MOTO_PID:-}" ] && kill -0 "$DCR_MOTO_PID" 2>/dev/null; then
    echo "dcr_moto_start: moto already running (pid $DCR_MOTO_PID) at $DCR_TEST_MOTO_ENDPOINT" >&2
    return 0
  fi
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')" || return 1
  mkdir -p "$root/target"
  log="$root/target/moto.log"
  # scripts/moto_server.py: moto with IAM enforced on every caller but the
  # root key the tests use, and resources matched by ARN (see its docstring).
  python "$root/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  pid=$!
  # Up to ~20 s: 200 polls of at most 0.1 s each (plus curl's own short timeout).
  for ((i = 0; i < 200; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "dcr_moto_start: moto_server exited; last lines of $log:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    if python3 - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=0.5).read(1)
PY
      export DCR_MOTO_PID="$pid"
      export DCR_TEST_MOTO_ENDPOINT="http://127.0.0.1:$port"
      export AWS_ACCESS_KEY_ID=test
      export AWS_SECRET_ACCESS_KEY=test
      export AWS_REGION=us-east-1
      export AWS_DEFAULT_REGION=us-east-1
      echo "==> moto listening on $DCR_TEST_MOTO_ENDPOINT (pid $pid, log target/moto.log)"
      return 0
    fi
    sleep 0.1
  done
  echo "dcr_moto_start: moto did not answer on port $port within 20 s; see $log" >&2
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 1
}

dcr_moto_stop() {
  local pid="${DCR_MOTO_PID:-}"
  if [ -n "$pid" ]; then
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null
      # Give it up to ~2 s to exit, then insist.
      local i
      for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null
      fi
      # Its status is that of the signal; under `set -e` (an EXIT trap of
      # scripts/test.sh) it must not become the script's.
      wait "$pid" 2>/dev/null || true
    fi
  fi
  unset DCR_MOTO_PID DCR_TEST_MOTO_ENDPOINT
  return 0
}
