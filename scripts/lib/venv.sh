# shellcheck shell=bash
# Creates (once) the project's Python venv in .venv with the pinned tools of
# scripts/requirements.txt, and puts it first on PATH. Sourced by scripts/test.sh.
dcr_venv() {
  local root venv stamp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  venv="$root/.venv"
  stamp="$venv/.requirements.sha256"
  local want
  want="$(sha256sum "$root/scripts/requirements.txt" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing Python tools into .venv (moto, cfn-lint, aws-sam-translator)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/requirements.txt"
    echo "$want" > "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}
