#!/usr/bin/env bash
# DHCP benchmark: perfdhcp against swarmboot dhcp (Redis leases), kea-dhcp4 (memfile) and
# dnsmasq, each in its own server network namespace, perfdhcp in a client netns acting as a
# relay (giaddr = its address, unicast to the server, replies to port 67).
#   1. rate search: perfdhcp -r R for $SECS s at increasing R; the highest R with < 0.1 % drops
#      in both DISCOVER-OFFER and REQUEST-ACK; leases/s = ACKs received / $SECS.
#   2. storm: 2,000 clients starting within one second (4 perfdhcp relays × -r 500 -n 500; -p 2 so the 500th is sent), then
#      10 s: how many got their ACK (perfdhcp does not retransmit: a drop is a client lost).
# Usage (root): bench/dhcp/run.sh [rates...]   e.g. bench/dhcp/run.sh 250 500 1000 2000 4000
# Prints a markdown table. Needs: ip, perfdhcp, kea-dhcp4, dnsmasq, redis-server, node, a built tree (npx tsc -b).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RATES=("$@"); [ ${#RATES[@]} -eq 0 ] && RATES=(250 500 1000 2000 3000 4000 6000)
SECS=${SECS:-4}
TAG=sbbd-$$
DIR=$(mktemp -d /tmp/$TAG-XXXX)
S=$TAG-0-s; C=$TAG-0-c; SIF=sbbd$(( $$ % 100000 ))a; CIF=sbbd$(( $$ % 100000 ))b
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  ip netns del "$S" 2>/dev/null || true; ip netns del "$C" 2>/dev/null || true
  [ -n "${KEEP_LOGS:-}" ] && cp "$DIR"/*.log "$KEEP_LOGS"/ 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT

ip netns add "$S"; ip netns add "$C"
ip link add "$SIF" type veth peer name "$CIF"
ip link set "$SIF" netns "$S"; ip link set "$CIF" netns "$C"
ip -n "$S" link set lo up; ip -n "$C" link set lo up
ip -n "$S" addr add 10.66.0.1/16 dev "$SIF"; ip -n "$S" link set "$SIF" up
for a in 10 11 12 13; do ip -n "$C" addr add 10.66.0.$a/16 dev "$CIF"; done; ip -n "$C" link set "$CIF" up
ip -n "$S" route add 255.255.255.255/32 dev "$SIF"

POOL_FIRST=10.66.1.1; POOL_LAST=10.66.250.254
RUN=0

start_swarmboot() {
  redis-server --port 0 --unixsocket "$DIR/redis.sock" --save '' --appendonly no >"$DIR/redis.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 50); do [ -S "$DIR/redis.sock" ] && break; sleep 0.1; done
  cat >"$DIR/swarmboot.json" <<JSON
{ "listen": "0.0.0.0:67", "serverId": "10.66.0.1", "natsUrl": "none", "redisUrl": "$DIR/redis.sock",
  "opsListen": "127.0.0.1:9464", "leaseSeconds": 3600,
  "subnets": [{ "subnet": "10.66.0.0/16", "pool": "$POOL_FIRST-$POOL_LAST", "router": "10.66.0.1", "nextServer": "10.66.0.1" }] }
JSON
  # shellcheck disable=SC2086 # NODE_BENCH_OPTS: e.g. --cpu-prof --cpu-prof-dir=/tmp/prof
  SWARMBOOT_LOG_LEVEL=info ip netns exec "$S" node ${NODE_BENCH_OPTS:-} "$ROOT/cli/dist/src/main.js" dhcp --config "$DIR/swarmboot.json" >"$DIR/swarmboot.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 100); do grep -q '"DHCP listening"' "$DIR/swarmboot.log" && break; sleep 0.1; done
}
start_kea() {
  cat >"$DIR/kea.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": ["$SIF"], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/kea-leases4.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600,
  "subnet4": [{ "id": 1, "subnet": "10.66.0.0/16", "pools": [{ "pool": "$POOL_FIRST - $POOL_LAST" }],
                "option-data": [{ "name": "routers", "data": "10.66.0.1" }] }],
  "loggers": [{ "name": "kea-dhcp4", "output_options": [{ "output": "$DIR/kea.log" }], "severity": "WARN" }] } }
JSON
  KEA_PIDFILE_DIR=$DIR KEA_LOCKFILE_DIR=$DIR ip netns exec "$S" kea-dhcp4 -c "$DIR/kea.json" >"$DIR/kea.out" 2>&1 & PIDS+=($!)
  sleep 2
}
start_dnsmasq() {
  # --no-ping: kea and swarmboot do not ICMP-probe an address before offering it either
  ip netns exec "$S" dnsmasq --no-daemon --port=0 --interface="$SIF" --dhcp-range=$POOL_FIRST,$POOL_LAST,255.255.0.0,1h \
    --dhcp-leasefile="$DIR/dnsmasq.leases" --dhcp-lease-max=200000 --dhcp-authoritative --no-ping --quiet-dhcp \
    --pid-file="$DIR/dnsmasq.pid" --log-facility="$DIR/dnsmasq.log" >"$DIR/dnsmasq.out" 2>&1 & PIDS+=($!)
  sleep 1.5
}
cpu_of() { for p in "${PIDS[@]}"; do ps -o comm=,times= -p "$p" 2>/dev/null; done | awk '{printf "%s %ss cpu; ", $1, $2}'; }
stop_all() { echo "  server processes: $(cpu_of)" >&2; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; PIDS=(); rm -f "$DIR"/redis.sock; }

# perfdhcp: prints "acks drops_pct_max" for one run
perf() { # rate count period wait_us [relay address]
  RUN=$((RUN + 1))
  local relay=${5:-10.66.0.10}; local LAST_OCTET=${relay##*.}
  # distinct clients per run (and per parallel relay: the subshells share RUN)
  local base; base=$(printf '00:%02x:%02x:%02x:00:00' $((RUN / 256)) $((RUN % 256)) "${LAST_OCTET}")
  local out
  out=$(ip netns exec "$C" perfdhcp -4 -l "$relay" -r "$1" -R 1000000 ${2:+-n "$2"} -p "$3" -W "$4" -b "mac=$base" 10.66.0.1 2>&1 || true)
  echo "$out" >>"$DIR/perfdhcp.log"
  local acks drops
  acks=$(echo "$out" | awk '/REQUEST-ACK/{f=1} f&&/received packets/{print $3; exit}')
  drops=$(echo "$out" | awk '/drops ratio/{gsub("%","",$3); if ($3+0>m) m=$3+0} END{print m+0}')
  echo "${acks:-0} ${drops:-100}"
}

rcvbuf_errors() { ip netns exec "$1" awk '/^Udp:/{if (h) {print $6; exit} h=1}' /proc/net/snmp; }

bench() { # name
  local best=0 best_rate=0
  for r in "${RATES[@]}"; do
    read -r acks drops < <(perf "$r" "" "$SECS" 1000000)
    local ok; ok=$(awk -v d="$drops" 'BEGIN{print (d < 0.1) ? 1 : 0}')
    echo "  $1 r=$r acks=$acks drops=${drops}%" >&2
    if [ "$ok" = 1 ]; then best_rate=$r; best=$(( acks / SECS )); else break; fi
  done
  local before_s before_c
  before_s=$(rcvbuf_errors "$S"); before_c=$(rcvbuf_errors "$C")
  # four relays of 500 clients each, all within the same second: one perfdhcp socket alone
  # overflows its 208 KiB receive buffer (net.core.rmem_default, not per netns here) when
  # replies come in bursts — the client netns' RcvbufErrors below show it
  local storm=0 part
  local waitfor=()
  for a in 10 11 12 13; do perf 500 500 2 9000000 "10.66.0.$a" >"$DIR/storm.$a" & waitfor+=($!); done
  wait "${waitfor[@]}"
  for a in 10 11 12 13; do read -r part _ <"$DIR/storm.$a"; storm=$((storm + part)); done
  [ "$1" = "swarmboot dhcp (Redis)" ] && ip netns exec "$S" curl -s http://127.0.0.1:9464/metrics | grep -E '^swarmboot_dhcp_(dropped|replies)_total' | sed 's/^/  /' >&2
  echo "  $1 storm: UDP receive-buffer drops: server netns $(( $(rcvbuf_errors "$S") - before_s )), client netns $(( $(rcvbuf_errors "$C") - before_c ))" >&2
  echo "| $1 | $best_rate | $best | $storm / 2000 |"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| server | highest rate with < 0.1 % drops (req/s) | leases/s there | storm: clients leased within 10 s |"
echo "|---|---|---|---|"
for s in ${SERVERS:-swarmboot kea dnsmasq}; do
  case $s in
    swarmboot) start_swarmboot; bench "swarmboot dhcp (Redis)" ;;
    kea) start_kea; bench "kea-dhcp4 (memfile)" ;;
    dnsmasq) start_dnsmasq; bench "dnsmasq" ;;
  esac
  stop_all
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
