#!/usr/bin/env bash
# Builds the bestbefore container image from Containerfile: a static
# binary on an empty base, non-root, no shell (see Containerfile).
#
#   scripts/image.sh [TAG]          default bestbefore:dev
#
# Environment: BUILDER (buildah, podman or docker; default the first one
# found), VERSION (the version the binary reports; default git describe).
# buildah needs no daemon: STORAGE_DRIVER=vfs scripts/image.sh (passed to
# buildah as --storage-driver) works in a container or a CI job without
# privileges to mount overlays.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-bestbefore:dev}
version=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
builder=${BUILDER:-}
if [ -z "$builder" ]; then
	for b in buildah podman docker; do
		if command -v "$b" >/dev/null 2>&1; then builder=$b; break; fi
	done
fi
if [ -z "$builder" ]; then
	echo "image: no buildah, podman or docker found (set BUILDER)" >&2
	exit 2
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/tmp" "$root/etc/ssl/certs"
chmod 1777 "$root/tmp"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/bestbefore/bestbefore/pkg/version.Override=$version" -o "$root/bestbefore" .
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
for ca in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
	if [ -f "$ca" ]; then cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"; break; fi
done
cp Containerfile "$ctx/Containerfile"

case "$builder" in
buildah) buildah ${STORAGE_DRIVER:+--storage-driver "$STORAGE_DRIVER"} bud --layers=false -f "$ctx/Containerfile" -t "$tag" "$ctx" ;;
*) "$builder" build -f "$ctx/Containerfile" -t "$tag" "$ctx" ;;
esac
echo "image: built $tag ($version) with $builder" >&2
