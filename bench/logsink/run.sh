#!/usr/bin/env bash
# Log sink bench: redis-server, nats-server and `swarmboot logsink` on loopback, then for each
# transport a sender process (bench/logsink/send.mjs) sends N lines at RATE lines/s and counts
# what the sink stored, from Redis.
#
# Usage (from the repo root, after `npx tsc -b`):
#   bench/logsink/run.sh                                   # N=50000 at 10000/s over udp, tcp, netconsole
#   N=200000 RATE=40000 TRANSPORTS="udp netconsole" bench/logsink/run.sh
# PROFILE_DIR=DIR: the sink runs with `node --cpu-prof`; its .cpuprofile lands in DIR on exit.
# UDP_RECV_BUFFER=BYTES: SWARMBOOT_LOGSINK_UDP_RECV_BUFFER_BYTES of the sink (default 32 MiB; capped by rmem_max).
# RMEM_MAX=BYTES (root): net.core.rmem_max, which caps that buffer, is set to BYTES for the run and
# put back to its old value on exit.
# Prints the load average, one markdown table row per transport, the UDP datagrams the kernel
# dropped (receive buffer full: lines "lost" that the sink never saw) and the sink's own drops. Everything started is
# stopped on exit. Traffic stays on 127.0.0.1.
set -euo pipefail

N=${N:-50000}
RATE=${RATE:-10000}
TRANSPORTS=${TRANSPORTS:-"udp tcp netconsole"}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/sb-logsink-bench-XXXXXX)
pids=()

old_rmem_max=""
cleanup() {
  if [ -n "$old_rmem_max" ]; then sysctl -qw net.core.rmem_max="$old_rmem_max" || echo "could not restore net.core.rmem_max=$old_rmem_max" >&2; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# CPU seconds (user + system) the sink process has used: /proc/PID/stat fields 14 and 15, in clock ticks
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
sink_cpu() { cpu_of "$sink"; }
cpu=()
backend_cpu=()
# Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors … (the second Udp: line holds the values)
rcvbuf_errors() { awk '$1 == "Udp:" { if (seen) print $6; seen = 1 }' /proc/net/snmp; }
overflows=()
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

if [ -n "${RMEM_MAX:-}" ]; then
  old_rmem_max=$(sysctl -n net.core.rmem_max)
  sysctl -qw net.core.rmem_max="$RMEM_MAX"
fi
redis_port=$(free_port) nats_port=$(free_port) udp_port=$(free_port) tcp_port=$(free_port) nc_port=$(free_port) ops_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work" > "$work/redis.log" 2>&1 &
redis=$!
pids+=($redis)
nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" > "$work/nats.log" 2>&1 &
nats=$!
pids+=($nats)
wait_port "$redis_port"
wait_port "$nats_port"

if [ -n "${UDP_RECV_BUFFER:-}" ]; then export SWARMBOOT_LOGSINK_UDP_RECV_BUFFER_BYTES="$UDP_RECV_BUFFER"; fi
SWARMBOOT_NATS_URL="nats://127.0.0.1:$nats_port" SWARMBOOT_REDIS_URL="redis://127.0.0.1:$redis_port" \
SWARMBOOT_SYSLOG_LISTEN="127.0.0.1:$udp_port" SWARMBOOT_SYSLOG_TCP_LISTEN="127.0.0.1:$tcp_port" \
SWARMBOOT_NETCONSOLE_LISTEN="127.0.0.1:$nc_port" SWARMBOOT_OPS_LISTEN="127.0.0.1:$ops_port" \
SWARMBOOT_LOG_MAXLEN=$((N * 2)) SWARMBOOT_LOG_LEVEL=warn \
  node ${PROFILE_DIR:+--cpu-prof --cpu-prof-dir="$PROFILE_DIR"} "$REPO/cli/dist/src/main.js" logsink > "$work/logsink.log" 2>&1 &
sink=$!
pids+=($sink)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ops_port/healthz" > /dev/null && break; sleep 0.1; done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; net.core.rmem_max $(sysctl -n net.core.rmem_max)${old_rmem_max:+ (was $old_rmem_max, put back on exit)}; UDP receive buffer asked: ${UDP_RECV_BUFFER:-32 MiB, the default}"
echo "| transport | N | target/s | sent | send s | stored | lost | stored/s |"
echo "|---|---|---|---|---|---|---|---|"
for t in $TRANSPORTS; do
  case "$t" in udp) port=$udp_port ;; tcp) port=$tcp_port ;; netconsole) port=$nc_port ;; *) echo "unknown transport $t" >&2; exit 2 ;; esac
  before=$(rcvbuf_errors) cpu0=$(sink_cpu) redis0=$(cpu_of "$redis") nats0=$(cpu_of "$nats")
  row=$(cd "$REPO" && node bench/logsink/send.mjs "$t" "$port" "$N" "$RATE" "redis://127.0.0.1:$redis_port")
  echo "$row"
  overflows+=("$t $(($(rcvbuf_errors) - before))")
  stored=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $7); print $7 }')
  cpu+=("$t $(awk -v a="$cpu0" -v b="$(sink_cpu)" -v s="$stored" 'BEGIN { printf "%.2f s, %.2f s per 100 000 stored", b - a, (s > 0 ? (b - a) * 100000 / s : 0) }')")
  # redis-server also answers the sender's XLEN polls (a few per second), nats-server has no subscriber here
  backend_cpu+=("$t redis-server $(awk -v a="$redis0" -v b="$(cpu_of "$redis")" 'BEGIN { printf "%.2f", b - a }') s, nats-server $(awk -v a="$nats0" -v b="$(cpu_of "$nats")" 'BEGIN { printf "%.2f", b - a }') s")
done
echo "UDP datagrams the kernel dropped for a full receive buffer (/proc/net/snmp RcvbufErrors, whole machine): ${overflows[*]}"
echo "sink CPU (user + system, /proc/PID/stat) while each transport ran: $(IFS=';'; echo "${cpu[*]}")"
echo "redis-server and nats-server CPU (user + system) while each transport ran: $(IFS=';'; echo "${backend_cpu[*]}")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sink drops: $(curl -s "http://127.0.0.1:$ops_port/metrics" | grep '^swarmboot_logsink_dropped_total' | grep -v ' 0$' | tr '\n' ' ')"
