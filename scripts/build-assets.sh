#!/usr/bin/env bash
# Builds and caches the real inputs of the demo and the tests. Nothing here is committed.
#
#   image/debian-12-minbase.tar  Debian 12 root filesystem (debootstrap --variant=minbase), uncompressed tar
#   image/sample-tzdata.tar      the files of one Debian package (tzdata), the small image of the tests
#   tftp/ipxe.efi, snponly.efi, undionly.kpxe   iPXE boot loaders (Debian package ipxe)
#   tftp/debian/linux, tftp/debian/initrd.gz    Debian 12 netboot kernel and initrd (debian-installer-12-netboot-amd64)
#
# Usage: scripts/build-assets.sh [--sample-only]      (cache dir: $SWARMBOOT_CACHE or ~/.cache/swarmboot)
# Installs the Debian packages it needs when they are missing (needs root, as on the CI machines).
set -euo pipefail
cache="${SWARMBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarmboot}"
sample_only=0
[ "${1:-}" = "--sample-only" ] && sample_only=1
mirror="${SWARMBOOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
netboot=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64

need=()
[ -f /usr/lib/ipxe/undionly.kpxe ] || need+=(ipxe)
[ -f "$netboot/linux" ] || need+=(debian-installer-12-netboot-amd64)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "build-assets: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q "${need[@]}" >&2
fi

mkdir -p "$cache/tftp/debian" "$cache/image"
# Copies, not symlinks: the TFTP server refuses links that leave its root.
for f in ipxe.efi snponly.efi undionly.kpxe; do
  [ -s "$cache/tftp/$f" ] || cp -L "/usr/lib/ipxe/$f" "$cache/tftp/$f"
done
for f in linux initrd.gz; do
  [ -s "$cache/tftp/debian/$f" ] || cp -L "$netboot/$f" "$cache/tftp/debian/$f"
done

tmp="$(mktemp -d "$cache/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

if [ ! -s "$cache/image/sample-tzdata.tar" ]; then
  (cd "$tmp" && apt-get download tzdata >&2)
  mkdir -p "$tmp/sample"
  dpkg-deb -x "$tmp"/tzdata_*.deb "$tmp/sample"
  tar --sort=name --numeric-owner -cpf "$tmp/sample.tar" -C "$tmp/sample" .
  mv "$tmp/sample.tar" "$cache/image/sample-tzdata.tar"
fi

if [ "$sample_only" = 0 ] && [ ! -s "$cache/image/debian-12-minbase.tar" ]; then
  echo "build-assets: debootstrap --variant=minbase bookworm (a few minutes, once)" >&2
  debootstrap --variant=minbase bookworm "$tmp/root" "$mirror" >&2
  rm -rf "$tmp/root/var/cache/apt/archives/"*.deb
  tar --sort=name --numeric-owner -cpf "$tmp/root.tar" -C "$tmp/root" .
  mv "$tmp/root.tar" "$cache/image/debian-12-minbase.tar"
fi
echo "$cache"
