#!/usr/bin/env bash
# API property tests: schemathesis (pinned in scripts/requirements.txt) generates
# requests from infra/openapi.yaml and runs them against a fresh dcr-local; every
# response must match the document. Run by scripts/test.sh; on its own:
#
#   bash scripts/schemathesis.sh            # about a minute on 2 cores (100 examples per operation)
#   DCR_SCHEMATHESIS_EXAMPLES=500 bash scripts/schemathesis.sh   # a longer run
#
# What runs: every phase (explicit examples, coverage, fuzzing, stateful via the
# document's links) with every check (`--checks all`: no 5xx, status codes,
# content types, response headers and schemas, negative data rejected, positive
# data accepted, unsupported methods get 405 with Allow, ignored auth,
# use-after-free, resource availability, ...). Two adjustments, both because
# JSON Schema cannot say everything the server checks (see the document's
# description):
#   - positive_data_acceptance also accepts 400 on POST and PUT: a document
#     that fits every field's schema can still break a cross-field rule
#     (grant/response types, redirect URIs for the application type, keys for
#     private_key_jwt), and a signed request object needs a configured trust
#     anchor that this run does not have;
#   - negative_data_rejection also accepts 413: an over-64-KiB body is rejected
#     before it is parsed.
# Management operations (GET/PUT/DELETE /register/{client_id}) get, for three
# cases in four outside the stateful phase, a freshly registered client and its
# registration access token (the hooks below), so they reach past the 401; the
# fourth keeps the generated client_id and token. The stateful phase follows the
# document's links (POST 201 -> GET/PUT/DELETE with the issued token).
#
# Exit status: schemathesis's (non-zero on any failure), or 1 if dcr-local died.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh
dcr_venv
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

examples="${DCR_SCHEMATHESIS_EXAMPLES:-100}"

echo "==> schemathesis: building dcr-local (no-op after the test command's build)"
cargo build --workspace --bins --locked --quiet

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

dcr_server_start "$work/stdout" "$work/server.log" \
  env NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" "$root/target/debug/dcr-local" \
  --listen 127.0.0.1:0 --data-dir "$work/data"
server_pid="$DCR_SERVER_PID"
base="$DCR_SERVER_URL"
echo "==> schemathesis: dcr-local at $base (pid $server_pid, data in $work/data)"

cat >"$work/dcr_schemathesis_hooks.py" <<'PY'
"""Hooks for the schemathesis run of scripts/schemathesis.sh."""
import itertools
import json
import os
import urllib.request

import schemathesis

# A signed request object travels as its compact serialisation, as text.
schemathesis.serializer.alias("application/jwt", "text/plain")

BASE = os.environ["DCR_SCHEMATHESIS_BASE"]
_turn = itertools.count()
KEEP = ("keep",)


def _register(public: bool) -> tuple[str, str]:
    body = {"redirect_uris": ["https://app.example.com/cb"], "client_name": "schemathesis"}
    if public:
        body["token_endpoint_auth_method"] = "none"
    request = urllib.request.Request(
        BASE + "/register",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        info = json.load(response)
    return info["client_id"], info["registration_access_token"]


def _phase(case) -> str:
    meta = getattr(case, "meta", None)
    phase = getattr(getattr(meta, "phase", None), "name", None)
    return str(phase or "")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """A CORS preflight answers for the path, whatever client it names (204).
    In the stateful phase it is sent for a client no step created, so that a
    preflight after a DELETE is not taken for a deleted client still served
    (use_after_free only looks at the client the DELETE removed)."""
    if (
        case.method.upper() == "OPTIONS"
        and _phase(case) == "stateful"
        and "client_id" in (case.path_parameters or {})
    ):
        case.path_parameters = {**case.path_parameters, "client_id": "preflight-only"}


@schemathesis.auth(refresh_interval=None).apply_to(path="/register/{client_id}")
class FreshClient:
    """A real client and its registration access token, for three cases in four."""

    def get(self, case, ctx):
        if case.method.upper() == "OPTIONS":
            return None
        if _phase(case) == "stateful":
            # The links supply the client and its token; saying so makes the
            # ignored_auth check probe them instead of taking them for generated.
            return KEEP
        turn = next(_turn)
        if turn % 4 == 3:
            return None
        return _register(public=turn % 2 == 1)

    def set(self, case, data, ctx):
        if data is KEEP:
            return
        client_id, token = data
        case.path_parameters = {**(case.path_parameters or {}), "client_id": client_id}
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
PY

cat >"$work/schemathesis.toml" <<'TOML'
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]

[[operations]]
include-name = ["POST /register", "PUT /register/{client_id}"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]
TOML

status=0
DCR_SCHEMATHESIS_BASE="$base" PYTHONPATH="$work${PYTHONPATH:+:$PYTHONPATH}" \
  SCHEMATHESIS_HOOKS=dcr_schemathesis_hooks \
  schemathesis --config-file "$work/schemathesis.toml" run infra/openapi.yaml \
  --url "$base" \
  --checks all \
  --max-examples "$examples" \
  --workers 2 \
  --generation-database none \
  --request-timeout 10 \
  --no-color || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "schemathesis.sh: dcr-local died during the run; its log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi
requests="$(grep -c 'dcr::access' "$work/server.log" || true)"
errors="$(grep -c 'request failed' "$work/server.log" || true)"
echo "==> schemathesis: dcr-local answered $requests requests, $errors server errors logged; by route and status:"
grep 'dcr::access' "$work/server.log" \
  | sed -E 's/\x1b\[[0-9;]*m//g' \
  | sed -E 's/.*method=([A-Z]+) route=("[^"]*"|[^ ]+) status=([0-9]+).*/\1 \2 \3/' \
  | sort | uniq -c | sort -k2,2 -k3,3 -k4,4n | sed 's/^/     /'
if [ "$errors" != "0" ]; then
  grep 'request failed' "$work/server.log" | head -n 20 >&2
  status=1
fi
exit "$status"
