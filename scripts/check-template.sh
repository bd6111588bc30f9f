#!/usr/bin/env bash
# Checks template.yaml offline, with no AWS account:
#   1. cfn-lint, which must report nothing at all (errors, warnings and informational);
#   2. aws-sam-translator transforms it to plain CloudFormation;
#   3. scripts/template_test.py checks routes, IAM, table, Globals and build metadata.
# Expects the project venv on PATH:
#   source scripts/lib/venv.sh && dcr_venv && bash scripts/check-template.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

for tool in cfn-lint python; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check-template: $tool not found; run: source scripts/lib/venv.sh && dcr_venv" >&2
    exit 2
  fi
done

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> cfn-lint $(cfn-lint --version 2>&1 | awk '{print $NF}') template.yaml"
# Informational checks too: "zero findings" means zero of any level.
if ! cfn-lint --include-checks I --format parseable -- template.yaml >"$work/lint.txt"; then
  findings="$(grep -c . "$work/lint.txt" || true)"
  cat "$work/lint.txt" >&2
  echo "check-template: cfn-lint reported ${findings} finding(s)" >&2
  exit 1
fi
echo "cfn-lint: 0 findings"

echo "==> sam transform (aws-sam-translator, offline)"
python scripts/sam_transform.py template.yaml >"$work/transformed.json"
python - "$work/transformed.json" <<'PY'
import json, sys
resources = json.load(open(sys.argv[1]))["Resources"]
print(f"transform OK: {len(resources)} CloudFormation resources")
PY

echo "==> template tests"
DCR_TEMPLATE="$root/template.yaml" DCR_TRANSFORMED="$work/transformed.json" \
  python scripts/template_test.py -v
