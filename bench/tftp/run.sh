#!/usr/bin/env bash
# TFTP bench: K concurrent clients fetch one file from swarmboot tftp, tftpd-hpa and dnsmasq, each
# in turn behind the same shaped, lossy link, with the same clients (bench/tftp/clients.mjs:
# swarmboot's tftpGet, lock-step or RFC 7440 windowsize, blksize 1432, 1 s timeout, 10 retries).
#
#   server netns (198.18.0.1) --veth, tbf RATE on the server side, LOSS % of the server's UDP
#   datagrams dropped by nftables on output-- client netns (198.18.0.2)
#
# Usage (root, from the repo root, after `npx tsc -b services/tftp cli`):
#   bench/tftp/run.sh                         # K=50 and 200, windowsize 1 and 8, 3 servers
#   KS="50" WINDOWS="1" SERVERS="swarmboot" SIZE_MB=4 bench/tftp/run.sh
# Env: FILE (default ~/.cache/swarmboot/tftp/debian/initrd.gz), SIZE_MB (serve only the first
# SIZE_MB MiB of it; 0 = whole file), RATE (tbf, default 1gbit), LOSS (%, default 1),
# SB_RATE (swarmboot's SWARMBOOT_TFTP_RATE, bytes/s; default 95 % of 1 Gbit/s), BLKSIZE (1432).
# Prints one markdown table row per run. Namespaces and processes are removed on exit.
set -euo pipefail

KS=${KS:-"50 200"}
WINDOWS=${WINDOWS:-"1 8"}
SERVERS=${SERVERS:-"swarmboot tftpd-hpa dnsmasq"}
FILE=${FILE:-$HOME/.cache/swarmboot/tftp/debian/initrd.gz}
SIZE_MB=${SIZE_MB:-0}
RATE=${RATE:-1gbit}
LOSS=${LOSS:-1}
SB_RATE=${SB_RATE:-118750000}
BLKSIZE=${BLKSIZE:-1432}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/netns.sh
. "$REPO/bench/lib/netns.sh"

tag="sbtb-$$"
S="$tag-s" C="$tag-c"
SDEV="sbtb$$s" CDEV="sbtb$$c"
SIP=198.18.0.1 CIP=198.18.0.2
work=$(mktemp -d /tmp/sb-tftp-bench-XXXXXX)
server_pid=""

cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  netns_remove "$S" "$C"
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/root"
head -c 3000 /dev/urandom > "$work/root/probe.bin"
probe_sha=$(sha256sum "$work/root/probe.bin" | cut -d' ' -f1)
chmod 755 "$work" "$work/root"  # tftpd-hpa drops to user tftp: the root must be readable by it
if [ "$SIZE_MB" -gt 0 ]; then head -c $((SIZE_MB * 1048576)) "$FILE" > "$work/root/initrd.gz"; else cp "$FILE" "$work/root/initrd.gz"; fi
size=$(stat -c %s "$work/root/initrd.gz")
sha=$(sha256sum "$work/root/initrd.gz" | cut -d' ' -f1)
blocks=$((size / BLKSIZE + 1))

ip netns add "$S"
ip netns add "$C"
ip link add "$SDEV" netns "$S" type veth peer name "$CDEV" netns "$C"
ip -n "$S" addr add "$SIP/30" dev "$SDEV"; ip -n "$S" link set "$SDEV" up; ip -n "$S" link set lo up
ip -n "$C" addr add "$CIP/30" dev "$CDEV"; ip -n "$C" link set "$CDEV" up; ip -n "$C" link set lo up
ip netns exec "$S" tc qdisc replace dev "$SDEV" root tbf rate "$RATE" burst 256kb latency 20ms
# counters: every UDP datagram the server's processes send, and those dropped for the loss (the
# drop rule is only there while clients measure, so the readiness probe never meets loss)
MATCH="meta l4proto udp"
lossy_init "$S" "$MATCH"

start_server() {
  case "$1" in
    swarmboot)
      ip netns exec "$S" env SWARMBOOT_LOG_LEVEL=warn node "$REPO/cli/dist/src/main.js" tftp --root "$work/root" --listen "$SIP:69" --rate "$SB_RATE" > "$work/server.log" 2>&1 &
      ;;
    tftpd-hpa)
      ip netns exec "$S" in.tftpd -L -s "$work/root" -a "$SIP:69" > "$work/server.log" 2>&1 &
      ;;
    dnsmasq)
      # port=0: no DNS; no DHCP option given: no DHCP; tftp-max raised from 50 so no client is turned away
      ip netns exec "$S" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$work/root" \
        --listen-address="$SIP" --bind-interfaces --tftp-max=1000 --quiet-tftp --user=root --pid-file="$work/dnsmasq.pid" > "$work/server.log" 2>&1 &
      ;;
  esac
  server_pid=$!
  # ready when a 1-client fetch works
  for _ in $(seq 1 5); do
    if ip netns exec "$C" node "$REPO/bench/tftp/clients.mjs" "$SIP" 69 probe.bin 1 1 "$BLKSIZE" "$probe_sha" 300 2>/dev/null | grep -q '"completed":1'; then return 0; fi
    sleep 0.2
  done
  echo "server $1 did not come up:" >&2; cat "$work/server.log" >&2; ip netns exec "$S" ss -uapn >&2; ls -la "$work" "$work/root" >&2
  return 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  ip netns pids "$S" | xargs -r kill 2>/dev/null || true
  sleep 0.3
}

echo "file: $size bytes ($blocks blocks of $BLKSIZE), link $RATE, loss $LOSS %, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| server | K | windowsize | completed | failed | p50 s | p99 s | makespan s | server datagrams | retransmitted | dropped by loss |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for server in $SERVERS; do
  for w in $WINDOWS; do
    for k in $KS; do
      start_server "$server"
      lossy_reset "$S"
      lossy_on "$S" "$MATCH" "$LOSS"
      out=$(ip netns exec "$C" node "$REPO/bench/tftp/clients.mjs" "$SIP" 69 initrd.gz "$k" "$w" "$BLKSIZE" "$sha")
      lossy_off "$S" "$MATCH"
      sent=$(lossy_count "$S" sent)
      dropped=$(lossy_count "$S" dropped)
      stop_server
      # the ideal: one OACK and every DATA block once per client; everything beyond was resent
      node -e '
        const r = JSON.parse(process.argv[1]); const [server, k, w, sent, dropped, blocks] = process.argv.slice(2);
        const ideal = Number(k) * (Number(blocks) + 1);
        const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
        // with failed clients the ideal is unknown (they stopped early): no resend count then
        const resent = r.failed > 0 ? "-" : String(Number(sent) - ideal);
        const granted = r.granted.length && r.granted.join("/") !== w ? ` (granted ${r.granted.join("/")})` : "";
        console.log(`| ${server} | ${k} | ${w}${granted} | ${r.completed} | ${r.failed} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.makespan)} | ${sent} | ${resent} | ${dropped} |` + (r.errors.length ? ` ${r.errors.join("; ")}` : ""));
      ' "$out" "$server" "$k" "$w" "$sent" "$dropped" "$blocks"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
