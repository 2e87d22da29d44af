#!/usr/bin/env bash
# The test command of the README and of CI: installs what is missing (Debian packages, npm
# dependencies, the sample image), builds, lints, and runs every test with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# sushy-tools, pyghmi (PyPI, in a venv) and ipmitool: the BMC simulators of the power tests
bash scripts/install-power-test-tools.sh >/dev/null
bash scripts/build-assets.sh --sample-only >/dev/null
npm run build --silent
# ESLint (eslint.config.js): no-floating-promises, import/no-cycle; a finding fails the run.
npm run lint --silent
mapfile -t files < <(find packages services agent cli -path '*/node_modules' -prune -o -path '*/dist/test/*' -name '*.test.js' -print | sort)
# Integration tests start their own servers on free ports; one file at a time keeps two cores calm.
# --test-timeout bounds each file as a whole (node 20): 20 min, for the VM tests (demo --vms: about
# 4 min for one BIOS VM here); each test declares its own, tighter bound.
exec node --test --test-concurrency=1 --test-timeout=1200000 "${files[@]}"
