package agents

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// Namespace is where the agent is installed.
const Namespace = "astro-agent"

// ManifestParams are what an agent's install manifest is made of.
type ManifestParams struct {
	ClusterID   string
	ClusterName string
	// Image is the agent's container image (configuration: ASTRO_AGENT_IMAGE), e.g.
	// ghcr.io/astropulse/astro-agent:v1.2.3; one multi-arch image or per-arch tags.
	Image string
	// Architecture is amd64 or arm64 (the nodes the Deployment is scheduled on).
	Architecture string
	// Endpoint is the tunnel endpoint the agent dials (https://HOST:PORT).
	Endpoint string
	// CAPEM is the tunnel CA the agent trusts the endpoint with.
	CAPEM []byte
	// Token is the one-time registration token; "" in a dry run (a placeholder is
	// written, to be replaced by a real registration's).
	Token string
}

// TokenPlaceholder stands in for the token in a dry run's manifest.
const TokenPlaceholder = "REPLACED-BY-A-REAL-REGISTRATION" //nolint:gosec // G101: a placeholder, not a credential

// Manifest is the agent's install manifest: its namespace, a ServiceAccount bound to
// exactly what the platform does through the tunnel (read nodes for the cluster's
// facts; namespaces, Argo CD Applications for deploys; pods, logs and events for the
// application streams; its own Secret, to keep its certificate; deleting its own
// namespace and binding, to be unregistered), the Secret holding
// the one-time token and the CA, and the Deployment (one replica: one tunnel) on nodes
// of the architecture. The agent listens on no port and no Service exposes it.
func Manifest(p ManifestParams) (string, error) {
	if p.Architecture != "amd64" && p.Architecture != "arm64" {
		return "", fmt.Errorf("architecture: %q is neither amd64 nor arm64", p.Architecture)
	}
	if p.Token == "" {
		p.Token = TokenPlaceholder
	}
	var b bytes.Buffer
	err := manifestTmpl.Execute(&b, map[string]any{
		"P": p, "NS": Namespace, "CA": indent(string(p.CAPEM), 4),
	})
	return b.String(), err
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pad + strings.Join(lines, "\n"+pad)
}

var manifestTmpl = template.Must(template.New("agent").Parse(`# Astro Plane agent for cluster {{.P.ClusterName}} ({{.P.ClusterID}}).
# Apply with: kubectl apply -f THIS_FILE
# The token in the Secret works once and expires; the agent then keeps its
# certificate in the Secret astro-agent-cert.
apiVersion: v1
kind: Namespace
metadata:
  name: {{.NS}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: astro-agent
  namespace: {{.NS}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: astro-agent
rules:
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["get", "list"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: [""]
  resources: ["pods", "pods/log", "events"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["argoproj.io"]
  resources: ["applications"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Unregistering removes the agent through its own tunnel: its namespace, then this binding.
- apiGroups: [""]
  resources: ["namespaces"]
  resourceNames: ["{{.NS}}"]
  verbs: ["delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterrolebindings"]
  resourceNames: ["astro-agent"]
  verbs: ["delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: astro-agent
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: astro-agent
subjects:
- kind: ServiceAccount
  name: astro-agent
  namespace: {{.NS}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: astro-agent-cert
  namespace: {{.NS}}
rules:
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: ["astro-agent-cert"]
  verbs: ["get", "update", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: astro-agent-cert
  namespace: {{.NS}}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: astro-agent-cert
subjects:
- kind: ServiceAccount
  name: astro-agent
  namespace: {{.NS}}
---
apiVersion: v1
kind: Secret
metadata:
  name: astro-agent-registration
  namespace: {{.NS}}
type: Opaque
stringData:
  token: "{{.P.Token}}"
  ca.pem: |
{{.CA}}
---
apiVersion: v1
kind: Secret
metadata:
  name: astro-agent-cert
  namespace: {{.NS}}
type: Opaque
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: astro-agent
  namespace: {{.NS}}
  labels:
    app.kubernetes.io/name: astro-agent
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app.kubernetes.io/name: astro-agent
  template:
    metadata:
      labels:
        app.kubernetes.io/name: astro-agent
    spec:
      serviceAccountName: astro-agent
      nodeSelector:
        kubernetes.io/arch: {{.P.Architecture}}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: agent
        image: {{.P.Image}}
        env:
        - name: ASTRO_AGENT_ENDPOINT
          value: "{{.P.Endpoint}}"
        - name: ASTRO_AGENT_CA_FILE
          value: /etc/astro-agent/registration/ca.pem
        - name: ASTRO_AGENT_TOKEN_FILE
          value: /etc/astro-agent/registration/token
        - name: ASTRO_AGENT_CERT_SECRET
          value: astro-agent-cert
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        volumeMounts:
        - name: registration
          mountPath: /etc/astro-agent/registration
          readOnly: true
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: ["ALL"]
        resources:
          requests: {cpu: 10m, memory: 32Mi}
          limits: {memory: 128Mi}
      volumes:
      - name: registration
        secret:
          secretName: astro-agent-registration
`))
