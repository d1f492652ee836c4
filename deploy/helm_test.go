package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/internal/testreq"
)

const (
	chartPath = "helm/astroplane"
	release   = "astro"
	namespace = "astro-system"
)

// Distinctive secret values: each may appear in a Secret and nowhere else.
const (
	dbPassword    = "pg-Pa55word-in-url"
	encryptionKey = "kZb7aZJyKwZN/WSzEeQMb56oMhQCtuYqeDctmrDRcnU="
	signingKey    = "iLRwn3PIS69mFXezv1Kq38UZuJFO8zcma6y1-dDMHPnqj-qf"
	bootstrapKey  = "bootstrap-key-0123456789-abcdefghijklmnop"
	smtpPassword  = "smtp-Pa55word-xyz"
	temporalKey   = "temporal-cloud-api-key-xyz"
)

var secretValues = []string{dbPassword, encryptionKey, signingKey, bootstrapKey, smtpPassword, temporalKey}

// The value sets every test renders: what the README's install names, everything
// switched on, and the user's own Secrets.
var (
	minimalValues = map[string]any{
		"database": map[string]any{"url": "postgres://astro:" + dbPassword + "@db.example:5432/astroplane?sslmode=require"},
	}
	fullValues = map[string]any{
		"image": map[string]any{"repository": "registry.example/astroplane", "tag": "v1.2.3", "pullPolicy": "Always"},
		"temporal": map[string]any{"address": "temporal.example:7233", "namespace": "astro", "taskQueue": "astro-q",
			"tls": map[string]any{"enabled": true, "serverName": "frontend.temporal.internal", "secretName": "temporal-client-tls"}},
		"database": map[string]any{"url": "postgresql://astro:" + dbPassword + "@db.example:5432/astroplane?sslmode=verify-full"},
		"secrets": map[string]any{"encryptionKey": encryptionKey, "approvalSigningKey": signingKey,
			"bootstrapAPIKey": bootstrapKey, "smtpPassword": smtpPassword, "temporalAPIKey": temporalKey},
		"config": map[string]any{
			"logLevel": "debug", "publicURL": "https://astro.example.com", "trustedProxies": "10.0.0.0/8",
			"smtp":     map[string]any{"host": "smtp.example.com", "port": 2525, "username": "astro", "startTLS": "required"},
			"extraEnv": map[string]any{"ASTRO_RATE_LIMIT_IP_RPS": 50, "ASTRO_OIDC_ISSUER": "https://login.example.com", "OTEL_SERVICE_NAME": "astro"},
		},
		"api":                 map[string]any{"replicas": 3, "service": map[string]any{"type": "LoadBalancer", "port": 443}},
		"worker":              map[string]any{"replicas": 2},
		"metrics":             map[string]any{"enabled": true, "port": 9100},
		"podDisruptionBudget": map[string]any{"minAvailable": "50%"},
	}
	existingSecretValues = map[string]any{
		"secrets":             map[string]any{"existingSecret": "astro-keys"},
		"database":            map[string]any{"existingSecret": map[string]any{"name": "pg-app", "key": "uri"}},
		"serviceAccount":      map[string]any{"create": false, "name": "astro-sa"},
		"podDisruptionBudget": map[string]any{"enabled": false},
	}
)

// helmBin returns bin/helm (ASTRO_HELM overrides); without it the test fails, or
// skips under testreq.SkipEnv.
func helmBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("ASTRO_HELM")
	if p == "" {
		p = filepath.Join(testkube.BinDir(), "helm")
	}
	if _, err := os.Stat(p); err != nil {
		testreq.Missing(t, p+" not found", "run `make tools` (builds helm into bin/ from hack/helm) or set ASTRO_HELM")
	}
	return p
}

// helm runs the helm binary on the chart with values (as a file) and extra args.
func helm(t *testing.T, values map[string]any, args ...string) (string, error) {
	t.Helper()
	return helmOn(t, "", values, args...)
}

// helmOn is helm with a kubeconfig ("": none, helm reaches no cluster).
func helmOn(t *testing.T, kubeconfig string, values map[string]any, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if kubeconfig == "" {
		kubeconfig = filepath.Join(dir, "none")
	}
	file := filepath.Join(dir, "values.yaml")
	raw, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helmBin(t), append(args, "-f", file)...)
	// helm's own state stays out of the user's home.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir, "KUBECONFIG="+kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// chart is what `helm template` renders, hooks included.
type chart []*unstructured.Unstructured

func render(t *testing.T, values map[string]any) chart {
	t.Helper()
	out, err := helm(t, values, "template", release, chartPath, "--namespace", namespace)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	var objs chart
	docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("read helm template output: %v\n%s", err, out)
		}
		// Strict: a key written twice (two label helpers) is an error, not the last one.
		var m map[string]any
		if err := yaml.UnmarshalStrict(doc, &m); err != nil {
			t.Fatalf("parse a rendered object: %v\n%s", err, doc)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

// get returns the rendered kind/name converted into out, or stops the test.
func (c chart) get(t *testing.T, kind, name string, out any) {
	t.Helper()
	for _, o := range c {
		if o.GetKind() == kind && o.GetName() == name {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, out, true); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s %s rendered; have %v", kind, name, c.names())
}

func (c chart) names() []string {
	var out []string
	for _, o := range c {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	slices.Sort(out)
	return out
}

// processVariables are the ASTRO_* variables a process reads: the env tags of its
// main package and internal/config.
func processVariables(t *testing.T, process string) map[string]bool {
	t.Helper()
	var files []string
	for _, dir := range []string{"../cmd/" + process, "../internal/config"} {
		fs, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	vars := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range envTagRe.FindAllStringSubmatch(string(src), -1) {
			vars[m[1]] = true
		}
	}
	if len(vars) < 10 {
		t.Fatalf("found only %v in %v: update processVariables", vars, files)
	}
	return vars
}

func TestHelmLint(t *testing.T) {
	// The defaults lint too: what they lack (a database) fails rendering, which lint
	// reports as information.
	for name, values := range map[string]map[string]any{"defaults": {}, "minimal": minimalValues, "full": fullValues, "existing secrets": existingSecretValues} {
		t.Run(name, func(t *testing.T) {
			if out, err := helm(t, values, "lint", chartPath, "--strict", "--namespace", namespace); err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
		})
	}
}

// Values the chart cannot run with are refused by `helm template` (as by `helm
// install`), saying which; those values.schema.json catches fail `helm lint` too
// (lint reports a template's fail as information only).
func TestHelmRefusesBadValues(t *testing.T) {
	with := func(extra map[string]any) map[string]any {
		v := map[string]any{}
		for k, x := range minimalValues {
			v[k] = x
		}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string // in helm's answer
		schema bool   // values.schema.json refuses it: helm lint fails too
	}{
		{"temporal address without port", with(map[string]any{"temporal": map[string]any{"address": "temporal"}}), "/temporal/address", true},
		{"empty temporal namespace", with(map[string]any{"temporal": map[string]any{"namespace": ""}}), "/temporal/namespace", true},
		{"no api replica", with(map[string]any{"api": map[string]any{"replicas": 0}}), "/api/replicas", true},
		{"replicas as text", with(map[string]any{"worker": map[string]any{"replicas": "two"}}), "/worker/replicas", true},
		{"unknown log level", with(map[string]any{"config": map[string]any{"logLevel": "verbose"}}), "/config/logLevel", true},
		{"misspelt top-level key", with(map[string]any{"temproal": map[string]any{"address": "t:7233"}}), "'temproal' not allowed", true},
		{"misspelt nested key", with(map[string]any{"metrics": map[string]any{"enable": true}}), "'enable' not allowed", true},
		{"misspelt TLS key", with(map[string]any{"temporal": map[string]any{"tls": map[string]any{"enable": true}}}), "'enable' not allowed", true},
		{"sqlite database", map[string]any{"database": map[string]any{"url": "sqlite://astro.db"}}, "/database/url", true},
		{"a secret in the ConfigMap", with(map[string]any{"config": map[string]any{"extraEnv": map[string]any{"ASTRO_ENCRYPTION_KEY": encryptionKey}}}), "propertyName 'ASTRO_ENCRYPTION_KEY'", true},
		{"not a variable", with(map[string]any{"config": map[string]any{"extraEnv": map[string]any{"PATH": "/bin"}}}), "propertyName 'PATH'", true},
		{"short bootstrap key", with(map[string]any{"secrets": map[string]any{"bootstrapAPIKey": "short"}}), "/secrets/bootstrapAPIKey", true},
		{"no requests", with(map[string]any{"api": map[string]any{"resources": map[string]any{"requests": nil}}}), "missing property 'requests'", false},
		{"no database", map[string]any{}, "set database.url", false},
		{"two databases", map[string]any{"database": map[string]any{"url": "postgres://a@b:5432/c", "existingSecret": map[string]any{"name": "pg"}}}, "not both", false},
		{"url beside an existing secret", with(map[string]any{"secrets": map[string]any{"existingSecret": "mine"}}), "ASTRO_DATABASE_URL in that Secret", false},
		{"keys beside an existing secret", map[string]any{"secrets": map[string]any{"existingSecret": "mine", "encryptionKey": encryptionKey}}, "leave secrets.encryptionKey", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // helm processes: two at a time on two cores
			out, err := helm(t, tc.values, "template", release, chartPath, "--namespace", namespace)
			if err == nil {
				t.Fatalf("helm template accepted %v", tc.values)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("helm template refused %v without naming %q:\n%s", tc.values, tc.want, out)
			}
			if strings.Contains(out, encryptionKey) {
				t.Errorf("helm's answer echoes a key: %s", out)
			}
			if tc.schema {
				if out, err := helm(t, tc.values, "lint", chartPath, "--strict", "--namespace", namespace); err == nil || !strings.Contains(out, tc.want) {
					t.Fatalf("helm lint on %v: %v, want a failure naming %q:\n%s", tc.values, err, tc.want, out)
				}
			}
		})
	}
}

// What the default install renders: the API with its probes, the worker, the
// migrations hook, resources and a locked-down security context on every
// container, budgets and a Service that select the right pods, and each variable
// where its process reads it.
func TestHelmRendersTheDeployment(t *testing.T) {
	objs := render(t, minimalValues)
	want := []string{
		"ConfigMap/astro-astroplane", "Deployment/astro-astroplane-api", "Deployment/astro-astroplane-worker",
		"Job/astro-astroplane-migrations", "PodDisruptionBudget/astro-astroplane-api", "PodDisruptionBudget/astro-astroplane-worker",
		"Secret/astro-astroplane", "Secret/astro-astroplane-migrations", "Service/astro-astroplane-api", "ServiceAccount/astro-astroplane",
	}
	if got := objs.names(); !slices.Equal(got, want) {
		t.Fatalf("rendered %v\nwant      %v", got, want)
	}

	var api, worker appsv1.Deployment
	objs.get(t, "Deployment", "astro-astroplane-api", &api)
	objs.get(t, "Deployment", "astro-astroplane-worker", &worker)
	var job batchv1.Job
	objs.get(t, "Job", "astro-astroplane-migrations", &job)

	t.Run("api probes", func(t *testing.T) {
		c := api.Spec.Template.Spec.Containers[0]
		if c.Command[0] != "/usr/local/bin/api" || len(c.Args) != 0 {
			t.Errorf("api runs %v %v", c.Command, c.Args)
		}
		port := containerPort(c, "http")
		if port == 0 || envValue(c, "ASTRO_HTTP_ADDR") != ":"+strconv.Itoa(port) {
			t.Errorf("api: port http %d, ASTRO_HTTP_ADDR %q: the API must listen on the port its probes and Service use", port, envValue(c, "ASTRO_HTTP_ADDR"))
		}
		for _, p := range []struct {
			what  string
			probe *corev1.Probe
			path  string
		}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
				t.Errorf("api %s probe %+v, want GET %s on port http", p.what, p.probe, p.path)
			}
		}
		if api.Spec.Strategy.RollingUpdate == nil || api.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
			t.Errorf("api rolls with %+v: it should never drop below its replicas", api.Spec.Strategy)
		}
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
			t.Errorf("api: preStop %+v, want a sleep (no shell in the image) so the endpoint goes before SIGTERM", c.Lifecycle)
		}
		if *api.Spec.Replicas != 2 {
			t.Errorf("api replicas %d, want 2 by default", *api.Spec.Replicas)
		}
		if envValue(c, "ASTRO_PRODUCTION") != "true" {
			t.Errorf("api: ASTRO_PRODUCTION unset: the development issuer would be allowed")
		}
	})

	t.Run("worker", func(t *testing.T) {
		c := worker.Spec.Template.Spec.Containers[0]
		if c.Command[0] != "/usr/local/bin/worker" {
			t.Errorf("worker runs %v", c.Command)
		}
		if len(c.Ports) != 0 || c.LivenessProbe != nil {
			t.Errorf("worker without metrics: ports %v, liveness %v; it serves nothing to probe", c.Ports, c.LivenessProbe)
		}
	})

	t.Run("migrations job", func(t *testing.T) {
		c := job.Spec.Template.Spec.Containers[0]
		if got := append(slices.Clone(c.Command), c.Args...); !slices.Equal(got, []string{"/usr/local/bin/api", "-migrate"}) {
			t.Errorf("migrations job runs %v, want /usr/local/bin/api -migrate", got)
		}
		if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || job.Spec.BackoffLimit == nil || job.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("migrations job: restart %q, backoffLimit %v, deadline %v", job.Spec.Template.Spec.RestartPolicy, job.Spec.BackoffLimit, job.Spec.ActiveDeadlineSeconds)
		}
		hooks := job.Annotations["helm.sh/hook"]
		if !strings.Contains(hooks, "pre-install") || !strings.Contains(hooks, "pre-upgrade") {
			t.Errorf("migrations job hook %q, want pre-install and pre-upgrade", hooks)
		}
		if sa := job.Spec.Template.Spec.ServiceAccountName; sa != "" {
			t.Errorf("migrations job uses ServiceAccount %q, which a pre-install hook runs before", sa)
		}
		// Its database URL comes from a Secret that exists when it runs: a hook of
		// the same events, created before it.
		ref := envSecret(c, "ASTRO_DATABASE_URL")
		if ref == nil {
			t.Fatalf("migrations job: ASTRO_DATABASE_URL is not from a Secret: %+v", c.Env)
		}
		var s corev1.Secret
		objs.get(t, "Secret", ref.Name, &s)
		if s.Annotations["helm.sh/hook"] != hooks || weight(t, s.ObjectMeta) >= weight(t, job.ObjectMeta) {
			t.Errorf("migrations job reads Secret %s (hook %q, weight %s), which is not a hook of %q created before the job (weight %s)",
				ref.Name, s.Annotations["helm.sh/hook"], s.Annotations["helm.sh/hook-weight"], hooks, job.Annotations["helm.sh/hook-weight"])
		}
		if !strings.Contains(s.StringData[ref.Key], dbPassword) {
			t.Errorf("hook Secret %s key %s does not hold the database URL", ref.Name, ref.Key)
		}
		if !strings.Contains(s.Annotations["helm.sh/hook-delete-policy"], "hook-succeeded") {
			t.Errorf("hook Secret %s outlives the hooks: delete policy %q", ref.Name, s.Annotations["helm.sh/hook-delete-policy"])
		}
	})

	t.Run("every container", func(t *testing.T) {
		checkPodSpecs(t, objs, api.Spec.Template.Spec, worker.Spec.Template.Spec, job.Spec.Template.Spec)
	})

	t.Run("selectors", func(t *testing.T) {
		checkSelectors(t, objs, map[string]appsv1.Deployment{"api": api, "worker": worker})
	})

	t.Run("secrets only in Secrets", func(t *testing.T) {
		checkSecretsOnlyInSecrets(t, objs)
	})

	t.Run("variables", func(t *testing.T) {
		checkVariables(t, objs)
	})

	t.Run("config changes roll the pods", func(t *testing.T) {
		changed := render(t, map[string]any{"database": minimalValues["database"], "temporal": map[string]any{"address": "elsewhere:7233"}})
		var after appsv1.Deployment
		changed.get(t, "Deployment", "astro-astroplane-api", &after)
		before := api.Spec.Template.Annotations["checksum/config"]
		if before == "" || before == after.Spec.Template.Annotations["checksum/config"] {
			t.Errorf("checksum/config %q before and %q after a config change: pods would keep the old config", before, after.Spec.Template.Annotations["checksum/config"])
		}
	})
}

// Everything switched on: metrics on both processes, every secret, a budget with a
// floor, the user's image.
func TestHelmRendersFullValues(t *testing.T) {
	objs := render(t, fullValues)
	var api, worker appsv1.Deployment
	objs.get(t, "Deployment", "astro-astroplane-api", &api)
	objs.get(t, "Deployment", "astro-astroplane-worker", &worker)
	var job batchv1.Job
	objs.get(t, "Job", "astro-astroplane-migrations", &job)

	for _, d := range []appsv1.Deployment{api, worker} {
		c := d.Spec.Template.Spec.Containers[0]
		if c.Image != "registry.example/astroplane:v1.2.3" || c.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("%s: image %q pull %q", d.Name, c.Image, c.ImagePullPolicy)
		}
		if p := containerPort(c, "metrics"); p != 9100 || envValue(c, "ASTRO_METRICS_ADDR") != "0.0.0.0:9100" {
			t.Errorf("%s: metrics port %d, ASTRO_METRICS_ADDR %q, want 9100 and 0.0.0.0:9100", d.Name, p, envValue(c, "ASTRO_METRICS_ADDR"))
		}
		if d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" || d.Spec.Template.Annotations["prometheus.io/port"] != "9100" {
			t.Errorf("%s: pod annotations %v", d.Name, d.Spec.Template.Annotations)
		}
	}
	if *api.Spec.Replicas != 3 || *worker.Spec.Replicas != 2 {
		t.Errorf("replicas api %d worker %d, want 3 and 2", *api.Spec.Replicas, *worker.Spec.Replicas)
	}
	wc := worker.Spec.Template.Spec.Containers[0]
	if wc.LivenessProbe == nil || wc.LivenessProbe.HTTPGet == nil || wc.LivenessProbe.HTTPGet.Port.String() != "metrics" {
		t.Errorf("worker with metrics: liveness %+v, want GET on port metrics", wc.LivenessProbe)
	}
	if ref := envSecret(wc, "ASTRO_SMTP_PASSWORD"); ref == nil || ref.Name != "astro-astroplane" {
		t.Errorf("worker: ASTRO_SMTP_PASSWORD from %+v, want the chart's Secret", ref)
	}
	if ref := envSecret(api.Spec.Template.Spec.Containers[0], "ASTRO_SMTP_PASSWORD"); ref != nil {
		t.Errorf("api gets ASTRO_SMTP_PASSWORD, which only the worker reads")
	}
	if ref := envSecret(wc, "ASTRO_BOOTSTRAP_API_KEY"); ref != nil {
		t.Errorf("worker gets the bootstrap admin key, which only the API reads")
	}

	var svc, metricsSvc corev1.Service
	objs.get(t, "Service", "astro-astroplane-api", &svc)
	objs.get(t, "Service", "astro-astroplane-worker-metrics", &metricsSvc)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("api Service %+v", svc.Spec)
	}
	var cm corev1.ConfigMap
	objs.get(t, "ConfigMap", "astro-astroplane", &cm)
	for k, v := range map[string]string{
		"ASTRO_TEMPORAL_ADDRESS": "temporal.example:7233", "ASTRO_TEMPORAL_NAMESPACE": "astro", "ASTRO_TASK_QUEUE": "astro-q",
		"ASTRO_SMTP_HOST": "smtp.example.com", "ASTRO_SMTP_PORT": "2525", "ASTRO_SMTP_USERNAME": "astro",
		"ASTRO_RATE_LIMIT_IP_RPS": "50", "OTEL_SERVICE_NAME": "astro", "ASTRO_LOG_LEVEL": "debug",
	} {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s=%q, want %q", k, cm.Data[k], v)
		}
	}
	// Temporal over mutual TLS: the files the ConfigMap names are the Secret's keys,
	// mounted read-only where both processes look.
	if cm.Data["ASTRO_TEMPORAL_TLS"] != "true" || cm.Data["ASTRO_TEMPORAL_TLS_SERVER_NAME"] != "frontend.temporal.internal" {
		t.Errorf("ConfigMap: TLS %q, server name %q", cm.Data["ASTRO_TEMPORAL_TLS"], cm.Data["ASTRO_TEMPORAL_TLS_SERVER_NAME"])
	}
	for _, d := range []appsv1.Deployment{api, worker} {
		spec := d.Spec.Template.Spec
		for v, key := range map[string]string{"ASTRO_TEMPORAL_TLS_CA_FILE": "ca.crt", "ASTRO_TEMPORAL_TLS_CERT_FILE": "tls.crt", "ASTRO_TEMPORAL_TLS_KEY_FILE": "tls.key"} {
			if got := mountedSecretKey(spec, spec.Containers[0], cm.Data[v]); got != "temporal-client-tls/"+key {
				t.Errorf("%s: %s=%q is %q, want key %s of Secret temporal-client-tls mounted read-only", d.Name, v, cm.Data[v], got, key)
			}
		}
		if ref := envSecret(spec.Containers[0], "ASTRO_TEMPORAL_API_KEY"); ref == nil || ref.Name != "astro-astroplane" {
			t.Errorf("%s: ASTRO_TEMPORAL_API_KEY from %+v, want the chart's Secret", d.Name, ref)
		}
	}
	for _, c := range job.Spec.Template.Spec.Containers {
		if len(c.VolumeMounts) != 0 {
			t.Errorf("migrations job mounts %v: it needs the database alone", c.VolumeMounts)
		}
	}

	var pdb policyv1.PodDisruptionBudget
	objs.get(t, "PodDisruptionBudget", "astro-astroplane-api", &pdb)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "50%" || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("api budget %+v, want minAvailable 50%% alone", pdb.Spec)
	}

	checkPodSpecs(t, objs, api.Spec.Template.Spec, worker.Spec.Template.Spec, job.Spec.Template.Spec)
	checkSelectors(t, objs, map[string]appsv1.Deployment{"api": api, "worker": worker})
	checkSecretsOnlyInSecrets(t, objs)
	checkVariables(t, objs)
}

// With the user's Secrets the chart makes none, and every secret variable, the
// migrations job's included, is read from them.
func TestHelmRendersExistingSecrets(t *testing.T) {
	objs := render(t, existingSecretValues)
	for _, o := range objs {
		switch o.GetKind() {
		case "Secret", "ServiceAccount", "PodDisruptionBudget":
			t.Errorf("rendered %s/%s although the values ask for none", o.GetKind(), o.GetName())
		}
	}
	var api, worker appsv1.Deployment
	objs.get(t, "Deployment", "astro-astroplane-api", &api)
	objs.get(t, "Deployment", "astro-astroplane-worker", &worker)
	var job batchv1.Job
	objs.get(t, "Job", "astro-astroplane-migrations", &job)
	for _, c := range []corev1.Container{api.Spec.Template.Spec.Containers[0], worker.Spec.Template.Spec.Containers[0], job.Spec.Template.Spec.Containers[0]} {
		if ref := envSecret(c, "ASTRO_DATABASE_URL"); ref == nil || ref.Name != "pg-app" || ref.Key != "uri" || (ref.Optional != nil && *ref.Optional) {
			t.Errorf("%s: ASTRO_DATABASE_URL from %+v, want Secret pg-app key uri, required", c.Name, ref)
		}
		if c.Name == "migrations" {
			continue
		}
		if ref := envSecret(c, "ASTRO_ENCRYPTION_KEY"); ref == nil || ref.Name != "astro-keys" || ref.Key != "ASTRO_ENCRYPTION_KEY" {
			t.Errorf("%s: ASTRO_ENCRYPTION_KEY from %+v, want Secret astro-keys", c.Name, ref)
		}
	}
	if sa := api.Spec.Template.Spec.ServiceAccountName; sa != "astro-sa" {
		t.Errorf("api ServiceAccount %q, want astro-sa", sa)
	}
	checkVariables(t, objs)
}

// The chart's objects, hooks included, are accepted by a real kube-apiserver
// (server-side apply, dry run, strict field validation) for each value set; a
// broken object is refused, so the dry run is a real check.
func TestHelmChartServerSideDryRun(t *testing.T) {
	sets := map[string]chart{"minimal": render(t, minimalValues), "full": render(t, fullValues), "existing secrets": render(t, existingSecretValues)}

	kube := testkube.Start(t)
	cfg := kube.RESTConfig()
	ctx := t.Context()
	client := kubernetes.NewForConfigOrDie(cfg)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	apply := func(o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		force := true
		return dyn.Resource(m.Resource).Namespace(namespace).Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			FieldManager: "astroplane-chart-test", Force: &force, DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict",
		})
	}

	for name, objs := range sets {
		t.Run(name, func(t *testing.T) {
			for _, o := range objs {
				got, err := apply(o)
				if err != nil {
					t.Errorf("server-side dry run of %s/%s: %v", o.GetKind(), o.GetName(), err)
					continue
				}
				if got.GetNamespace() != namespace || got.GetUID() == "" {
					t.Errorf("%s/%s: the dry run answered %s/%s uid %q, not the object as stored", o.GetKind(), o.GetName(), got.GetNamespace(), got.GetName(), got.GetUID())
				}
			}
		})
	}

	// helm's own install, dry run on the server: it reaches the cluster, renders the
	// NOTES, and installs nothing.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kube.Kubeconfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := helmOn(t, kubeconfig, minimalValues, "install", release, chartPath, "--namespace", namespace, "--dry-run=server")
	if err != nil {
		t.Fatalf("helm install --dry-run=server: %v\n%s", err, out)
	}
	for _, want := range []string{"STATUS: pending-install", "NOTES:", "port-forward svc/astro-astroplane-api", "Bootstrap admin API key", "WARNING: secrets.encryptionKey"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install --dry-run=server does not say %q:\n%s", want, out)
		}
	}

	// Nothing was stored.
	if ds, err := client.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{}); err != nil || len(ds.Items) != 0 {
		t.Errorf("after dry runs: %d deployments stored, %v", len(ds.Items), err)
	}

	// A Deployment whose selector does not match its pods, and one with a field the
	// API does not have, are refused.
	var broken, unknown *unstructured.Unstructured
	for _, o := range sets["minimal"] {
		if o.GetKind() == "Deployment" && strings.HasSuffix(o.GetName(), "-api") {
			broken, unknown = o.DeepCopy(), o.DeepCopy()
		}
	}
	if err := unstructured.SetNestedField(broken.Object, "other", "spec", "selector", "matchLabels", "app.kubernetes.io/component"); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(broken); !apierrors.IsInvalid(err) {
		t.Errorf("a Deployment whose selector misses its pods: %v, want Invalid", err)
	}
	if err := unstructured.SetNestedField(unknown.Object, int64(1), "spec", "replicaz"); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(unknown); err == nil || !strings.Contains(err.Error(), "replicaz") {
		t.Errorf("a Deployment with an unknown field: %v, want it refused by name", err)
	}
}

// checkPodSpecs asserts what every pod of the chart needs: resource requests, no
// root, a read-only root file system, no privilege escalation, no API token.
func checkPodSpecs(t *testing.T, objs chart, specs ...corev1.PodSpec) {
	t.Helper()
	for _, s := range specs {
		if s.SecurityContext == nil || s.SecurityContext.RunAsNonRoot == nil || !*s.SecurityContext.RunAsNonRoot {
			t.Errorf("pod %v: runAsNonRoot not set", names(s))
		}
		if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
			t.Errorf("pod %v mounts a Kubernetes API token it does not use", names(s))
		}
		for _, c := range s.Containers {
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				t.Errorf("container %s: requests %v, want cpu and memory", c.Name, c.Resources.Requests)
			}
			if c.Resources.Limits.Memory().IsZero() {
				t.Errorf("container %s: no memory limit", c.Name)
			}
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("container %s: security context %+v, want a read-only root, no escalation, all capabilities dropped", c.Name, sc)
			}
			if sa := s.ServiceAccountName; sa != "" && sa != "default" {
				found := false
				for _, o := range objs {
					found = found || (o.GetKind() == "ServiceAccount" && o.GetName() == sa)
				}
				if !found && sa != "astro-sa" { // astro-sa: the user's, named in the values
					t.Errorf("pod %v uses ServiceAccount %q, which is not rendered", names(s), sa)
				}
			}
		}
	}
}

// checkSelectors asserts that each budget and Service selects the pods of exactly
// one component, and that each Deployment's selector matches its own pods.
func checkSelectors(t *testing.T, objs chart, deployments map[string]appsv1.Deployment) {
	t.Helper()
	podLabels := map[string]labels.Set{}
	for component, d := range deployments {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: selector %v does not match its pods %v (%v)", d.Name, d.Spec.Selector, d.Spec.Template.Labels, err)
		}
		podLabels[component] = d.Spec.Template.Labels
	}
	selects := func(sel labels.Selector) []string {
		var out []string
		for component, l := range podLabels {
			if sel.Matches(l) {
				out = append(out, component)
			}
		}
		slices.Sort(out)
		return out
	}
	budgets := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "PodDisruptionBudget":
			budgets++
			var pdb policyv1.PodDisruptionBudget
			objs.get(t, "PodDisruptionBudget", o.GetName(), &pdb)
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			if got := selects(sel); len(got) != 1 || !strings.HasSuffix(pdb.Name, "-"+got[0]) {
				t.Errorf("PodDisruptionBudget %s selects the pods of %v", pdb.Name, got)
			}
		case "Service":
			var svc corev1.Service
			objs.get(t, "Service", o.GetName(), &svc)
			want := "api"
			if strings.HasSuffix(svc.Name, "-worker-metrics") {
				want = "worker"
			}
			if got := selects(labels.SelectorFromSet(svc.Spec.Selector)); !slices.Equal(got, []string{want}) {
				t.Errorf("Service %s selects the pods of %v, want %s alone", svc.Name, got, want)
			}
			for _, p := range svc.Spec.Ports {
				if p.TargetPort.Type != intstr.String || containerPort(deployments[want].Spec.Template.Spec.Containers[0], p.TargetPort.String()) == 0 {
					t.Errorf("Service %s port %s targets %q, which %s's container does not name", svc.Name, p.Name, p.TargetPort.String(), want)
				}
			}
		}
	}
	if budgets != 0 && budgets != len(deployments) {
		t.Errorf("%d budgets for %d deployments", budgets, len(deployments))
	}
}

// checkSecretsOnlyInSecrets asserts no secret value appears in an object that is
// not a Secret (a ConfigMap, a pod spec, an annotation).
func checkSecretsOnlyInSecrets(t *testing.T, objs chart) {
	t.Helper()
	inSecrets := map[string]bool{}
	for _, o := range objs {
		raw, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secretValues {
			if !strings.Contains(string(raw), s) {
				continue
			}
			if o.GetKind() == "Secret" {
				inSecrets[s] = true
			} else {
				t.Errorf("%s/%s holds a secret value; secrets belong in Secrets", o.GetKind(), o.GetName())
			}
		}
	}
	if len(inSecrets) == 0 {
		t.Errorf("no secret value in any Secret: the test's values did not reach the chart")
	}
}

// checkVariables asserts that every ASTRO_* variable a container gets is one its
// process reads (a misspelt or renamed variable is silently ignored otherwise), and
// that the ConfigMap holds only variables.
func checkVariables(t *testing.T, objs chart) {
	t.Helper()
	read := map[string]map[string]bool{"api": processVariables(t, "api"), "worker": processVariables(t, "worker")}
	var cm corev1.ConfigMap
	objs.get(t, "ConfigMap", "astro-astroplane", &cm)
	keyRe := regexp.MustCompile(`^(ASTRO|OTEL)_[A-Z0-9_]+$`)
	for k := range cm.Data {
		if !keyRe.MatchString(k) {
			t.Errorf("ConfigMap key %q is not a variable of ours", k)
		}
	}
	for _, o := range objs {
		var spec corev1.PodSpec
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			objs.get(t, "Deployment", o.GetName(), &d)
			spec = d.Spec.Template.Spec
		case "Job":
			var j batchv1.Job
			objs.get(t, "Job", o.GetName(), &j)
			spec = j.Spec.Template.Spec
		default:
			continue
		}
		for _, c := range spec.Containers {
			process := filepath.Base(c.Command[0])
			known, ok := read[process]
			if !ok {
				t.Errorf("container %s runs %v, neither api nor worker", c.Name, c.Command)
				continue
			}
			vars := map[string]bool{}
			for _, e := range c.Env {
				vars[e.Name] = true
			}
			for _, from := range c.EnvFrom {
				if from.ConfigMapRef != nil && from.ConfigMapRef.Name == cm.Name {
					for k := range cm.Data {
						vars[k] = true
					}
				}
			}
			for v := range vars {
				if strings.HasPrefix(v, "ASTRO_") && !known[v] && !sharedConfigMapKey(cm, c, v) {
					t.Errorf("container %s (%s) gets %s, which the %s process does not read", c.Name, process, v, process)
				}
			}
			if !vars["ASTRO_DATABASE_URL"] {
				t.Errorf("container %s gets no ASTRO_DATABASE_URL", c.Name)
			}
		}
	}
	// The shared ConfigMap's keys are each read by one process at least.
	for k := range cm.Data {
		if strings.HasPrefix(k, "ASTRO_") && !read["api"][k] && !read["worker"][k] {
			t.Errorf("ConfigMap sets %s, which neither process reads", k)
		}
	}
}

// sharedConfigMapKey reports whether v reaches container c only through the
// ConfigMap both processes share (it may be the other process's).
func sharedConfigMapKey(cm corev1.ConfigMap, c corev1.Container, v string) bool {
	if _, ok := cm.Data[v]; !ok {
		return false
	}
	return !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == v })
}

func containerPort(c corev1.Container, name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	return 0
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func envSecret(c corev1.Container, name string) *corev1.SecretKeySelector {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil {
			return e.ValueFrom.SecretKeyRef
		}
	}
	return nil
}

func weight(t *testing.T, m metav1.ObjectMeta) int {
	t.Helper()
	w, err := strconv.Atoi(m.Annotations["helm.sh/hook-weight"])
	if err != nil {
		t.Fatalf("%s: hook weight %q: %v", m.Name, m.Annotations["helm.sh/hook-weight"], err)
	}
	return w
}

func names(s corev1.PodSpec) []string {
	var out []string
	for _, c := range s.Containers {
		out = append(out, c.Name)
	}
	return out
}

// mountedSecretKey returns "secret/key" of the Secret key container c sees at path
// through a read-only mount, or "".
func mountedSecretKey(spec corev1.PodSpec, c corev1.Container, path string) string {
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, m.MountPath+"/")
		if !ok || !m.ReadOnly {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			if len(v.Secret.Items) == 0 {
				return v.Secret.SecretName + "/" + rel
			}
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return v.Secret.SecretName + "/" + it.Key
				}
			}
		}
	}
	return ""
}
