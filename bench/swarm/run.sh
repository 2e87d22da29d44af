#!/usr/bin/env bash
# bench/swarm: N emulated nodes, each in its own network namespace on one bridge, every link
# shaped with tbf to C Mbit/s (node up and down, seeder up and down). Installs one image either
# through swarmboot's swarm (tracker + super-seeding seeder + the agent's joinSwarm) or, as the
# baseline, by plain HTTP GETs of the same file from the seeder on the same links.
#
#   sudo bench/swarm/run.sh <swarm|http> <C Mbit/s> <image file> <N>...
#
# Prints one TSV line per N (and appends it to bench/swarm/results.tsv):
#   mode C N bytes T_ms T_bound_ms seeder_bytes peer_bytes node_cpu_ms seeder_cpu_ms machine_busy% load_before load_after
# Env: DEADLINE_S (default 1800) bounds one N's run; NODE_FLAGS go to every node's node (e.g.
# "--cpu-prof --cpu-prof-dir=/tmp/prof"); NODE_SCRIPT replaces node.mjs (node-count.mjs counts
# wire messages); KEEP_DIR keeps each run's per-node JSON and stderr.
# Needs root (namespaces, tc), a built tree (npx tsc -b), redis-server and nats-server.
set -euo pipefail
MODE=$1 C=$2 IMG=$3
shift 3
NS_LIST=("$@")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=sbsw-$$
WORK=/tmp/$TAG
RESULTS=$ROOT/bench/swarm/results.tsv
mkdir -p "$WORK"
MAXN=0
for n in "${NS_LIST[@]}"; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
PIDS=()
NAMESPACES=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

hub=$TAG-h
ip netns add "$hub"; NAMESPACES+=("$hub")
ip -n "$hub" link set lo up
ip -n "$hub" link add br0 type bridge
ip -n "$hub" link set br0 up

# a namespace with eth0 on the hub's bridge, both directions shaped to C
# (burst 256 KB: veth hands tbf GSO super-packets of up to 64 KB)
attach() { # ns index ip
  local ns=$1 i=$2 addr=$3
  ip netns add "$ns"; NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$ns" link add eth0 type veth peer name "h$i" netns "$hub"
  ip -n "$ns" addr add "$addr/16" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$hub" link set "h$i" master br0 up
  ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "${C}mbit" burst 256kb latency 200ms
  ip netns exec "$hub" tc qdisc add dev "h$i" root tbf rate "${C}mbit" burst 256kb latency 200ms
}

srv=$TAG-s
attach "$srv" 0 10.213.0.1
for i in $(seq 1 "$MAXN"); do attach "$TAG-$i" "$i" "10.213.$((i / 200 + 1)).$((i % 200 + 1))"; done

# control plane inside the server namespace (its own loopback)
ip netns exec "$srv" redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --loglevel warning > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
ip netns exec "$srv" nats-server -a 127.0.0.1 -p 4222 -js -sd "$WORK/nats" > "$WORK/nats.log" 2>&1 &
PIDS+=($!)
sleep 1
common=(SWARMBOOT_NATS_URL=nats://127.0.0.1:4222 SWARMBOOT_REDIS_URL=redis://127.0.0.1:6379 SWARMBOOT_LOG_LEVEL=warn)
ip netns exec "$srv" env "${common[@]}" SWARMBOOT_TRACKER_LISTEN=10.213.0.1:8000 SWARMBOOT_OPS_LISTEN=127.0.0.1:9103 \
  node "$ROOT/cli/dist/src/main.js" tracker > "$WORK/tracker.log" 2>&1 &
PIDS+=($!)
ip netns exec "$srv" env "${common[@]}" SWARMBOOT_SEEDER_LISTEN=10.213.0.1:8001 SWARMBOOT_OPS_LISTEN=127.0.0.1:9104 \
  SWARMBOOT_SEEDER_DATA="$WORK/seeder" SWARMBOOT_SEEDER_PUBLIC_URL=http://10.213.0.1:8001 \
  SWARMBOOT_TRACKER_ANNOUNCE_URL=http://10.213.0.1:8000/announce SWARMBOOT_SEEDER_TORRENT_PORT=6881 \
  node "$ROOT/cli/dist/src/main.js" seeder > "$WORK/seeder.log" 2>&1 &
SEEDER_PID=$!
PIDS+=($SEEDER_PID)
for _ in $(seq 1 60); do ip netns exec "$srv" curl -sf http://127.0.0.1:9104/healthz >/dev/null 2>&1 && break; sleep 0.5; done
ip netns exec "$srv" curl -sf -T "$IMG" -X PUT -H 'content-type: application/octet-stream' "http://10.213.0.1:8001/v1/images/bench?file=bench.img&format=raw-disk" > "$WORK/record.json"
BYTES=$(stat -c %s "$IMG")
WEBSEED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["webSeedUrl"])' "$WORK/record.json")

cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
proc_cpu_ms() { awk '{print ($14+$15)*10}' "/proc/$1/stat"; }
now_ms() { date +%s%3N; }

for N in "${NS_LIST[@]}"; do
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  read -r busy0 total0 < <(cpu_busy)
  seeder0=$(proc_cpu_ms "$SEEDER_PID")
  out=$WORK/run-$N
  mkdir -p "$out"
  node_pids=()
  t0=$(now_ms)
  for i in $(seq 1 "$N"); do
    if [ "$MODE" = swarm ]; then
      ip netns exec "$TAG-$i" node ${NODE_FLAGS:-} "$ROOT/bench/swarm/${NODE_SCRIPT:-node.mjs}" http://10.213.0.1:8001 bench "$out/d$i" "$i" > "$out/$i.json" 2> "$out/$i.err" &
    else
      ip netns exec "$TAG-$i" sh -c "curl -sf -o /dev/null '$WEBSEED' && echo \"{\\\"node\\\":$i,\\\"doneAt\\\":\$(date +%s%3N)}\"" > "$out/$i.json" 2> "$out/$i.err" &
    fi
    node_pids+=($!)
    PIDS+=($!)
  done
  # wait for every node's first line (verified image / HTTP body complete)
  deadline=$(( $(now_ms) + ${DEADLINE_S:-1800} * 1000 ))
  while :; do
    done_n=0
    for i in $(seq 1 "$N"); do [ -s "$out/$i.json" ] && done_n=$((done_n + 1)); done
    [ "$done_n" -eq "$N" ] && break
    [ "$(now_ms)" -gt "$deadline" ] && { echo "N=$N: only $done_n of $N nodes done after ${DEADLINE_S:-1800} s" >&2; break; }
    sleep 0.5
  done
  read -r busy1 total1 < <(cpu_busy)
  seeder1=$(proc_cpu_ms "$SEEDER_PID")
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  for p in "${node_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  python3 - "$MODE" "$C" "$N" "$BYTES" "$t0" "$out" "$((busy1 - busy0))" "$((total1 - total0))" "$((seeder1 - seeder0))" "$load_before" "$load_after" <<'PY' | tee -a "$RESULTS"
import json, sys, glob
mode, C, N, F, t0, out, busy, total, seeder_cpu, lb, la = sys.argv[1:]
C, N, F, t0 = float(C), int(N), int(F), int(t0)
first = []
for p in glob.glob(f"{out}/*.json"):
    lines = [json.loads(l) for l in open(p) if l.strip()]
    if lines: first.append(lines[0])
T = max(r["doneAt"] for r in first) - t0
bound = F / (C * 1e6 / 8) * 1000  # max(F/us, F/dmin, N F/(us + N u)) = F/C when every link is C
seed = sum(r.get("bytesFromSeeder", 0) + r.get("bytesFromWebSeed", 0) for r in first) if mode == "swarm" else N * F
peers = sum(r.get("bytesFromPeers", 0) for r in first)
cpu = sum(r.get("cpuMs", 0) for r in first)
busy_pct = 100 * int(busy) / max(1, int(total))
print("\t".join(str(x) for x in [mode, int(C), N, F, T, round(bound), seed, peers, cpu, seeder_cpu, round(busy_pct), lb, la, len(first)]))
PY
  if [ -n "${KEEP_DIR:-}" ]; then mkdir -p "$KEEP_DIR/run-$N" && cp "$out"/*.json "$out"/*.err "$KEEP_DIR/run-$N/"; fi
  rm -rf "$out"
done
