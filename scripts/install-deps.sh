#!/usr/bin/env bash
# Installs what swarmboot needs on a fresh Debian/Ubuntu machine, skipping what is there:
# nats-server and redis-server (the tests and `swarmboot up` start them), the demo's asset
# builders, the real protocol clients and servers the interop tests and benchmarks compare with,
# the disk tools the agent's writer runs (its tests write loop devices), qemu with iPXE ROMs and
# OVMF (`swarmboot demo --vms`, the VM test), Debian's chromium (the dashboard's browser test,
# driven by playwright-core, which downloads no browser), and the npm dependencies. Needs root (or sudo).
#
# Daemons in these packages (dnsmasq, tftpd-hpa, kea, redis, nats) must not start on this
# machine's interfaces: a policy-rc.d that refuses every start is in place during the install;
# tests start their own instances on loopback or inside network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
# command → package
declare -A want=(
  [nats-server]=nats-server [redis-server]=redis-server [debootstrap]=debootstrap [tar]=tar
  [tftp]=tftp-hpa [atftp]=atftp [in.tftpd]=tftpd-hpa [dnsmasq]=dnsmasq [curl]=curl
  [udhcpc]=udhcpc [dhclient]=isc-dhcp-client [perfdhcp]=kea-admin [kea-dhcp4]=kea-dhcp4-server
  [ip]=iproute2 [nft]=nftables [logger]=bsdutils [aria2c]=aria2 [transmission-cli]=transmission-cli
  [sfdisk]=fdisk [mkfs.ext4]=e2fsprogs [mkfs.vfat]=dosfstools [mcopy]=mtools [zstd]=zstd [losetup]=mount
  [qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils
)
pkgs=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || pkgs+=("${want[$cmd]}")
done
[ -f /usr/lib/ipxe/undionly.kpxe ] || pkgs+=(ipxe)
[ -f /usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux ] || pkgs+=(debian-installer-12-netboot-amd64)
[ -f /usr/lib/ipxe/qemu/efi-virtio.rom ] || pkgs+=(ipxe-qemu)
[ -f /usr/share/OVMF/OVMF_CODE.fd ] || pkgs+=(ovmf)
if [ ${#pkgs[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "install-deps: apt-get install ${pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  $sudo apt-get update -q >&2
  $sudo apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
fi
# chromium on its own: where apt has no usable one (Ubuntu's is a snap stub) or there is no root,
# the rest still installs and the dashboard's browser test skips, saying why
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  echo "install-deps: apt-get install chromium" >&2
  { $sudo apt-get update -q && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } >&2 \
    || echo "install-deps: chromium not installed; cli's dashboard-browser test will skip" >&2
fi
# npm ci when node_modules is missing or older than the lock file
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
