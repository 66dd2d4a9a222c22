# Shared by tests/env/{build,up,down}. Everything built is cached under the user's home,
# keyed by a hash of its sources, so a warm machine rebuilds nothing.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${SG_CACHE_DIR:-$HOME/.cache/sg-provisioner}
ENV_DIR=${SG_ENV_DIR:-${TMPDIR:-/tmp}/sg-provisioner-env}

log() { printf '[env] %s\n' "$*" >&2; }

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

apiserver_bin() {
  local src="$REPO_ROOT/tests/apiserver"
  echo "$CACHE_DIR/bin/test-apiserver-$(hash_of "$src/go.mod" "$src/go.sum" "$src"/*.go "$src/build.sh")"
}

venv_dir() {
  echo "$CACHE_DIR/venv-$(hash_of "$REPO_ROOT/tests/emulator/requirements.txt")"
}
