#!/usr/bin/env bash
# Fault-injection suite (issue 15): per fault, a fresh deployment of 2 replicas of each of
# tracker, seeder, scheduler and dhcp (one tftp, one logsink; nats-server with a JetStream file
# store, redis-server with AOF) installing one image onto N emulated nodes, one fault injected at
# a seeded random moment mid-deployment, then the checks (installed, leases held twice, timelines,
# JetStream sequence gaps and facts lost). What run.mjs does and checks: its header.
#
# Each run in its own network namespace (its loopback only: the nodes on 127.77.x.y, DHCP through
# the harness' relay at 127.77.0.1). Usage (root, from the repo root, after `npx tsc -b`):
#   bench/faults/run.sh                         # every fault, in the order of issue 15
#   SEED=7 bench/faults/run.sh tracker nats     # these faults, seeds 7, 8, …
# FAULTs: none seeder tracker scheduler dhcp redis redis-kill nats agent; on replicated backends
# (not in the default list): sentinel sentinel-failover nats-node.
# Env: N (20), SEED (first seed; default from the clock, printed), IMAGE_MB (16, a tar of random
# bytes), SEEDER_LIMIT (each seeder's upload cap, bytes/s, 4000000: the download phase lasts long
# enough to land a fault in), KERNEL_KB (256) and INITRD_KB (1024): the first KiB of the cached
# Debian kernel and initrd as the TFTP boot files, DEADLINE_S (600 per run), KEEP (a dir: keep
# each run's logs there).
# Prints one JSON line per run (run.mjs), then the markdown table of docs/faults.md (row.mjs).
set -euo pipefail

N=${N:-20}
SEED=${SEED:-$(date +%s)}
IMAGE_MB=${IMAGE_MB:-16}
KERNEL_KB=${KERNEL_KB:-256}
INITRD_KB=${INITRD_KB:-1024}
DEADLINE_S=${DEADLINE_S:-600}
CACHE=${CACHE:-$HOME/.cache/swarmboot/tftp}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/netns.sh
. "$REPO/bench/lib/netns.sh"
FAULTS=("$@")
[ ${#FAULTS[@]} -gt 0 ] || FAULTS=(seeder tracker scheduler dhcp redis nats agent)

NS="sbfault-$$"
work=$(mktemp -d /tmp/sb-faults-XXXXXX)
cleanup() {
  netns_remove "$NS"
  keep_runs "$work" 'run-*/nodes' 'run-*/data' 'run-*/nats'
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/tftp/debian" "$work/img"
cp "$CACHE/ipxe.efi" "$work/tftp/"
head -c $((KERNEL_KB * 1024)) "$CACHE/debian/linux" > "$work/tftp/debian/linux"
head -c $((INITRD_KB * 1024)) "$CACHE/debian/initrd.gz" > "$work/tftp/debian/initrd.gz"
head -c $((IMAGE_MB * 1024 * 1024)) /dev/urandom > "$work/img/payload.bin"
tar -C "$work/img" -cf "$work/faults.tar" payload.bin

echo "N=$N, image $IMAGE_MB MiB, seeder upload cap ${SEEDER_LIMIT:-4000000} B/s each, first seed $SEED, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
seed=$SEED
for fault in "${FAULTS[@]}"; do
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  out="$work/run-$fault-$seed"
  mkdir -p "$out"
  line=$(SEEDER_LIMIT=${SEEDER_LIMIT:-4000000} timeout -k 10 $((DEADLINE_S + 180)) ip netns exec "$NS" node "$REPO/bench/faults/run.mjs" \
    "$fault" "$seed" "$N" "$work/tftp" "$work/faults.tar" "$out" "$DEADLINE_S" 2> "$out/driver.log" | tail -n 1) || { echo "run $fault (seed $seed) failed:" >&2; tail -20 "$out/driver.log" >&2; }
  netns_remove "$NS"
  echo "$line"
  [ -n "$line" ] && rows+=("$(node "$REPO/bench/faults/row.mjs" "$line")")
  seed=$((seed + 1))
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
node "$REPO/bench/faults/row.mjs" --header
for r in "${rows[@]}"; do echo "$r"; done
