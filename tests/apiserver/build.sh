#!/usr/bin/env bash
# Builds the in-process kube-apiserver + etcd test server.
# Usage: tests/apiserver/build.sh [OUTPUT]   (default: ~/.cache/sg-provisioner/bin/test-apiserver)
# Idempotent: a repeated build is served from Go's build cache in seconds.
# The first (cold) build of k8s.io/kubernetes takes a long time on 2 cores (see README.md).
set -euo pipefail

out="${1:-$HOME/.cache/sg-provisioner/bin/test-apiserver}"
case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")"

# The Kubernetes release we build against, e.g. v1.37.2, and its tag date.
version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
build_date="$(go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
build_date="${build_date:-1970-01-01T00:00:00Z}"
major="$(echo "$version" | sed -E 's/^v([0-9]+)\..*/\1/')"
minor="$(echo "$version" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"

ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${version}"
  ldflags+=" -X ${pkg}.gitMajor=${major}"
  ldflags+=" -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitCommit="
  ldflags+=" -X ${pkg}.gitTreeState=clean"
  ldflags+=" -X ${pkg}.buildDate=${build_date}"
done

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
go build -trimpath -ldflags="$ldflags" -o "$tmp" .
mv -f "$tmp" "$out"
echo "built $out (kube-apiserver $version)" >&2
