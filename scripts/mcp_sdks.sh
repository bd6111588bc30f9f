#!/usr/bin/env bash
# The MCP recipe (docs/authorization-server.md) against the real MCP SDKs:
# the TypeScript SDK (npm @modelcontextprotocol/sdk) and the Python SDK (PyPI
# mcp), each running its own discovery and client registration code against
# dcr-local, with the recipe's config (tests/mcp/dcr-mcp.yaml) and without it
# (both SDKs must refuse discovery then). Installs the SDKs on first run
# (target/mcp-node, .venv-mcp); needs node, npm and python3, and a built
# target/debug/dcr-local. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh

echo "==> MCP SDKs: discovery and registration against dcr-local"
_dcr_make_venv "$PWD/.venv-mcp" scripts/requirements-mcp.txt
node_dir="target/mcp-node"
if ! cmp -s tests/mcp/package-lock.json "$node_dir/package-lock.json" 2>/dev/null; then
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp tests/mcp/package.json tests/mcp/package-lock.json "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --silent)
fi
cp tests/mcp/register.mjs "$node_dir/"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME [--config FILE]: a dcr-local on a free port; sets URL to its
# address. Not in a subshell, so that cleanup knows its pid.
start() {
  local name="$1" pid
  shift
  target/debug/dcr-local --listen 127.0.0.1:0 --data-dir "$work/$name" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 300); do
    if grep -q '^listening on ' "$work/$name.out"; then
      URL="$(sed -n 's/^listening on //p' "$work/$name.out")"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.err" >&2; return 1; }
    sleep 0.1
  done
  echo "dcr-local ($name) did not start" >&2
  return 1
}

start recipe --config tests/mcp/dcr-mcp.yaml
with_recipe="$URL"
start plain
without="$URL"

node "$node_dir/register.mjs" "$with_recipe" expect-ok
node "$node_dir/register.mjs" "$without" expect-refused
.venv-mcp/bin/python tests/mcp/register.py "$with_recipe" expect-ok
.venv-mcp/bin/python tests/mcp/register.py "$without" expect-refused
