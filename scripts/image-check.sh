#!/usr/bin/env bash
# Builds the container image with buildah (no daemon, vfs storage, no
# network: the base is scratch) and checks what Kubernetes relies on: the
# entrypoint is the binary, the user is non-root, there is no shell, the
# binary is static and runs, and /tmp is writable by anyone (sticky).
set -euo pipefail
cd "$(dirname "$0")/.."
export STORAGE_DRIVER=vfs
bah() { buildah --storage-driver "$STORAGE_DRIVER" "$@"; }
tag=localhost/bestbefore:image-check
scripts/image.sh "$tag"
fail() { echo "image-check: $*" >&2; exit 1; }
entry=$(bah inspect --format '{{.OCIv1.Config.Entrypoint}}' "$tag")
user=$(bah inspect --format '{{.OCIv1.Config.User}}' "$tag")
[ "$entry" = "[/bestbefore]" ] || fail "entrypoint $entry, want [/bestbefore]"
[ "$user" = "65532:65532" ] || fail "user $user, want 65532:65532 (non-root)"
ctr=$(bah from "$tag")
mnt=$(bah mount "$ctr")
cleanup() { bah umount "$ctr" >/dev/null; bah rm "$ctr" >/dev/null; bah rmi "$tag" >/dev/null; }
trap cleanup EXIT
[ ! -e "$mnt/bin/sh" ] || fail "the image has a shell: the manifests must not need one, and it should not carry one"
if ldd "$mnt/bestbefore" >/dev/null 2>&1; then fail "/bestbefore is dynamically linked"; fi
"$mnt/bestbefore" version
[ "$(stat -c %a "$mnt/tmp")" = 1777 ] || fail "/tmp is not 1777"
grep -q '^nonroot:x:65532:65532:' "$mnt/etc/passwd" || fail "/etc/passwd does not name 65532"
echo "image-check: $tag: entrypoint $entry, user $user, static, no shell"
