#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: it installs what it needs
# (a Python venv with moto, cfn-lint and aws-sam-translator), starts the AWS
# emulator on a free loopback port, and runs formatting, lints, unit tests, the
# store contract suite on both stores, the fault-injection suite, the black-box
# suite on both engines, and the template checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh
# shellcheck source=scripts/lib/moto.sh
source scripts/lib/moto.sh

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

echo "==> SAM template"
bash scripts/check-template.sh

# (API property tests: scripts/schemathesis.sh; fuzzing: scripts/fuzz.sh)
bash scripts/fuzz.sh
bash scripts/schemathesis.sh

echo "==> all checks passed"
