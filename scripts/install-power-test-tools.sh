#!/usr/bin/env bash
# The simulators the power service's integration tests drive (services/power/test/integration):
# ipmitool (Debian) — the power service's IPMI driver runs it; sushy-tools (the DMTF Redfish
# emulator OpenStack Ironic and Metal3 test with) and pyghmi (an IPMI 2.0 BMC, server side) from
# PyPI, into a venv under ~/.cache/swarmboot (Debian 12's Python is externally managed, PEP 668).
# Prints the venv's bin directory. Idempotent: skips what is there.
set -euo pipefail
venv="${SWARMBOOT_POWER_VENV:-$HOME/.cache/swarmboot/power-venv}"
if ! command -v ipmitool >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "install-power-test-tools: apt-get install ipmitool" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends ipmitool >&2 \
    || { $sudo apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends ipmitool >&2; }
fi
if [ ! -x "$venv/bin/sushy-emulator" ] || ! "$venv/bin/python3" -c 'import pyghmi.ipmi.bmc' 2>/dev/null; then
  echo "install-power-test-tools: pip install sushy-tools pyghmi into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q sushy-tools pyghmi >&2
fi
echo "$venv/bin"
