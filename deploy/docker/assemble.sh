#!/bin/sh
# Assembles the runtime tree of the swarmboot image from a built checkout (after `npm ci` and
# `npm run build`): prunes to production dependencies and copies into OUT the root manifests,
# node_modules (workspaces are symlinks into it) and, per workspace, its package.json,
# node_modules, compiled dist/src and its rules/ and ui/ directories if it has them. Sources, tests and build
# info stay behind.
#
# Used by the Dockerfile's build stage and by scripts/validate-deploy.sh (which runs the result
# without Docker), so both check the same tree.
#
#   sh deploy/docker/assemble.sh OUT        (run from the repository root)
set -eu
out="${1:?usage: assemble.sh OUT}"
[ -f package.json ] && [ -d node_modules ] || { echo "assemble.sh: run from a built repository root" >&2; exit 1; }

# A workspace that other workspaces list only as a devDependency (the test kit) is dropped from
# the workspace list first: npm treats the dependencies of every workspace as production ones.
node -e '
const fs = require("node:fs");
const root = JSON.parse(fs.readFileSync("package.json", "utf8"));
const pkgs = root.workspaces.map((dir) => ({ dir, pkg: JSON.parse(fs.readFileSync(dir + "/package.json", "utf8")) }));
const needed = new Set(pkgs.flatMap(({ pkg }) => Object.keys(pkg.dependencies || {})));
const keep = pkgs.filter(({ dir, pkg }) => dir === "cli" || needed.has(pkg.name)).map(({ dir }) => dir);
const dropped = root.workspaces.filter((w) => !keep.includes(w));
if (dropped.length) console.error("assemble.sh: not shipped (development only): " + dropped.join(" "));
root.workspaces = keep;
fs.writeFileSync("package.json", JSON.stringify(root, null, 2) + "\n");
'
npm prune --omit=dev --no-audit --no-fund
mkdir -p "$out"
cp -a package.json package-lock.json node_modules "$out/"
node -e "for (const w of require('./package.json').workspaces) console.log(w)" | while read -r ws; do
  mkdir -p "$out/$ws/dist"
  cp -a "$ws/package.json" "$out/$ws/"
  if [ -d "$ws/node_modules" ]; then cp -a "$ws/node_modules" "$out/$ws/"; fi
  if [ -d "$ws/dist/src" ]; then cp -a "$ws/dist/src" "$out/$ws/dist/"; fi
  # data a workspace reads at run time next to its dist (the log sink's failure rules, the scheduler's dashboard)
  if [ -d "$ws/rules" ]; then cp -a "$ws/rules" "$out/$ws/"; fi
  if [ -d "$ws/ui" ]; then cp -a "$ws/ui" "$out/$ws/"; fi
done
test -f "$out/cli/dist/src/main.js" || { echo "assemble.sh: cli/dist/src/main.js is missing (did the build run?)" >&2; exit 1; }
# tsc does not set the executable bit on the bin
chmod 0755 "$out/cli/dist/src/main.js"
