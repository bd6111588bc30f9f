#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: it installs what it needs
# (Python venvs with moto, cfn-lint, aws-sam-translator, checkov and the SAM
# CLI), starts the AWS emulator on a free loopback port with IAM enforced
# (scripts/moto_server.py), and runs formatting, lints, unit tests, the store
# contract suite on both stores, the fault-injection suite, the black-box suite
# on both engines (the Lambda one under each function's template policy, in
# both secret storage modes), the events/ through the handlers, the template
# checks, scripts/smoke.sh against dcr-local, and the MCP SDKs' discovery and
# registration against it (scripts/mcp_sdks.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh
# shellcheck source=scripts/lib/moto.sh
source scripts/lib/moto.sh
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

echo "==> Python tools"
dcr_venv

echo "==> formatting"
cargo fmt --all -- --check

echo "==> lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> AWS emulator"
dcr_moto_start
trap dcr_moto_stop EXIT

echo "==> binaries (the black-box suite also runs the real dcr-local)"
cargo build --workspace --bins --locked

echo "==> tests (unit, store contracts, fault injection, black-box on both engines)"
cargo test --workspace --all-targets --locked

echo "==> SAM template (cfn-lint, transform, template tests, checkov, sam validate --lint)"
bash scripts/check-template.sh

echo "==> smoke test (scripts/smoke.sh) against dcr-local"
smoke_dir="$(mktemp -d)"
dcr_server_start "$smoke_dir/out" "$smoke_dir/err" \
  target/debug/dcr-local --listen 127.0.0.1:0 --data-dir "$smoke_dir/data"
smoke_ok=0
bash scripts/smoke.sh "$DCR_SERVER_URL" || smoke_ok=$?
dcr_server_stop
rm -rf "$smoke_dir"
[ "$smoke_ok" = 0 ] || exit "$smoke_ok"

# The MCP recipe against the real TypeScript and Python MCP SDKs.
bash scripts/mcp_sdks.sh

# (API property tests: scripts/schemathesis.sh; fuzzing: scripts/fuzz.sh)
bash scripts/fuzz.sh
bash scripts/schemathesis.sh

echo "==> all checks passed"
