#!/usr/bin/env bash
# Drives a running deployment end to end: discovery, register, read, update,
# delete, and errors. The same on a deployed stack and on dcr-local:
#
#   bash scripts/smoke.sh https://abc123.execute-api.eu-west-2.amazonaws.com
#   bash scripts/smoke.sh http://127.0.0.1:3000
#
# Needs curl and python3. It registers one client and deletes it again. Exits
# non-zero at the first step whose answer is not the documented one (README).
set -euo pipefail

api="${1:?usage: smoke.sh API_URL}"
api="${api%/}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# call METHOD PATH [TOKEN] [JSON]: answers "STATUS" and leaves the body in $work/body.
call() {
  local method="$1" path="$2" token="${3:-}" body="${4:-}" args=()
  args=(-sS --max-time 20 -o "$work/body" -w '%{http_code}' -X "$method")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" "$api$path"
}

# field NAME: a string member of the last body.
field() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/body" "$1"
}

# expect WHAT WANT GOT [ERROR]: one line per step; the error code is checked when given.
expect() {
  local what="$1" want="$2" got="$3" error="${4:-}"
  if [ "$got" != "$want" ]; then
    echo "FAIL $what: HTTP $got, expected $want: $(head -c 300 "$work/body")" >&2
    exit 1
  fi
  if [ -n "$error" ] && [ "$(field error)" != "$error" ]; then
    echo "FAIL $what: error $(field error), expected $error" >&2
    exit 1
  fi
  echo "ok   $what: $got${error:+ $error}"
}

status=$(call GET /.well-known/oauth-authorization-server)
expect "discovery (RFC 8414)" 200 "$status"
registration_endpoint="$(field registration_endpoint)"
status=$(call GET /.well-known/openid-configuration)
expect "discovery (OpenID Connect)" 200 "$status"

status=$(call POST /register "" '{"redirect_uris": ["https://smoke.example.com/callback"], "client_name": "smoke test"}')
expect "register (RFC 7591)" 201 "$status"
id="$(field client_id)"
token="$(field registration_access_token)"
field client_secret >/dev/null
case "$(field registration_client_uri)" in
  "$registration_endpoint/$id") ;;
  *) echo "FAIL register: registration_client_uri is not under $registration_endpoint" >&2; exit 1 ;;
esac

status=$(call GET "/register/$id" "$token")
expect "read (RFC 7592)" 200 "$status"

status=$(call PUT "/register/$id" "$token" "{\"client_id\": \"$id\", \"redirect_uris\": [\"https://smoke.example.com/new\"], \"client_name\": \"smoke test\"}")
expect "update (RFC 7592)" 200 "$status"
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["redirect_uris"][0])' "$work/body")" = "https://smoke.example.com/new" ] ||
  { echo "FAIL update: the redirect URI did not change" >&2; exit 1; }

status=$(call PUT "/register/$id" "not-the-token" "{\"client_id\": \"$id\", \"redirect_uris\": [\"https://smoke.example.com/cb\"]}")
expect "update with a wrong token" 401 "$status" invalid_token

status=$(call POST /register "" '{"redirect_uris": ["https://smoke.example.com/cb#fragment"]}')
expect "register a redirect URI with a fragment" 400 "$status" invalid_redirect_uri

status=$(call DELETE "/register/$id" "$token")
expect "delete (RFC 7592)" 204 "$status"

status=$(call GET "/register/$id" "$token")
expect "read after delete" 401 "$status" invalid_token

echo "smoke: $api passed"
