#!/usr/bin/env bash
# A Debian bookworm base image for tests/deploy/test_image.py where Docker Hub (python:3.11-slim)
# cannot be reached: debootstrap from Debian's own packages (python3 3.11, its venv module, CA
# certificates), imported into podman. Does nothing when the image exists. Needs root, podman and
# debootstrap; about 2 minutes and 100 MB of packages.
set -euo pipefail
image="${1:-localhost/basisd-test-base:bookworm}"
if podman image exists "$image"; then
    echo "test-base-image: $image exists"
    exit 0
fi
root="$(mktemp -d /tmp/basisd-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "test-base-image: debootstrap bookworm into $root"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm \
    "$root/rootfs" > "$root/debootstrap.log" 2>&1 \
    || { tail -20 "$root/debootstrap.log"; exit 1; }
rm -rf "$root/rootfs/var/cache/apt/archives/"*.deb "$root/rootfs/var/lib/apt/lists/"*
tar -C "$root/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image"
echo "test-base-image: imported $image"
