{{/*
The workload of one swarmboot service: `swarmboot <component>` in the shared image, configured
by the shared ConfigMap and the connection Secret, with its ops endpoint on the port named "ops".

(dict
  "root" $                      the chart context
  "component" "tracker"         service name, also the CLI subcommand
  "values" .Values.tracker      the component's values (replicas, opsPort, resources, ...)
  "kind" "Deployment"           or "DaemonSet", or "StatefulSet" (its Service is the component's)
  "hostNetwork" false
  "privilegedPort" false        true: runs as root with NET_BIND_SERVICE only (see _helpers.tpl)
  "ports" (list (dict "name" "http" "containerPort" 8000 "protocol" "TCP"))
  "volumes" (list ...)          extra pod volumes
  "volumeMounts" (list ...)
  "env" (list ...)              extra container env entries
  "recreate" false              Deployment strategy Recreate (a ReadWriteOnce volume)
  "volumeClaimTemplates" (list ...)  StatefulSet: a claim per pod
  "antiAffinity" true           apply podAntiAffinityPreset)
*/}}
{{- define "swarmboot.workload" -}}
{{- $root := .root -}}
{{- $v := .values -}}
{{- $sel := dict "root" $root "component" .component -}}
apiVersion: apps/v1
kind: {{ .kind }}
metadata:
  name: {{ include "swarmboot.fullname" $root }}-{{ .component }}
  labels:
    {{- include "swarmboot.componentLabels" $sel | nindent 4 }}
spec:
  {{- if eq .kind "Deployment" }}
  replicas: {{ $v.replicas }}
  {{- if .recreate }}
  strategy:
    type: Recreate
  {{- else if .hostNetwork }}
  # two pods of a host-network service cannot share a node's ports: replace, do not surge
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxSurge: 0, maxUnavailable: 1 }
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
  {{- end }}
  {{- else if eq .kind "StatefulSet" }}
  replicas: {{ $v.replicas }}
  serviceName: {{ include "swarmboot.fullname" $root }}-{{ .component }}
  # the pods do not depend on each other: start and replace them together, not one by one
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  {{- else }}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: { maxUnavailable: 1 }
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "swarmboot.componentSelectorLabels" $sel | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "swarmboot.componentSelectorLabels" $sel | nindent 8 }}
        app.kubernetes.io/part-of: swarmboot
        swarmboot.io/ops: "true"
      annotations:
        checksum/env: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- if not $root.Values.connections.existingSecret }}
        checksum/connections: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
        {{- end }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "swarmboot.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- if .hostNetwork }}
      hostNetwork: true
      # resolve the NATS and Redis Services from the host network
      dnsPolicy: ClusterFirstWithHostNet
      {{- end }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "swarmboot.podSecurityContext" (dict "privilegedPort" .privilegedPort) | trim | nindent 8 }}
      {{- if $root.Values.waitForDependencies }}
      initContainers:
        {{- include "swarmboot.waitForDependencies" $root | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "swarmboot.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ .component | quote }}]
          envFrom:
            {{- include "swarmboot.envFrom" $root | nindent 12 }}
          env:
            {{- include "swarmboot.connectionEnv" $root | nindent 12 }}
            - name: SWARMBOOT_OPS_LISTEN
              value: "0.0.0.0:{{ $v.opsPort }}"
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .containerPort }}
              protocol: {{ .protocol }}
            {{- end }}
            - name: ops
              containerPort: {{ $v.opsPort }}
              protocol: TCP
          {{- include "swarmboot.probes" $root | nindent 10 }}
          securityContext:
            {{- include "swarmboot.containerSecurityContext" (dict "privilegedPort" .privilegedPort) | trim | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: { sizeLimit: 256Mi }
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .antiAffinity }}
      {{- with include "swarmboot.affinity" (dict "root" $root "component" .component "values" $v) }}
      affinity:
        {{- . | nindent 8 }}
      {{- end }}
      {{- else }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- end }}
  {{- with .volumeClaimTemplates }}
  volumeClaimTemplates:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The Service of a replicated tier. (dict "root" $ "component" "tracker" "service" .Values.tracker.service
"ports" (list (dict "name" "http" "port" 8000 "targetPort" "http" "protocol" "TCP")))
*/}}
{{- define "swarmboot.service" -}}
{{- $root := .root -}}
{{- $s := .service -}}
{{- $sel := dict "root" $root "component" .component -}}
{{- $external := or (eq $s.type "NodePort") (eq $s.type "LoadBalancer") -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "swarmboot.fullname" $root }}-{{ .component }}
  labels:
    {{- include "swarmboot.componentLabels" $sel | nindent 4 }}
  {{- with $s.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $s.type }}
  {{- if $external }}
  externalTrafficPolicy: {{ $s.externalTrafficPolicy }}
  {{- end }}
  {{- if and (eq $s.type "LoadBalancer") $s.loadBalancerClass }}
  loadBalancerClass: {{ $s.loadBalancerClass }}
  {{- end }}
  selector:
    {{- include "swarmboot.componentSelectorLabels" $sel | nindent 4 }}
  ports:
    {{- range $i, $p := .ports }}
    - name: {{ $p.name }}
      port: {{ $p.port }}
      targetPort: {{ $p.targetPort }}
      protocol: {{ $p.protocol }}
      {{- if and $external (eq $i 0) $s.nodePort }}
      nodePort: {{ $s.nodePort }}
      {{- end }}
    {{- end }}
{{- end }}
