# shellcheck shell=bash
# Creates (once) the project's Python venvs with the pinned tools, and puts the
# main one first on PATH. Sourced by scripts/test.sh.
#
#   dcr_venv      .venv     scripts/requirements.txt (moto, cfn-lint, aws-sam-translator,
#                           schemathesis, checkov); on PATH
#   dcr_sam_venv  .venv-sam scripts/requirements-sam.txt (the SAM CLI, which pins a boto3
#                           that checkov's pin excludes); prints the path of its `sam`

# _dcr_make_venv DIR REQUIREMENTS: (re)creates DIR when REQUIREMENTS changed.
_dcr_make_venv() {
  local venv="$1" requirements="$2" stamp want
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing Python tools into ${venv##*/} ($(grep -v '^#' "$requirements" | tr '\n' ' '))" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    echo "$want" > "$stamp"
  fi
}

dcr_venv() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  _dcr_make_venv "$root/.venv" "$root/scripts/requirements.txt"
  export PATH="$root/.venv/bin:$PATH"
}

dcr_sam_venv() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  _dcr_make_venv "$root/.venv-sam" "$root/scripts/requirements-sam.txt"
  echo "$root/.venv-sam/bin/sam"
}
