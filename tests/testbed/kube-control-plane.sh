#!/usr/bin/env bash
# A real Kubernetes control plane for tests/k8s: kube-apiserver and kube-controller-manager built from Debian's own
# kubernetes source package (bookworm ships only kubectl as a binary; the source has every command and its vendored
# dependencies), with Debian's etcd and Go. No registry, no kubelet: the tests play the kubelet's part.
#   kube-control-plane.sh [DIR]     builds DIR/bin/{kube-apiserver,kube-controller-manager} once (default /var/tmp/comfyops-k8s)
set -euo pipefail
dir=${1:-/var/tmp/comfyops-k8s}
version=1.20.5+really1.20.2
orig=kubernetes_${version}.orig.tar.gz
sha256=b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc  # bookworm's Sources index
if [ -x "$dir/bin/kube-apiserver" ] && [ -x "$dir/bin/kube-controller-manager" ]; then
  exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure-packages.sh" etcd:etcd-server rsync:rsync /usr/lib/go-1.19/bin/go:golang-1.19-go make:make
mkdir -p "$dir/src" "$dir/bin"
if ! echo "$sha256  $dir/src/$orig" | sha256sum -c --status 2>/dev/null; then
  echo "kube-control-plane: downloading Debian's kubernetes $version source" >&2
  curl -fsS --retry 3 -o "$dir/src/$orig" "http://deb.debian.org/debian/pool/main/k/kubernetes/$orig"
  echo "$sha256  $dir/src/$orig" | sha256sum -c --status || { echo "kube-control-plane: $orig checksum mismatch" >&2; exit 1; }
fi
rm -rf "$dir/src/kubernetes-1.20.2" && tar -xzf "$dir/src/$orig" -C "$dir/src"
started=$(date +%s)
echo "kube-control-plane: building kube-apiserver and kube-controller-manager (Go 1.19; about 10 minutes on 2 cores)" >&2
(cd "$dir/src/kubernetes-1.20.2" && env PATH="/usr/lib/go-1.19/bin:$PATH" HOME="$dir/home" GOCACHE="$dir/gocache" CGO_ENABLED=0 \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$dir/build.log" 2>&1) \
  || { tail -30 "$dir/build.log" >&2; exit 1; }
cp "$dir/src/kubernetes-1.20.2/_output/bin/kube-apiserver" "$dir/src/kubernetes-1.20.2/_output/bin/kube-controller-manager" "$dir/bin/"
rm -rf "$dir/src/kubernetes-1.20.2" "$dir/gocache"
echo "kube-control-plane: built in $(( $(date +%s) - started )) s: $dir/bin" >&2
