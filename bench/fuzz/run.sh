#!/usr/bin/env bash
# Codec fuzzing at scale (issue 15): the fast-check suites of the test suite, NUM_RUNS cases per
# codec (split evenly among its properties), one codec after another, niced.
#   bench/fuzz/run.sh [NUM_RUNS (default 1000000)] [SEED (default: random)] [CODEC…]
# PROPERTY=text runs only the properties whose names contain it (NUM_RUNS go to those alone).
# Needs `npx tsc -b` first (it runs the compiled suites); the tracker suite starts redis-server.
# Prints each codec's cases, crashes and the seed; exits non-zero when any codec failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
NUM_RUNS=${1:-1000000}
SEED=${2:-$(( (RANDOM << 15) | RANDOM ))}
shift $(( $# < 2 ? $# : 2 ))
CODECS=("$@")
[ ${#CODECS[@]} -eq 0 ] && CODECS=(dhcp tftp syslog netconsole tracker torrent node-csv)
# a hang is a failure too: no codec gets more than this (s)
LIMIT=${FUZZ_TIME_LIMIT:-7200}
echo "fuzz: ${NUM_RUNS} cases per codec, seed ${SEED}, codecs ${CODECS[*]}"
failed=()
start=$(date +%s)
for c in "${CODECS[@]}"; do
  t0=$(date +%s)
  if ! nice -n 10 timeout "$LIMIT" node bench/fuzz/run.mjs "$c" "$NUM_RUNS" "$SEED"; then failed+=("$c"); fi
  echo "  ${c}: $(( $(date +%s) - t0 )) s wall"
done
echo "fuzz: ${#CODECS[@]} codecs, ${#failed[@]} failed${failed:+ (${failed[*]})}, seed ${SEED}, $(( $(date +%s) - start )) s wall"
[ ${#failed[@]} -eq 0 ]
