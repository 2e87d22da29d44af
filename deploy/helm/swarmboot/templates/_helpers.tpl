{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "swarmboot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every object. Kept to 40 characters so that "<prefix>-scheduler-metrics"
and the generated pod names stay within the limits of DNS labels.
*/}}
{{- define "swarmboot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "swarmboot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "swarmboot.labels" -}}
helm.sh/chart: {{ include "swarmboot.chart" . }}
{{ include "swarmboot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: swarmboot
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "swarmboot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "swarmboot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: (dict "root" $ "component" "tracker") */}}
{{- define "swarmboot.componentLabels" -}}
{{ include "swarmboot.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "swarmboot.componentSelectorLabels" -}}
{{ include "swarmboot.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "swarmboot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "swarmboot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "swarmboot.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret holding SWARMBOOT_NATS_URL, SWARMBOOT_REDIS_URL (and redis-password). */}}
{{- define "swarmboot.secretName" -}}
{{- default (printf "%s-connections" (include "swarmboot.fullname" .)) .Values.connections.existingSecret }}
{{- end }}

{{- define "swarmboot.natsHost" -}}
{{- printf "%s-nats.%s.svc.%s" (include "swarmboot.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "swarmboot.redisHost" -}}
{{- printf "%s-redis.%s.svc.%s" (include "swarmboot.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/* Host of a component's Service: publicHost, else the in-cluster name. (dict "root" $ "component" "scheduler") */}}
{{- define "swarmboot.publicHost" -}}
{{- if .root.Values.publicHost }}
{{- .root.Values.publicHost }}
{{- else }}
{{- printf "%s-%s.%s.svc.%s" (include "swarmboot.fullname" .root) .component .root.Release.Namespace .root.Values.clusterDomain }}
{{- end }}
{{- end }}

{{/* The URLs and addresses handed to the machines being installed. */}}
{{- define "swarmboot.schedulerPublicUrl" -}}
{{- default (printf "http://%s:%d" (include "swarmboot.publicHost" (dict "root" . "component" "scheduler")) (int .Values.scheduler.service.port)) .Values.scheduler.publicUrl | trimSuffix "/" }}
{{- end }}

{{- define "swarmboot.trackerAnnounceUrl" -}}
{{- default (printf "http://%s:%d/announce" (include "swarmboot.publicHost" (dict "root" . "component" "tracker")) (int .Values.tracker.service.port)) .Values.tracker.announceUrl }}
{{- end }}

{{- define "swarmboot.seederPublicUrl" -}}
{{- default (printf "http://%s:%d" (include "swarmboot.publicHost" (dict "root" . "component" "seeder")) (int .Values.seeder.service.port)) .Values.seeder.publicUrl | trimSuffix "/" }}
{{- end }}

{{- define "swarmboot.tftpUrl" -}}
{{- default (printf "tftp://%s:%d" (default "127.0.0.1" .Values.publicHost) (int .Values.tftp.port)) .Values.tftp.publicUrl }}
{{- end }}

{{- define "swarmboot.syslogTarget" -}}
{{- default (printf "%s:%d" (include "swarmboot.publicHost" (dict "root" . "component" "logsink")) (int .Values.logsink.service.port)) .Values.scheduler.syslogTarget }}
{{- end }}

{{/*
Pod anti-affinity preset of a replicated tier, unless the tier sets its own affinity.
(dict "root" $ "component" "tracker" "values" .Values.tracker)
*/}}
{{- define "swarmboot.affinity" -}}
{{- if .values.affinity }}
{{- toYaml .values.affinity }}
{{- else if eq .root.Values.podAntiAffinityPreset "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "swarmboot.componentSelectorLabels" . | nindent 10 }}
{{- else if eq .root.Values.podAntiAffinityPreset "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "swarmboot.componentSelectorLabels" . | nindent 12 }}
{{- end }}
{{- end }}

{{/*
Security context of a swarmboot pod. Services binding a port under 1024 on the host network
(dhcp on 67, tftp on 69) run as root with every capability dropped except NET_BIND_SERVICE:
capabilities added to a non-root container are not raised for its process (no ambient
capabilities in Kubernetes), and the host network namespace has no per-pod
ip_unprivileged_port_start. Everything else runs as the image's non-root user (uid 1000).
(dict "privilegedPort" true|false)
*/}}
{{- define "swarmboot.podSecurityContext" -}}
{{- if .privilegedPort }}
runAsUser: 0
runAsGroup: 0
runAsNonRoot: false
{{- else }}
runAsUser: 1000
runAsGroup: 1000
runAsNonRoot: true
fsGroup: 1000
fsGroupChangePolicy: OnRootMismatch
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "swarmboot.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
  {{- if .privilegedPort }}
  add: [NET_BIND_SERVICE]
  {{- end }}
{{- end }}

{{/* Environment of every swarmboot container: the shared ConfigMap and the connection URLs from the Secret. */}}
{{- define "swarmboot.envFrom" -}}
- configMapRef:
    name: {{ include "swarmboot.fullname" . }}-env
{{- end }}

{{- define "swarmboot.connectionEnv" -}}
- name: SWARMBOOT_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "swarmboot.secretName" . }}
      key: SWARMBOOT_NATS_URL
- name: SWARMBOOT_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "swarmboot.secretName" . }}
      key: SWARMBOOT_REDIS_URL
{{- end }}

{{/*
Init container that waits until every NATS and Redis URL accepts a TCP connection, so that a
fresh install does not go through CrashLoopBackOff (and its growing delays) while the bundled
servers start.
*/}}
{{- define "swarmboot.waitForDependencies" -}}
- name: wait-for-dependencies
  image: {{ include "swarmboot.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - node
    - -e
    - |
      const net = require('node:net');
      const urls = [process.env.SWARMBOOT_NATS_URL, process.env.SWARMBOOT_REDIS_URL]
        .flatMap((u) => (u || '').split(',')).map((u) => u.trim()).filter(Boolean);
      // redis+sentinel://a:26379,b:26379/name splits into 'redis+sentinel://a:26379' and 'b:26379/name'
      const defaults = { 'nats:': 4222, 'tls:': 4222, 'redis:': 6379, 'rediss:': 6379, 'redis+sentinel:': 26379 };
      const reach = (host, port) => new Promise((resolve) => {
        const s = net.connect({ host, port, timeout: 2000 });
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('timeout', () => { s.destroy(); resolve(false); });
        s.once('error', () => resolve(false));
      });
      (async () => {
        for (const raw of urls) {
          const u = new URL(raw.includes('://') ? raw : 'nats://' + raw);
          const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
          const port = Number(u.port) || defaults[u.protocol] || 4222;
          for (let i = 0; !(await reach(host, port)); i++) {
            if (i % 10 === 0) console.log('waiting for ' + u.protocol + '//' + host + ':' + port);
            await new Promise((r) => setTimeout(r, 2000));
          }
          console.log('reachable: ' + u.protocol + '//' + host + ':' + port);
        }
      })();
  env:
    {{- include "swarmboot.connectionEnv" . | nindent 4 }}
  securityContext:
    {{- include "swarmboot.containerSecurityContext" (dict) | nindent 4 }}
  resources:
    requests: { cpu: 10m, memory: 32Mi }
    limits: { memory: 96Mi }
{{- end }}

{{/* Startup, liveness and readiness probes on the ops port (named "ops"). */}}
{{- define "swarmboot.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: ops }
  {{- toYaml .Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet: { path: /metrics, port: ops }
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: { path: /healthz, port: ops }
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end }}

{{/*
The API tokens file (apiTokens.existingSecret) as a workload's extra volume, mount and env, for
the services with an API (scheduler, seeder): (dict "root" $) → a dict of three lists, empty
when no Secret is named. Used with fromYaml.
*/}}
{{- define "swarmboot.apiTokens" -}}
{{- $t := .root.Values.apiTokens -}}
{{- if $t.existingSecret -}}
volumes:
  - name: api-tokens
    # 292 = 0444: the service runs as uid 1000, the files are root's
    secret: { secretName: {{ $t.existingSecret | quote }}, defaultMode: 292 }
volumeMounts:
  - name: api-tokens
    mountPath: /etc/swarmboot/tokens
    readOnly: true
env:
  - name: SWARMBOOT_TOKENS_FILE
    value: {{ printf "/etc/swarmboot/tokens/%s" $t.key | quote }}
{{- else -}}
volumes: []
volumeMounts: []
env: []
{{- end -}}
{{- end }}
