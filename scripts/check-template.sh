#!/usr/bin/env bash
# Checks template.yaml offline, with no AWS account:
#   1. cfn-lint, which must report nothing at all (errors, warnings and informational);
#   2. aws-sam-translator transforms it to plain CloudFormation;
#   3. scripts/template_test.py checks routes, IAM shape, table, Globals, outputs, mTLS;
#   4. checkov, the scanner pipelines gate on: 0 failed, each skip with its
#      reason in the resource's Metadata;
#   5. `sam validate --lint` (the SAM CLI, from its own venv .venv-sam).
# What each function's policy allows is checked by infra/aws/tests/permissions.rs.
# Expects the project venv on PATH:
#   source scripts/lib/venv.sh && dcr_venv && bash scripts/check-template.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

for tool in cfn-lint python checkov; do
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

echo "==> checkov $(checkov --version 2>/dev/null) template.yaml"
# --skip-download: no call home for guidelines (offline runs); a skip in a
# resource's Metadata (checkov: skip: - id, comment) must say why.
checkov -f template.yaml --framework cloudformation --skip-download --output json \
  >"$work/checkov.json" 2>"$work/checkov.err" || true
python - "$work/checkov.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
summary = report["summary"]
skipped = report["results"].get("skipped_checks", [])
for check in report["results"].get("failed_checks", []):
    print(f"  FAILED {check['check_id']} {check['resource']}: {check['check_name']}", file=sys.stderr)
print(f"checkov: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
for check in skipped:
    reason = (check.get("check_result") or {}).get("suppress_comment", "")
    if not reason.strip():
        sys.exit(f"checkov: skip of {check['check_id']} on {check['resource']} has no reason")
    print(f"  skip {check['check_id']} {check['resource']}: {reason}")
if summary["failed"]:
    sys.exit(1)
PY

echo "==> sam validate --lint"
sam="$(bash -c 'source scripts/lib/venv.sh && dcr_sam_venv')"
SAM_CLI_TELEMETRY=0 "$sam" validate --lint --template template.yaml
