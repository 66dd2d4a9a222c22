#!/usr/bin/env bash
# Builds Helm (helm.sh/helm/v3/cmd/helm, pinned in go.mod here) from the Go module proxy, with
# the version ldflags Helm's own Makefile sets, so `helm version` and the chart's
# Capabilities report the real release.
# Usage: tests/tools/helm/build.sh OUTPUT
# Cold build: several minutes on 2 cores (see docs/install.md); then seconds (Go build cache).
set -euo pipefail
out="${1:?usage: build.sh OUTPUT}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
cd "$(dirname "${BASH_SOURCE[0]}")"

version="$(go list -m -f '{{.Version}}' helm.sh/helm/v3)"
k8s="$(go list -m -f '{{.Version}}' k8s.io/client-go)"   # v0.MINOR.PATCH -> Kubernetes 1.MINOR
k8s_minor="$(echo "$k8s" | sed -E 's/^v0\.([0-9]+)\..*/\1/')"

ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${version}"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor}"
done

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$tmp" helm.sh/helm/v3/cmd/helm
mv -f "$tmp" "$out"
echo "built $out (helm $version)" >&2
