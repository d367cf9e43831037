{{/* Names and labels shared by every template. */}}

{{- define "droptrace.name" -}}droptrace{{- end -}}

{{- define "droptrace.fullname" -}}
{{- if contains "droptrace" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-droptrace" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "droptrace.labels" -}}
app.kubernetes.io/name: droptrace
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "droptrace.controllerSelector" -}}
app.kubernetes.io/name: droptrace
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "droptrace.controllerServiceAccount" -}}{{ include "droptrace.fullname" . }}-controller{{- end -}}
{{- define "droptrace.agentServiceAccount" -}}{{ include "droptrace.fullname" . }}-agent{{- end -}}

{{- define "droptrace.image" -}}
{{- printf "%s:%s" .image.repository (default .chart.AppVersion .image.tag) -}}
{{- end -}}
