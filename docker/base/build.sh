#!/usr/bin/env bash
# The stack's base image, built from Debian's archive alone (no image registry): debootstrap a
# minimal bookworm with Python 3.11 and `docker import` it. Used where Docker Hub is unreachable
# (air-gapped hosts, CI) through docker/compose.local-images.yaml; elsewhere the images build FROM
# the official python image (PYTHON_IMAGE in .env). Takes about a minute; skipped when the tag exists.
#   docker/base/build.sh [TAG]        (needs root for debootstrap)
set -euo pipefail
tag=${1:-${BASE_IMAGE:-triton-onnx-stack/debian-python:bookworm}}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$tag" >/dev/null 2>&1 && [ -z "${REBUILD_BASE:-}" ]; then
  echo "base image $tag: present (REBUILD_BASE=1 rebuilds it)"; exit 0
fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
root=$(mktemp -d /var/tmp/tos-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base image $tag: debootstrap bookworm from $mirror"
# libpython3.11: the python backend stub links against it (without it every python-backend model
# fails to load); bash: compose's triton healthcheck uses /dev/tcp.
debootstrap --variant=minbase \
  --include=python3,python3-venv,libpython3.11,ca-certificates,bash \
  bookworm "$root" "$mirror" >/dev/null
# Trust what the host trusts: on networks that inspect TLS, PyPI is reached through the host's CA.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' - "$tag" >/dev/null
docker image ls "$tag" --format 'base image {{.Repository}}:{{.Tag}}: {{.Size}}'
