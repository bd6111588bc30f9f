#!/usr/bin/env bash
# Short, bounded fuzzing run of every cargo-fuzz target (fuzz/fuzz_targets/):
# builds them with AddressSanitizer and debug assertions (overflow checks on),
# then runs each for FUZZ_SECONDS (default 20) seconds on a scratch copy of
# its committed corpus (fuzz/corpus/<target>/ is only read, never grown).
# Fails on any crash, panic, sanitizer report, leak, timeout (> 10 s for one
# input) or out-of-memory (> 2 GiB); libFuzzer leaves the input that did it
# in fuzz/artifacts/<target>/. See docs/operations.md, "Fuzzing".
#
#   bash scripts/fuzz.sh                       # every target, 20 s each
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh jwt  # a longer run of one target
#
# The toolchain is stable: cargo fuzz needs -Zsanitizer, which stable rustc
# accepts with RUSTC_BOOTSTRAP=1 (its ASan runtime ships with rust-std).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=(metadata jwt jwt_claims jwks config http)
fi
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

cd fuzz
# cargo fuzz has no --locked: fail here if fuzz/Cargo.lock is out of date.
cargo metadata --locked --format-version 1 >/dev/null

echo "==> fuzz: building ${#TARGETS[@]} target(s)"
if [ "$#" -eq 0 ]; then
    cargo fuzz build --debug-assertions
else
    for target in "${TARGETS[@]}"; do cargo fuzz build --debug-assertions "$target"; done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in "${TARGETS[@]}"; do
    echo "==> fuzz: $target for ${SECONDS_PER_TARGET}s"
    mkdir -p "$work/$target"
    log="$work/$target.log"
    if ! cargo fuzz run --debug-assertions "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    # One summary line: executions, rate, coverage, features, corpus.
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    corp=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    echo "fuzz: $target: ${runs:-?} runs, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, 0 crashes"
done
echo "==> fuzz: ${#TARGETS[@]} target(s), 0 crashes"
