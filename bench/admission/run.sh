#!/usr/bin/env bash
# Admission bench (issue 13 part 1): N emulated nodes install one image through the real dhcp,
# tftp, scheduler, seeder, tracker and logsink, with every TFTP datagram to the nodes on a
# shaped, lossy link; once with every node admitted at once, once with the scheduler's admission.
#
#   one network namespace per run, everything on its loopback: services on 127.0.0.1, nodes on
#   127.77.x.y (DemoNet). The TFTP server's datagrams to the nodes (src 127.0.0.1, UDP from an
#   ephemeral port: RFC 1350 transfer IDs; DHCP's port 6767 is below that range) are counted by
#   nftables, LOSS % of them dropped (numgen random: no netem on this kernel), and the rest put
#   into an htb class of RATE with a BUFFER_MS queue (meta priority 1:10: this kernel has no tc
#   classifiers), the boot server's uplink; the rest of the loopback (HTTP, NATS, Redis, the
#   swarm) is not shaped.
#
# Usage (root, from the repo root, after `npx tsc -b`):
#   bench/admission/run.sh                            # N=200, runs "all-at-once admission"
#   N=50 RUNS=admission RATE=20mbit bench/admission/run.sh
# Env: N (200), RUNS (all-at-once admission canary10), RATE (htb, 50mbit), LOSS (%, 1),
# BUFFER_MS (queue of the link, ms at RATE, 50), KERNEL_KB (256) and INITRD_KB (1024): the first
# KiB of the cached Debian kernel and initrd, served as debian/linux and debian/initrd.gz (the boot
# loader is the whole ipxe.efi); IMAGE_KB (512, a tar of random bytes); REBOOT_S (10, a machine
# whose boot failed PXE-boots again after this); DEADLINE_S (900, one run's bound; the script
# stops by itself); KEEP (a dir: keep each run's logs there).
# The machines: bench/admission/machines.mjs (50 per process), driven by run.mjs (one run each).
# The runs' deployments (run.mjs's <deployJSON>):
#   all-at-once  {"canary":N,"maxInFlight":N}   every node admitted in wave 0
#   admission    {}                             the scheduler's defaults (canary 5, maxInFlight 200)
#   canary10     {"canary":10}
# Prints the load average before and after, one JSON line per run (run.mjs), then the markdown
# table of docs/benchmarks.md (bench/admission/row.mjs).
set -euo pipefail

N=${N:-200}
RUNS=${RUNS:-"all-at-once admission"}
RATE=${RATE:-50mbit}
LOSS=${LOSS:-1}
BUFFER_MS=${BUFFER_MS:-50}
KERNEL_KB=${KERNEL_KB:-256}
INITRD_KB=${INITRD_KB:-1024}
IMAGE_KB=${IMAGE_KB:-512}
DEADLINE_S=${DEADLINE_S:-900}
CACHE=${CACHE:-$HOME/.cache/swarmboot/tftp}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/netns.sh
. "$REPO/bench/lib/netns.sh"

NS="sbadm-$$"
MATCH="ip saddr 127.0.0.1 ip daddr 127.77.0.0/16 udp sport 32768-65535"
work=$(mktemp -d /tmp/sb-admission-bench-XXXXXX)
cleanup() {
  netns_remove "$NS"
  # the logs, the driver's output and Redis' AOF; not the nodes' disks, the seeder's or NATS' data
  keep_runs "$work" 'run-*/nodes' 'run-*/seeder' 'run-*/nats'
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/tftp/debian"
cp "$CACHE/ipxe.efi" "$work/tftp/"
head -c $((KERNEL_KB * 1024)) "$CACHE/debian/linux" > "$work/tftp/debian/linux"
head -c $((INITRD_KB * 1024)) "$CACHE/debian/initrd.gz" > "$work/tftp/debian/initrd.gz"
mkdir -p "$work/img"
head -c $((IMAGE_KB * 1024)) /dev/urandom > "$work/img/payload.bin"
tar -C "$work/img" -cf "$work/bench.tar" payload.bin
rate_bps=$(RATE=$RATE python3 -c 'import os, re; m = re.fullmatch(r"(\d+)([kmg]?)bit", os.environ["RATE"]); print(int(m[1]) * {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m[2]])')
buffer_bytes=$((rate_bps / 8 * BUFFER_MS / 1000))
per_node=$(($(stat -c %s "$work/tftp/ipxe.efi") + KERNEL_KB * 1024 + INITRD_KB * 1024))

echo "N=$N, link $RATE (htb, ${BUFFER_MS} ms = $buffer_bytes bytes of queue), loss $LOSS %, TFTP per node $per_node bytes (ipxe.efi + ${KERNEL_KB} KiB kernel + ${INITRD_KB} KiB initrd), image ${IMAGE_KB} KiB, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for run in $RUNS; do
  case $run in
    all-at-once) deploy="{\"canary\":$N,\"maxInFlight\":$N}" ;;
    admission) deploy='{}' ;;
    canary10) deploy='{"canary":10}' ;;
    *) echo "unknown run '$run' (all-at-once, admission, canary10)" >&2; exit 2 ;;
  esac
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  # htb: the marked datagrams (meta priority 1:10) share RATE behind a BUFFER_MS queue (bfifo of
  # RATE × BUFFER_MS, as tbf's latency); everything else goes to 1:20, not limited in practice
  ip netns exec "$NS" tc qdisc add dev lo root handle 1: htb default 20 r2q 1000
  ip netns exec "$NS" tc class add dev lo parent 1: classid 1:10 htb rate "$RATE" ceil "$RATE" burst 32k
  ip netns exec "$NS" tc class add dev lo parent 1: classid 1:20 htb rate 10gbit 2> /dev/null
  ip netns exec "$NS" tc qdisc add dev lo parent 1:10 handle 10: bfifo limit "$buffer_bytes"
  lossy_init "$NS" "$MATCH" "meta priority set 1:10"
  lossy_on "$NS" "$MATCH" "$LOSS"
  out="$work/run-$run"
  mkdir -p "$out"
  load0=$(cut -d' ' -f1 /proc/loadavg)
  # the driver bounds itself by DEADLINE_S; timeout is the backstop if the stack hangs
  line=$(timeout -k 10 $((DEADLINE_S + 120)) ip netns exec "$NS" nice -n 10 node "$REPO/bench/admission/run.mjs" \
    "$run" "$N" "$work/tftp" "$work/bench.tar" "$out" "$deploy" "$DEADLINE_S" 2> "$out/driver.log" | tail -n 1) || { echo "run $run failed:" >&2; tail -20 "$out/driver.log" >&2; }
  load1=$(cut -d' ' -f1 /proc/loadavg)
  sent=$(lossy_count "$NS" sent)
  dropped=$(lossy_count "$NS" dropped)
  drops=$(ip netns exec "$NS" tc -s qdisc show dev lo | awk '/qdisc bfifo 10:/ {t = 1} t && /dropped/ {gsub(",", ""); print $7; exit}')
  netns_remove "$NS"
  echo "$line"
  [ -n "$line" ] || continue
  rows+=("$(node "$REPO/bench/admission/row.mjs" "$line" "$sent" "$dropped" "${drops:-0}")")
  echo "load (1 min) before and after $run: $load0 → $load1"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| run | deployment | makespan s | installed / failed | TFTP retransmissions | TFTP failed transfers | boots (reboots after a failed boot) | scheduler timeouts | pauses | waves | window over time (s: window) | TFTP MB sent | datagrams: sent / lost / queue-dropped | machines' CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
