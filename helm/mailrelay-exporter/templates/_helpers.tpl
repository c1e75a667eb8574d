{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "mailrelay-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already holds the chart's. */}}
{{- define "mailrelay-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mailrelay-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mailrelay-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "mailrelay-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mailrelay-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mailrelay-exporter.labels" -}}
helm.sh/chart: {{ include "mailrelay-exporter.chart" . }}
{{ include "mailrelay-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "mailrelay-exporter.name" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mailrelay-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mailrelay-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mailrelay-exporter.image" -}}
{{- $repository := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Where the config file is mounted; the image's default --config.file. */}}
{{- define "mailrelay-exporter.configDir" -}}
/etc/mailrelay-exporter
{{- end }}

{{/*
The folders the exporter reads and writes, from the config (paths in the container).
Fails on relative paths: a mount point must be absolute.
*/}}
{{- define "mailrelay-exporter.checkPath" -}}
{{- if not (isAbs .path) }}
{{- fail (printf "config.%s must be an absolute path inside the container (the chart mounts a volume there), got %q" .key .path) }}
{{- end }}
{{- end }}

{{/* The exporter's container, shared by the Deployment, the DaemonSet and the sidecar snippet in NOTES. */}}
{{- define "mailrelay-exporter.container" -}}
{{- $icewarp := .Values.config.icewarp | default dict -}}
{{- $postfix := .Values.config.postfix | default dict -}}
{{- $sidecar := eq .Values.kind "Sidecar" -}}
name: exporter
image: {{ include "mailrelay-exporter.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
args:
  - --config.file={{ include "mailrelay-exporter.configDir" . }}/config.yml
  - --web.listen-address=:{{ .Values.containerPort }}
  - --web.telemetry-path={{ .Values.telemetryPath }}
  - --log.level={{ .Values.logLevel }}
  {{- range .Values.extraArgs }}
  - {{ . | quote }}
  {{- end }}
{{- with .Values.extraEnv }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
ports:
  - name: http
    containerPort: {{ .Values.containerPort }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /-/healthy
    port: http
  {{- with .Values.livenessProbe }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
readinessProbe:
  httpGet:
    path: /-/ready
    port: http
  {{- with .Values.readinessProbe }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: exporter-config
    mountPath: {{ include "mailrelay-exporter.configDir" . }}
    readOnly: true
  {{- with $icewarp.log_directory }}
  {{- include "mailrelay-exporter.checkPath" (dict "key" "icewarp.log_directory" "path" .) }}
  - name: {{ ternary $.Values.icewarp.logs.volume "icewarp-logs" $sidecar }}
    mountPath: {{ . }}
    {{- with $.Values.icewarp.logs.subPath }}
    subPath: {{ . }}
    {{- end }}
    readOnly: true
  {{- end }}
  {{- with $icewarp.mail_directory }}
  {{- include "mailrelay-exporter.checkPath" (dict "key" "icewarp.mail_directory" "path" .) }}
  - name: {{ ternary $.Values.icewarp.mail.volume "icewarp-mail" $sidecar }}
    mountPath: {{ . }}
    {{- with $.Values.icewarp.mail.subPath }}
    subPath: {{ . }}
    {{- end }}
    readOnly: true
  {{- end }}
  {{- with $postfix.log_file }}
  {{- include "mailrelay-exporter.checkPath" (dict "key" "postfix.log_file" "path" .) }}
  {{- /* The folder of the mail log: its rotations (mail.log.1 …) are read too. */}}
  - name: {{ ternary $.Values.postfix.logs.volume "postfix-logs" $sidecar }}
    mountPath: {{ dir . }}
    {{- with $.Values.postfix.logs.subPath }}
    subPath: {{ . }}
    {{- end }}
    readOnly: true
  {{- end }}
  {{- with .Values.config.positions_file }}
  {{- include "mailrelay-exporter.checkPath" (dict "key" "positions_file" "path" .) }}
  - name: exporter-positions
    mountPath: {{ dir . }}
  {{- end }}
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* A read-only folder of the MTA's (IceWarp's logs or mail, Postfix's log): an existing PVC, else a hostPath. */}}
{{- define "mailrelay-exporter.icewarpVolume" -}}
- name: {{ .name }}
  {{- if .source.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .source.existingClaim }}
    readOnly: true
  {{- else if .source.hostPath }}
  hostPath:
    path: {{ .source.hostPath }}
    type: Directory
  {{- else }}
  {{- $mta := .mta | default "icewarp" }}
  {{- fail (printf "%s.%s: set existingClaim or hostPath (or drop config.%s.%s)" $mta .key $mta .configKey) }}
  {{- end }}
{{- end }}

{{/* The volumes behind the container's mounts (not in Sidecar mode: IceWarp's pod has them). */}}
{{- define "mailrelay-exporter.volumes" -}}
{{- $icewarp := .Values.config.icewarp | default dict -}}
- name: exporter-config
  configMap:
    name: {{ include "mailrelay-exporter.fullname" . }}
{{- if $icewarp.log_directory }}
{{ include "mailrelay-exporter.icewarpVolume" (dict "name" "icewarp-logs" "key" "logs" "configKey" "log_directory" "source" .Values.icewarp.logs) }}
{{- end }}
{{- if $icewarp.mail_directory }}
{{ include "mailrelay-exporter.icewarpVolume" (dict "name" "icewarp-mail" "key" "mail" "configKey" "mail_directory" "source" .Values.icewarp.mail) }}
{{- end }}
{{- if (.Values.config.postfix | default dict).log_file }}
{{ include "mailrelay-exporter.icewarpVolume" (dict "name" "postfix-logs" "mta" "postfix" "key" "logs" "configKey" "log_file" "source" .Values.postfix.logs) }}
{{- end }}
{{- if .Values.config.positions_file }}
- name: exporter-positions
  {{- if .Values.positions.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.positions.existingClaim }}
  {{- else if .Values.positions.hostPath }}
  hostPath:
    path: {{ .Values.positions.hostPath }}
    type: DirectoryOrCreate
  {{- else }}
  emptyDir:
    {{- toYaml (.Values.positions.emptyDir | default dict) | nindent 4 }}
  {{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The pod template of the Deployment and the DaemonSet. */}}
{{- define "mailrelay-exporter.podTemplate" -}}
metadata:
  labels:
    {{- include "mailrelay-exporter.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A config change rolls the pods.
    checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "mailrelay-exporter.serviceAccountName" . }}
  # The exporter never talks to the Kubernetes API.
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - {{ include "mailrelay-exporter.container" . | indent 6 | trim }}
  volumes:
    {{- include "mailrelay-exporter.volumes" . | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* Checks across values that the schema cannot express. */}}
{{- define "mailrelay-exporter.validate" -}}
{{- if and .Values.config.icewarp .Values.config.postfix }}
{{- fail "config: set one MTA section, icewarp or postfix (for Postfix, set config.icewarp to null)" }}
{{- end }}
{{- if and (eq .Values.kind "Sidecar") (.Values.config.postfix | default dict).log_file (not .Values.postfix.logs.volume) }}
{{- fail "kind Sidecar: set postfix.logs.volume to the Postfix pod's volume that holds the mail log folder (or drop config.postfix.log_file)" }}
{{- end }}
{{- if eq .Values.kind "Sidecar" }}
{{- if not .Values.sidecar.selectorLabels }}
{{- fail "kind Sidecar: set sidecar.selectorLabels to the IceWarp pods' labels, for the Service" }}
{{- end }}
{{- $icewarp := .Values.config.icewarp | default dict }}
{{- if and $icewarp.log_directory (not .Values.icewarp.logs.volume) }}
{{- fail "kind Sidecar: set icewarp.logs.volume to the IceWarp pod's volume that holds the log folder (or drop config.icewarp.log_directory)" }}
{{- end }}
{{- if and $icewarp.mail_directory (not .Values.icewarp.mail.volume) }}
{{- fail "kind Sidecar: set icewarp.mail.volume to the IceWarp pod's volume that holds the mail folder (or drop config.icewarp.mail_directory)" }}
{{- end }}
{{- end }}
{{- end }}
