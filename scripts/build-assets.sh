#!/usr/bin/env bash
# Builds and caches the real inputs of the demo and the tests. Nothing here is committed.
#
#   image/debian-12-minbase.tar  Debian 12 root filesystem (debootstrap --variant=minbase), uncompressed tar
#   image/sample-tzdata.tar      the files of one Debian package (tzdata), the small image of the tests
#   tftp/ipxe.efi, snponly.efi, undionly.kpxe   iPXE boot loaders (Debian package ipxe)
#   tftp/debian/linux, tftp/debian/initrd.gz    Debian 12 netboot kernel and initrd (debian-installer-12-netboot-amd64)
# With --bootable, also (a slow step, about 10 minutes on 2 cores, once):
#   image/debian-12-bootable.tar.zst  Debian 12 that boots on its own once written by the agent (format rootfs-tar):
#                                     kernel, grub (BIOS and UEFI modules), serial console on ttyS0, DHCP on the
#                                     first NIC with systemd-networkd, hostname from DHCP, empty machine-id
#   image/debian-12-bootable.raw.zst  the same as a 2 GiB GPT disk (format raw-disk), made from that tarball by the
#                                     agent's own writer on a file (agent/src/disk/make-raw.ts): one code path makes
#                                     both. Runs `npm run build --silent` at the repository root first (tsc -b).
#
# Usage: scripts/build-assets.sh [--sample-only | --bootable]   (cache dir: $SWARMBOOT_CACHE or ~/.cache/swarmboot)
# Installs the Debian packages it needs when they are missing (needs root, as on the CI machines).
set -euo pipefail
cache="${SWARMBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarmboot}"
sample_only=0
bootable=0
for arg in "$@"; do
  case "$arg" in
    --sample-only) sample_only=1 ;;
    --bootable) bootable=1 ;;
    *) echo "build-assets: unknown argument $arg" >&2; exit 2 ;;
  esac
done
mirror="${SWARMBOOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
netboot=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64

need=()
[ -f /usr/lib/ipxe/undionly.kpxe ] || need+=(ipxe)
[ -f "$netboot/linux" ] || need+=(debian-installer-12-netboot-amd64)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ "$bootable" = 1 ]; then
  # make-raw: the agent's writer (sfdisk, mkfs.vfat, losetup, zstd) and mcopy, with which it fills the ESP where the
  # kernel cannot mount vfat (this build host's kernel has no FAT driver).
  command -v zstd >/dev/null || need+=(zstd)
  command -v sfdisk >/dev/null || need+=(fdisk)
  command -v mkfs.vfat >/dev/null || need+=(dosfstools)
  command -v mcopy >/dev/null || need+=(mtools)
fi
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
# A failed debootstrap can leave /proc and /sys mounted inside its target: unmount what is under $tmp, and never
# let rm cross into another filesystem.
cleanup() {
  awk -v t="$tmp/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

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

# The bootable image. Packages: the kernel (its postinst builds the initramfs with initramfs-tools, MODULES=most, so
# virtio/nvme/ahci disks work), systemd as init, udev (the initramfs resolves root=UUID= with it), grub's BIOS and
# UEFI modules and grub-install/grub-mkconfig (the agent runs grub-install from this image's own chroot), dbus
# and polkitd (systemd-networkd sets the DHCP hostname through systemd-hostnamed on D-Bus, which denies the
# unprivileged networkd without polkit and its systemd-networkd.rules: "Could not set hostname: Access denied", seen
# under qemu; libpam-systemd is the logind polkitd depends on, which debootstrap does not resolve by itself),
# e2fsprogs/dosfstools (fsck of / and
# /boot/efi at boot).
bootable_pkgs=linux-image-amd64,systemd-sysv,udev,dbus,polkitd,libpam-systemd,grub-pc-bin,grub-efi-amd64-bin,grub2-common,initramfs-tools,e2fsprogs,dosfstools,iproute2,systemd-resolved
if [ "$bootable" = 1 ] && [ ! -s "$cache/image/debian-12-bootable.tar.zst" ]; then
  echo "build-assets: debootstrap --variant=minbase bookworm + kernel and grub (about 10 minutes, once)" >&2
  root="$tmp/boot-root"
  debootstrap --variant=minbase --include="$bootable_pkgs" bookworm "$root" "$mirror" >&2
  # Boot menu and kernel on the serial console as well as the screen; one second of menu.
  cat > "$root/etc/default/grub" <<'GRUB'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1"
GRUB_DISABLE_OS_PROBER=true
GRUB
  # DHCP on the first NIC (predictable names en*, or eth* with net.ifnames=0), hostname from the lease.
  mkdir -p "$root/etc/systemd/network"
  cat > "$root/etc/systemd/network/20-dhcp.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4

[DHCPv4]
UseHostname=yes
UseDNS=yes
NET
  # A node with no link must not hold network-online.target for the default 2 minutes.
  mkdir -p "$root/etc/systemd/system/systemd-networkd-wait-online.service.d"
  cat > "$root/etc/systemd/system/systemd-networkd-wait-online.service.d/any.conf" <<'WAIT'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30
WAIT
  chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service >&2
  # No static hostname (debootstrap copied the build host's): systemd-hostnamed takes the one DHCP gives.
  rm -f "$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
  # Every node gets its own machine-id on first boot (an empty file means "first boot" to systemd).
  : > "$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/cache/apt/"*.bin "$root/var/lib/apt/lists/"* "$root/var/log/"*.log
  # Reproducible where cheap: sorted names, numeric owners. zstd from a file (not a pipe) records the unpacked size
  # in the frame header, which the agent reads for its progress total instead of decompressing once to count.
  tar --sort=name --numeric-owner --xattrs --xattrs-include='*' -cpf "$tmp/bootable.tar" -C "$root" .
  rm -rf --one-file-system "$root"
  zstd -q -T0 -9 --rm -o "$tmp/bootable.tar.zst" "$tmp/bootable.tar"
  mv "$tmp/bootable.tar.zst" "$cache/image/debian-12-bootable.tar.zst"
fi
if [ "$bootable" = 1 ] && [ ! -s "$cache/image/debian-12-bootable.raw.zst" ]; then
  repo="$(cd "$(dirname "$0")/.." && pwd)"
  (cd "$repo" && npm run build --silent) >&2
  echo "build-assets: debian-12-bootable.raw (2 GiB GPT, BIOS + UEFI grub) by the agent's writer" >&2
  node "$repo/agent/dist/src/disk/make-raw.js" --tar "$cache/image/debian-12-bootable.tar.zst" --out "$tmp/bootable.raw" --size $((2 * 1024 * 1024 * 1024)) >&2
  zstd -q -T0 -9 --rm -o "$tmp/bootable.raw.zst" "$tmp/bootable.raw"
  mv "$tmp/bootable.raw.zst" "$cache/image/debian-12-bootable.raw.zst"
fi
echo "$cache"
