# Shared shell of the benches that run inside network namespaces (bench/tftp, bench/faults,
# bench/admission). Source it; the lossy_* functions take the namespace first.
#
# A lossy link: an nftables table `sbbench` in NS whose output chain counts the datagrams that
# MATCH (counter `sent`) and, while the loss is on, drops LOSS % of them at random (counter
# `dropped`). No netem on this kernel: `numgen random` is the loss. MATCH is an nft expression
# (e.g. "meta l4proto udp"); SET, when given, is an nft statement applied to every matched
# datagram (e.g. "meta priority set 1:10", which puts it in that htb class: this kernel has no tc
# classifiers, and htb takes skb->priority as a class id before any filter).

# lossy_init NS MATCH [SET]: the table and the counting rule, loss off
lossy_init() {
  local ns=$1 match=$2 set=${3:-}
  ip netns exec "$ns" nft -f - <<NFT
table inet sbbench {
  counter sent {}
  counter dropped {}
  chain out {
    type filter hook output priority 0;
    $match ${set} counter name sent
  }
}
NFT
}

# lossy_on NS MATCH LOSS: drop LOSS % of the matched datagrams from now on
lossy_on() { ip netns exec "$1" nft add rule inet sbbench out $2 numgen random mod 100 '<' "$3" counter name dropped drop; }

# lossy_off NS MATCH [SET]: back to counting only (the readiness probes of a run meet no loss)
lossy_off() {
  ip netns exec "$1" nft flush chain inet sbbench out
  ip netns exec "$1" nft add rule inet sbbench out $2 ${3:-} counter name sent
}

# lossy_count NS sent|dropped: packets counted so far
lossy_count() { ip netns exec "$1" nft list counter inet sbbench "$2" | grep -o 'packets [0-9]*' | cut -d' ' -f2; }

# lossy_reset NS: both counters to 0
lossy_reset() { ip netns exec "$1" nft reset counters table inet sbbench > /dev/null; }

# netns_remove NS...: kill what still runs in each namespace, then delete it (for an EXIT trap)
netns_remove() {
  local ns
  for ns in "$@"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

# keep_runs WORK [EXCLUDE...]: with KEEP set, copies WORK/run-* (logs, outputs, AOF) into KEEP,
# leaving out the paths EXCLUDE names (tar --exclude patterns: the nodes' disks, data dirs)
keep_runs() {
  local work=$1
  shift
  [ -n "${KEEP:-}" ] || return 0
  mkdir -p "$KEEP"
  local ex=()
  for e in "$@"; do ex+=(--exclude="$e"); done
  (cd "$work" && tar "${ex[@]}" -cf - run-*) | tar -C "$KEEP" -xf - || true
}
