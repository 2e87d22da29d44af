#!/usr/bin/env bash
# bench/swarm: N emulated nodes, each in its own network namespace on one bridge, every link
# shaped with tbf to C Mbit/s (node up and down, seeder up and down). Installs one image in one
# or more modes, each from the same seeder on the same links:
#   swarm  swarmboot's swarm: tracker + seeder (super-seeding, SUPER_SEED) + the agent's joinSwarm
#   http   the baseline: plain HTTP GETs (curl) of the same file from the seeder's web seed URL
#   aria2  aria2c on the same .torrent (BitTorrent only: the url-list web seed is stripped), peers
#          from our tracker, the seeder and the other aria2c nodes; the reference for node CPU
#
#   sudo bench/swarm/run.sh <mode>[,<mode>...] <C Mbit/s> <image file> <N>...
#   e.g. sudo bench/swarm/run.sh swarm,http,aria2 1000 /tmp/sbsw-image.img 1 2 4 8
#
# For every N, each listed mode runs in turn (on the same namespaces, seeder and image), so each
# swarm row has its HTTP baseline from the same run. C = 0: no tbf, every veth at full speed.
# Prints one TSV line per (N, mode) and appends it to $RESULTS (default bench/swarm/results.tsv):
#   mode C N bytes T_ms T_bound_ms seeder_bytes peer_bytes node_cpu_ms seeder_cpu_ms machine_busy%
#   load_before load_after nodes_done super_seed node_cpu_ms_per_node MBps_per_core node_main_cpu_ms
# node_cpu_ms: CPU (user + sys) of all nodes until each was done: node.mjs measures its own,
# curl's is read by a python3 wrapper (getrusage of its child), aria2c's from /proc/<pid>/stat at
# the moment its download is complete (aria2c keeps running to seed, as the agents do, so its
# seeding after that is not counted, nor is the agents'). MBps_per_core: bytes received per
# node-CPU-second (nodes_done × bytes / node_cpu_ms), in MB/s. node_main_cpu_ms: the part of
# node_cpu_ms on the swarm nodes' JavaScript threads (node.mjs reads /proc; "-" for other modes):
# the rest is libuv's pool (piece writes), V8's GC and compiler threads. super_seed: the seeder's
# SWARMBOOT_SEEDER_SUPER_SEED for the BitTorrent modes, "-" for http. aria2's seeder_bytes is the
# seeder's BitTorrent upload during the run (its /metrics), peer_bytes the rest of nodes_done × F.
# T_bound_ms is "-" at C = 0.
# Env: ROTATE=1 starts each N's modes one further along the list (swarm,aria2 with N = 1 1 1 1
# runs swarm aria2, aria2 swarm, ...): the mode that runs first after the seeder stored the image
# pays more for its page-cache writes on this VM (docs/benchmarks.md, "Issue 12, sixth step"), so
# CPU comparisons alternate; DEADLINE_S (default 1800) bounds one N's run of one mode; SUPER_SEED
# goes to the seeder as SWARMBOOT_SEEDER_SUPER_SEED (default: the seeder's default); NODE_FLAGS go
# to every swarm node's node (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", or "--trace-opt": the rows read
# only stdout lines that start with "{"); NODE_SCRIPT replaces node.mjs
# (node-count.mjs counts wire messages); BUNDLE=0 runs it unbundled (see NODE_JS); KEEP_DIR
# keeps each run's per-node JSON and stderr (in KEEP_DIR/run-<N>-<mode>); RESULTS names the file
# the rows are appended to.
# Needs root (namespaces, tc), a built tree (npx tsc -b), redis-server, nats-server, curl, aria2c.
set -euo pipefail
MODE=$1 C=$2 IMG=$3
shift 3
NS_LIST=("$@")
IFS=, read -ra MODES <<< "$MODE"
for m in "${MODES[@]}"; do
  case $m in swarm | http | aria2) ;; *) echo "unknown mode '$m' (swarm, http or aria2)" >&2; exit 2 ;; esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=sbsw-$$
WORK=/tmp/$TAG
RESULTS=${RESULTS:-$ROOT/bench/swarm/results.tsv}
# the seeder's own default when unset, so that the row records the value in force
SUPER_SEED=${SUPER_SEED:-$(node -e 'import(process.argv[1]).then((m) => console.log(m.SeederConfig.properties.SWARMBOOT_SEEDER_SUPER_SEED.default))' "$ROOT/services/seeder/dist/src/index.js")}
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

# a namespace with eth0 on the hub's bridge, both directions shaped to C unless C = 0
# (burst 256 KB: veth hands tbf GSO super-packets of up to 64 KB)
attach() { # ns index ip
  local ns=$1 i=$2 addr=$3
  ip netns add "$ns"; NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$ns" link add eth0 type veth peer name "h$i" netns "$hub"
  ip -n "$ns" addr add "$addr/16" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$hub" link set "h$i" master br0 up
  [ "$C" = 0 ] && return
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
  SWARMBOOT_SEEDER_SUPER_SEED="$SUPER_SEED" \
  node "$ROOT/cli/dist/src/main.js" seeder > "$WORK/seeder.log" 2>&1 &
SEEDER_PID=$!
PIDS+=($SEEDER_PID)
for _ in $(seq 1 60); do ip netns exec "$srv" curl -sf http://127.0.0.1:9104/healthz >/dev/null 2>&1 && break; sleep 0.5; done
# the seeder reads the format from the bytes (a tarball is rootfs-tar); bytes it cannot place
# (random data) are declared raw-disk
upload() { ip netns exec "$srv" curl -s -o "$WORK/record.json" -w '%{http_code}' -T "$IMG" -X PUT -H 'content-type: application/octet-stream' "http://10.213.0.1:8001/v1/images/bench?file=bench.img$1"; }
status=$(upload '')
if [ "$status" != 201 ] && grep -q IMAGE_FORMAT_UNKNOWN "$WORK/record.json"; then status=$(upload '&format=raw-disk'); fi
[ "$status" = 201 ] || { echo "image upload failed ($status): $(cat "$WORK/record.json")" >&2; exit 1; }
BYTES=$(stat -c %s "$IMG")
record() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/record.json" "$1"; }
WEBSEED=$(record webSeedUrl)

# aria2: the image's .torrent without its web seeds (url-list, BEP 19; httpseeds, BEP 17), so that
# aria2c downloads by BitTorrent only, as the swarm nodes do; the info dict is copied byte for
# byte (same info hash, same swarm). Fetched once here: each swarm node fetches its own (ms).
ip netns exec "$srv" curl -sf -o "$WORK/bench.torrent" "$(record torrentUrl)"
python3 - "$WORK/bench.torrent" "$WORK/bt-only.torrent" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
def end(i):  # index just past the bencoded value at i
    c = b[i:i + 1]
    if c == b"i":
        return b.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while b[i:i + 1] != b"e":
            i = end(i)
        return i + 1
    colon = b.index(b":", i)
    return colon + 1 + int(b[i:colon])
assert b[:1] == b"d"
out, i = [b"d"], 1
while b[i:i + 1] != b"e":
    k = end(i)
    v = end(k)
    if b[i:k] not in (b"8:url-list", b"9:httpseeds"):
        out.append(b[i:v])
    i = v
open(sys.argv[2], "wb").write(b"".join(out) + b"e")
PY
# aria2c runs this (fork + exec, so $PPID is aria2c) once every piece is in and hash-checked,
# before it starts seeding: the node's line with its CPU so far (utime + stime, clock ticks)
cat > "$WORK/aria2-done.sh" <<'SH'
#!/bin/sh
done_at=$(date +%s%3N)
set -- $(cut -d' ' -f14,15 "/proc/$PPID/stat")
printf '{"node":%s,"doneAt":%s,"cpuMs":%s}\n' "$SBSW_NODE" "$done_at" "$((($1 + $2) * 1000 / $(getconf CLK_TCK)))" > "$SBSW_OUT"
SH
chmod +x "$WORK/aria2-done.sh"

# The swarm node as a node runs it: the install environment runs the agent as one esbuild bundle
# (agent/bootenv/bundle.mjs), which loads in about 0.2 CPU-s here against about 0.85 for the
# same modules from dist/ and node_modules. BUNDLE=0 runs the script from the tree.
NODE_JS=$ROOT/bench/swarm/${NODE_SCRIPT:-node.mjs}
if [ "${BUNDLE:-1}" != 0 ]; then
  node "$ROOT/agent/bootenv/bundle.mjs" "$NODE_JS" "$WORK/node.mjs" --no-wrap > /dev/null
  NODE_JS=$WORK/node.mjs
fi

cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
proc_cpu_ms() { awk '{print ($14+$15)*10}' "/proc/$1/stat"; }
now_ms() { date +%s%3N; }
# bytes the seeder's torrents uploaded so far (BitTorrent only; the web seed is not counted); %.0f, not
# %d: mawk's %d stops at 2^31 - 1, which the counter passes after 12 downloads of the demo image
seeder_bt_bytes() { ip netns exec "$srv" curl -sf http://127.0.0.1:9104/metrics | awk '$1 == "swarmboot_seeder_swarm{what=\"uploaded_bytes\"}" {printf "%.0f\n", $2}' || true; }

# starts one node of `mode` in its namespace, in the background (NODE_PID: the node's own process,
# as `ip netns exec` execs it); the node writes its JSON line to $out/<i>.json when done
start_node() { # mode index out
  local mode=$1 i=$2 out=$3
  case $mode in
    swarm)
      # as the install environment's init starts the agent (PATH and HOME only): a host's
      # NODE_EXTRA_CA_CERTS (here Debian's 144-certificate bundle) costs Node 60 CPU-ms per start
      ip netns exec "$TAG-$i" env -u NODE_EXTRA_CA_CERTS node ${NODE_FLAGS:-} "$NODE_JS" http://10.213.0.1:8001 bench "$out/d$i" "$i" > "$out/$i.json" 2> "$out/$i.err" & ;;
    http)
      # curl's CPU is read from its rusage once it exited (user + sys, ms); SIGTERM ends curl too
      ip netns exec "$TAG-$i" python3 -c '
import json, resource, signal, subprocess, sys, time
curl = subprocess.Popen(["curl", "-sSf", "-o", "/dev/null", sys.argv[1]])
signal.signal(signal.SIGTERM, lambda *_: (curl.terminate(), sys.exit(1)))
if curl.wait() == 0:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"node": int(sys.argv[2]), "doneAt": int(time.time() * 1000), "cpuMs": round((ru.ru_utime + ru.ru_stime) * 1000)}, separators=(",", ":")))' \
        "$WEBSEED" "$i" > "$out/$i.json" 2> "$out/$i.err" & ;;
    aria2)
      # seed-ratio 0 with no seed-time: seed until killed, as the agents do; peers from the tracker
      # only (no DHT, LPD or PEX); 60 peers as the agent's maxConns
      mkdir -p "$out/d$i"
      ip netns exec "$TAG-$i" env SBSW_NODE="$i" SBSW_OUT="$out/$i.json" aria2c --dir="$out/d$i" \
        --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false --disable-ipv6=true \
        --seed-ratio=0.0 --bt-max-peers=60 --listen-port=6881 --file-allocation=none --allow-overwrite=true \
        --on-bt-download-complete="$WORK/aria2-done.sh" \
        --summary-interval=0 --show-console-readout=false --console-log-level=warn --download-result=hide \
        "$WORK/bt-only.torrent" > "$out/$i.err" 2>&1 & ;;
  esac
  NODE_PID=$!
}

run() { # mode N: one row
  local mode=$1 N=$2 load_before load_after busy0 total0 busy1 total1 seeder0 seeder1 bt0 bt1 t0 out deadline done_n gone i p
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  read -r busy0 total0 < <(cpu_busy)
  seeder0=$(proc_cpu_ms "$SEEDER_PID")
  bt0=$(seeder_bt_bytes)
  out=$WORK/run-$N-$mode
  mkdir -p "$out"
  local node_pids=()
  t0=$(now_ms)
  for i in $(seq 1 "$N"); do
    start_node "$mode" "$i" "$out"
    node_pids+=($NODE_PID)
    PIDS+=($NODE_PID)
  done
  # wait for every node's first line (verified image / HTTP body complete); a node whose
  # process ended without one failed (its stderr is in $out/<i>.err, kept with KEEP_DIR)
  deadline=$(($(now_ms) + ${DEADLINE_S:-1800} * 1000))
  while :; do
    done_n=0 gone=0
    for i in $(seq 1 "$N"); do
      if [ -s "$out/$i.json" ] && grep -q '^{' "$out/$i.json"; then done_n=$((done_n + 1)); elif ! kill -0 "${node_pids[$((i - 1))]}" 2>/dev/null; then gone=$((gone + 1)); fi
    done
    [ $((done_n + gone)) -eq "$N" ] && { [ "$gone" -eq 0 ] || echo "N=$N $mode: $gone of $N nodes ended without finishing" >&2; break; }
    [ "$(now_ms)" -gt "$deadline" ] && { echo "N=$N $mode: only $done_n of $N nodes done after ${DEADLINE_S:-1800} s" >&2; break; }
    sleep 0.5
  done
  read -r busy1 total1 < <(cpu_busy)
  seeder1=$(proc_cpu_ms "$SEEDER_PID")
  bt1=$(seeder_bt_bytes)
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  for p in "${node_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  python3 - "$mode" "$C" "$N" "$BYTES" "$t0" "$out" "$((busy1 - busy0))" "$((total1 - total0))" "$((seeder1 - seeder0))" "$load_before" "$load_after" "$SUPER_SEED" "$((bt1 - bt0))" <<'PY' | tee -a "$RESULTS"
import json, sys, glob
mode, C, N, F, t0, out, busy, total, seeder_cpu, lb, la, super_seed, seeder_bt = sys.argv[1:]
C, N, F, t0 = float(C), int(N), int(F), int(t0)
first = []
for p in glob.glob(f"{out}/*.json"):
    lines = [json.loads(l) for l in open(p) if l.startswith("{")]  # V8's --trace-* flags print to stdout too
    if lines: first.append(lines[0])
done = len(first)
T = max(r["doneAt"] for r in first) - t0 if first else "-"
bound = round(F / (C * 1e6 / 8) * 1000) if C else "-"  # max(F/us, F/dmin, N F/(us + N u)) = F/C when every link is C
if mode == "swarm":
    seed = sum(r.get("bytesFromSeeder", 0) + r.get("bytesFromWebSeed", 0) for r in first)
    peers = sum(r.get("bytesFromPeers", 0) for r in first)
elif mode == "aria2":  # aria2c does not say whom its bytes came from: the seeder's count, and the rest
    seed = int(seeder_bt)
    peers = max(0, done * F - seed)
else:
    seed, peers = done * F, 0
cpu = sum(r.get("cpuMs", 0) for r in first)
busy_pct = 100 * int(busy) / max(1, int(total))
per_node = round(cpu / done) if done else "-"
mb_per_core = round(done * F / 1e6 / (cpu / 1000), 1) if cpu else "-"
row = [mode, int(C), N, F, T, bound, seed, peers, cpu, seeder_cpu, round(busy_pct), lb, la, done]
main = [r["mainCpuMs"] for r in first if "mainCpuMs" in r]
row += [super_seed if mode != "http" else "-", per_node, mb_per_core, sum(main) if main else "-"]
print("\t".join(str(x) for x in row))
PY
  if [ -n "${KEEP_DIR:-}" ]; then mkdir -p "$KEEP_DIR/run-$N-$mode" && cp "$out"/*.json "$out"/*.err "$KEEP_DIR/run-$N-$mode/"; fi
  rm -rf "$out"
}

first=0 # index in MODES of the mode that runs first; ROTATE=1 moves it on at each N
for N in "${NS_LIST[@]}"; do
  for ((j = 0; j < ${#MODES[@]}; j++)); do run "${MODES[$(((j + first) % ${#MODES[@]}))]}" "$N"; done
  if [ "${ROTATE:-0}" = 1 ]; then first=$((first + 1)); fi
done
