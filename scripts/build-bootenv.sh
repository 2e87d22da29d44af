#!/usr/bin/env bash
# Builds swarmboot's install environment (the kernel and initramfs a node runs in RAM while the
# agent writes its disk; Tinkerbell's "Hook", MAAS's ephemeral image) from Debian 12 packages:
#
#   bootenv/vmlinuz        the kernel of linux-image-amd64's current dependency (linux-image-6.1.0-N-amd64)
#   bootenv/initrd.img     cpio newc, zstd: busybox, disk tools, the server NIC/disk/fs modules
#                          (agent/bootenv/modules.list closed over modules.dep and softdeps),
#                          the build host's node (as /usr/bin/node) with its libraries, the agent bundled into /opt/swarmboot/agent.mjs,
#                          /init (agent/bootenv/init)
#   bootenv/manifest.json  kernel version, modules, component sizes, sizes and sha256 of both files
#
# Usage: scripts/build-bootenv.sh [--force] [--out DIR]       (cache dir: $SWARMBOOT_CACHE or ~/.cache/swarmboot)
# Env:   SWARMBOOT_BOOTENV_AGENT_ENTRY  the agent's entry module (default agent/dist/src/node-main.js;
#                                       it exports `async function main()`; run `npm run build` first)
#        SWARMBOOT_BOOTENV_MODULES      the module list (default agent/bootenv/modules.list)
#        SWARMBOOT_BOOTENV_COMPRESS     zstd (default) or gzip
#        SWARMBOOT_BOOTENV_ZSTD_LEVEL   zstd level (default 19; tests use 3 for a quick build)
#        SOURCE_DATE_EPOCH              mtime of every file in the initramfs (default: the kernel image's
#                                       mtime in its .deb, so a given kernel always gives the same bytes)
# Skips the build when the manifest's inputsKey (a sha256 over this script, agent/bootenv/* but *.md, the
# agent bundle, the kernel package version, the tool packages' versions and the node binary)
# matches. Reproducible: two builds of the same inputs give byte-identical files.
# Firmware (linux-firmware / firmware-* packages) is not shipped: NICs that need it (bnx2x, some
# ice/mlx setups with DDP packages) come up without the optional firmware or not at all.
# Installs the Debian packages it needs when they are missing (needs root, as on the CI machines).
set -euo pipefail
umask 022
export LC_ALL=C
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${SWARMBOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarmboot}"
out="$cache/bootenv"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--force] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
entry="${SWARMBOOT_BOOTENV_AGENT_ENTRY:-$repo/agent/dist/src/node-main.js}"
modlist="${SWARMBOOT_BOOTENV_MODULES:-$repo/agent/bootenv/modules.list}"
compress="${SWARMBOOT_BOOTENV_COMPRESS:-zstd}"
zstd_level="${SWARMBOOT_BOOTENV_ZSTD_LEVEL:-19}"
bootenv_src="$repo/agent/bootenv"
say() { echo "build-bootenv: $*" >&2; }
die() { say "$*"; exit 1; }

case "$compress" in zstd | gzip) ;; *) die "SWARMBOOT_BOOTENV_COMPRESS=$compress: zstd or gzip" ;; esac
case "$zstd_level" in [1-9] | 1[0-9]) ;; *) die "SWARMBOOT_BOOTENV_ZSTD_LEVEL=$zstd_level: 1..19" ;; esac
[ -f "$entry" ] || die "agent entry $entry is missing (npm run build, or set SWARMBOOT_BOOTENV_AGENT_ENTRY)"
[ -f "$modlist" ] || die "module list $modlist is missing"
command -v node >/dev/null || die "node is missing: the install environment ships the build host's node (Node >= 20)"
# Debian's /usr/bin/node, or the official build's /usr/local/bin/node (the container image's stage)
node_bin="$(readlink -f "$(command -v node)")"

# The tools of the initramfs, by the Debian package that provides them (merged /usr: dpkg -S
# cannot map /usr/sbin paths back, so the map is spelled here).
declare -A pkg_of=(
  [sfdisk]=fdisk [wipefs]=util-linux [blockdev]=util-linux [partx]=util-linux [losetup]=mount
  [mount]=mount [umount]=mount [blkid]=util-linux [lsblk]=util-linux
  [mkfs.ext4]=e2fsprogs [e2fsck]=e2fsprogs [resize2fs]=e2fsprogs [tune2fs]=e2fsprogs
  [mkfs.vfat]=dosfstools [fsck.vfat]=dosfstools [sgdisk]=gdisk [tar]=tar [zstd]=zstd [xz]=xz-utils
  [gzip]=gzip [kexec]=kexec-tools [chroot]=coreutils [efibootmgr]=efibootmgr
)
tools=(sfdisk wipefs blockdev partx losetup mount umount blkid lsblk mkfs.ext4 e2fsck resize2fs tune2fs
  mkfs.vfat fsck.vfat sgdisk tar zstd xz gzip kexec chroot efibootmgr)
build_pkgs=(busybox-static kmod cpio zstd gzip binutils)
need=()
for p in "${build_pkgs[@]}" $(printf '%s\n' "${pkg_of[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q "${need[@]}" >&2
fi
PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

kpkg="$(apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')"
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64's kernel package (apt-cache depends linux-image-amd64)"
kver="${kpkg#linux-image-}"
kpkg_version="$(apt-cache show --no-all-versions "$kpkg" | awk '$1 == "Version:" { print $2; exit }')"

mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

t0=$(date +%s.%N)
node "$bootenv_src/bundle.mjs" "$entry" "$tmp/agent.mjs" >/dev/null

# inputsKey: everything the bytes depend on, cheap to compute (the kernel is named by version).
inputs_key="$(
  {
    echo "compress=$compress level=$zstd_level sde=${SOURCE_DATE_EPOCH:-} kernel=$kpkg=$kpkg_version"
    sha256sum "$0" "$modlist" | awk '{ print $1 }'
    (cd "$bootenv_src" && find . -type f ! -name '*.md' | sort | xargs sha256sum)
    sha256sum "$tmp/agent.mjs" "$node_bin" | awk '{ print $1 }'
    dpkg-query -W "${build_pkgs[@]}" $(printf '%s\n' "${pkg_of[@]}" | sort -u) libc6 libstdc++6 libgcc-s1
  } | sha256sum | awk '{ print $1 }'
)"
if [ "$force" = 0 ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -s "$out/manifest.json" ] \
  && grep -q "\"inputsKey\": \"$inputs_key\"" "$out/manifest.json"; then
  say "up to date ($out, inputsKey ${inputs_key:0:12})"
  echo "$out"
  exit 0
fi

# --- kernel -------------------------------------------------------------------------------------
debs="$cache/bootenv-debs"
mkdir -p "$debs"
deb="$(ls "$debs/${kpkg}_"*"_amd64.deb" 2>/dev/null | head -1 || true)"
if [ -z "$deb" ] || ! dpkg-deb -f "$deb" Version | grep -qx "$kpkg_version"; then
  rm -f "$debs/${kpkg}_"*.deb
  say "apt-get download $kpkg ($kpkg_version)"
  (cd "$debs" && apt-get download "$kpkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
  deb="$(ls "$debs/${kpkg}_"*"_amd64.deb" | head -1)"
fi
dpkg-deb -x "$deb" "$tmp/kernel"
kdir="$tmp/kernel/lib/modules/$kver"
[ -d "$kdir" ] || die "$deb has no lib/modules/$kver"
depmod -b "$tmp/kernel" "$kver"
: "${SOURCE_DATE_EPOCH:=$(stat -c %Y "$tmp/kernel/boot/vmlinuz-$kver")}"
export SOURCE_DATE_EPOCH

# --- modules: the list closed over modules.dep and softdeps (modprobe --show-depends) ---------
root="$tmp/root"
mkdir -p "$root"/usr/{bin,sbin,lib/modules/"$kver",lib64} "$root"/{dev,proc,sys,run,tmp,root,mnt,etc/swarmboot,opt/swarmboot,var/lib/swarmboot}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
: >"$tmp/mods.paths"
: >"$root/etc/swarmboot/modules.load"
mods_listed=()
while read -r name _; do
  case "$name" in '' | '#'*) continue ;; esac
  mods_listed+=("$name")
  deps="$(modprobe -d "$tmp/kernel" -S "$kver" --show-depends "$name" 2>&1)" \
    || die "module $name ($modlist) is not in $kpkg: neither a module nor built in ($deps)"
  if [ "$deps" = "builtin $name" ] || [ "$deps" = "builtin ${name//-/_}" ]; then continue; fi
  # netconsole is loaded by /init once the lease gives it a source address (its parameter).
  [ "$name" = netconsole ] || echo "$name" >>"$root/etc/swarmboot/modules.load"
  awk '$1 == "insmod" { print $2 }' <<<"$deps" >>"$tmp/mods.paths"
done <"$modlist"
[ ${#mods_listed[@]} -gt 0 ] || die "$modlist lists no module"
mod_count=0
while read -r p; do
  rel="${p#"$kdir"/}"
  [ -f "$root/usr/lib/modules/$kver/$rel" ] && continue
  mkdir -p "$(dirname "$root/usr/lib/modules/$kver/$rel")"
  cp "$p" "$root/usr/lib/modules/$kver/$rel"
  mod_count=$((mod_count + 1))
done <"$tmp/mods.paths"
cp "$kdir"/modules.builtin "$kdir"/modules.builtin.modinfo "$kdir"/modules.order "$root/usr/lib/modules/$kver/"
depmod -b "$root" "$kver"
# Closure check against the full tree's modules.dep (Debian's System.map is a stub, so depmod -e
# cannot check symbols): every dependency of a shipped module is shipped.
(cd "$root/usr/lib/modules/$kver" && find kernel -name '*.ko' | sort) >"$tmp/shipped"
awk -F': ' 'NR == FNR { have[$1] = 1; next } ($1 in have) { n = split($2, d, " "); for (i = 1; i <= n; i++) if (!(d[i] in have)) print $1 " needs " d[i] }' \
  "$tmp/shipped" "$kdir/modules.dep" >"$tmp/missing"
[ -s "$tmp/missing" ] && die "modules miss a dependency: $(head -5 "$tmp/missing")"
cp "$tmp/kernel/boot/vmlinuz-$kver" "$tmp/vmlinuz"

# --- binaries and their shared libraries (ldd) -------------------------------------------------
: >"$tmp/libs"
# copy_elf SRC DEST_REL CATEGORY: the file (dereferenced) and every library ldd names, libraries
# at the path the loader asks for under /usr (the initramfs has /lib -> usr/lib, /lib64 -> usr/lib64).
copy_elf() {
  local src="$1" dest="$root/$2" cat="$3" lib
  mkdir -p "$(dirname "$dest")"
  if [ "$cat" = node ]; then
    # NodeSource's node carries its debug info (not stripped): 98.9 MB, 86.3 MB without. The
    # dynamic symbols native add-ons link against stay (--strip-unneeded); output is deterministic.
    strip --strip-unneeded -o "$dest" "$src"
  else
    cp -L "$src" "$dest"
  fi
  echo "$2 $cat" >>"$tmp/files"
  if ldd "$src" >/dev/null 2>&1; then
    ldd "$src" | awk '/=> \// { print $3 } /^\t\// { print $1 }' >>"$tmp/libs"
    if ldd "$src" | grep -q 'not found'; then die "$src: $(ldd "$src" | grep 'not found')"; fi
  fi
}
: >"$tmp/files"
copy_elf /bin/busybox usr/bin/busybox busybox
for t in "${tools[@]}"; do
  src="$(command -v "$t")" || die "$t is missing (package ${pkg_of[$t]})"
  case "$(readlink -f "$(dirname "$src")")" in */sbin) d=usr/sbin ;; *) d=usr/bin ;; esac
  copy_elf "$src" "$d/$t" tools
done
copy_elf "$node_bin" usr/bin/node node
sort -u "$tmp/libs" | while read -r lib; do
  rel="${lib#/}"
  rel="${rel#usr/}"
  mkdir -p "$(dirname "$root/usr/$rel")"
  cp -L "$lib" "$root/usr/$rel"
  echo "usr/$rel libs" >>"$tmp/files"
done
# busybox applets as symlinks, where no real tool of the same name is shipped
busybox --list-full | while read -r a; do
  name="${a##*/}"
  case "$name" in busybox | linuxrc | init) continue ;; esac
  [ -e "$root/usr/bin/$name" ] || [ -e "$root/usr/sbin/$name" ] || [ -L "$root/usr/bin/$name" ] || [ -L "$root/usr/sbin/$name" ] && continue
  case "$a" in sbin/* | usr/sbin/*) ln -s ../bin/busybox "$root/usr/sbin/$name" ;; *) ln -s busybox "$root/usr/bin/$name" ;; esac
done

# --- /init, configuration, the agent -----------------------------------------------------------
install -m 0755 "$bootenv_src/init" "$root/init"
install -D -m 0755 "$bootenv_src/udhcpc.script" "$root/usr/share/swarmboot/udhcpc.script"
install -m 0755 "$tmp/agent.mjs" "$root/opt/swarmboot/agent.mjs"
echo "opt/swarmboot/agent.mjs agent" >>"$tmp/files"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$root/etc/hosts"
printf 'swarmboot\n' >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/mke2fs.conf"
printf 'SWARMBOOT_KERNEL=%s\nSWARMBOOT_NODE_VERSION=%s\n' "$kver" "$(node --version)" >"$root/etc/swarmboot/release"
# the kernel opens /dev/console before running /init: it must exist in the archive
mknod -m 0600 "$root/dev/console" c 5 1
mknod -m 0666 "$root/dev/null" c 1 3

# --- archive: sorted cpio newc, fixed owners, inodes and mtimes ---------------------------------
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . -mindepth 1 -print0 | sort -z | cpio --null -o -H newc --reproducible -R 0:0 --quiet) >"$tmp/initrd.cpio"
unpacked=$(stat -c %s "$tmp/initrd.cpio")
if [ "$compress" = zstd ]; then
  # -T2 fixed (the output depends on the worker count). Level 19, measured on the 142 MB cpio here (node not yet stripped; now 130 MB → 35.2 MB):
  # -19 37.5 MB in 62 s, -15 42.0 MB in 11 s, -10 42.5 MB in 1.7 s, gzip -9 49.2 MB in 18 s; the
  # kernel unpacks -19 in 2.2 s under TCG (-10 1.7 s, gzip -9 2.7 s). The build runs once per input
  # change; every node of every deployment downloads the result.
  zstd -q "-$zstd_level" -T2 -c "$tmp/initrd.cpio" >"$tmp/initrd.img"
else
  gzip -n -9 -c "$tmp/initrd.cpio" >"$tmp/initrd.img"
fi
rm -f "$tmp/initrd.cpio"

# --- manifest -----------------------------------------------------------------------------------
modules_json="$(cd "$root/usr/lib/modules/$kver" && find . -name '*.ko' | sed 's|.*/||; s|\.ko$||' | sort | node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean)))')"
ZSTD_LEVEL="$zstd_level" node - "$root" "$tmp" "$kver" "$kpkg" "$kpkg_version" "$inputs_key" "$compress" "$unpacked" "$modules_json" "$(printf '%s\n' "${mods_listed[@]}")" <<'EOF' >"$tmp/manifest.json"
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const [root, tmp, kver, kpkg, kpkgVersion, inputsKey, compression, unpacked, modulesJson, listed] = process.argv.slice(2);
const sha = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const size = (f) => fs.statSync(f).size;
const sizes = { node: 0, libs: 0, busybox: 0, tools: 0, agent: 0 };
for (const line of fs.readFileSync(path.join(tmp, 'files'), 'utf8').split('\n').filter(Boolean)) {
  const [rel, cat] = line.split(' ');
  sizes[cat] += size(path.join(root, rel));
}
let modules = 0;
const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (e.isFile()) modules += size(p); } };
walk(path.join(root, 'usr/lib/modules'));
let total = 0;
const all = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) all(p); else if (e.isFile()) total += size(p); } };
all(root);
const componentBytes = { ...sizes, modules, other: total - Object.values(sizes).reduce((a, b) => a + b, 0) - modules };
const manifest = {
  kernelVersion: kver,
  kernelPackage: `${kpkg}=${kpkgVersion}`,
  nodeVersion: process.version,
  modulesListed: listed.split('\n').filter(Boolean),
  modules: JSON.parse(modulesJson),
  compression: compression === "zstd" ? `zstd -${process.env.ZSTD_LEVEL}` : "gzip -9",
  componentBytes,
  unpackedBytes: Number(unpacked),
  vmlinuz: { bytes: size(path.join(tmp, 'vmlinuz')), sha256: sha(path.join(tmp, 'vmlinuz')) },
  initrd: { bytes: size(path.join(tmp, 'initrd.img')), sha256: sha(path.join(tmp, 'initrd.img')) },
  totalCompressedBytes: size(path.join(tmp, 'vmlinuz')) + size(path.join(tmp, 'initrd.img')),
  sourceDateEpoch: Number(process.env.SOURCE_DATE_EPOCH),
  inputsKey,
};
process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
EOF
mv "$tmp/vmlinuz" "$out/vmlinuz"
mv "$tmp/initrd.img" "$out/initrd.img"
mv "$tmp/manifest.json" "$out/manifest.json"
say "built $out ($mod_count modules, initrd $(stat -c %s "$out/initrd.img") bytes, unpacked $unpacked, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
echo "$out"
