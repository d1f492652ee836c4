package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/config"
	"github.com/astropulse/astroplane/internal/telemetry"
	"github.com/astropulse/astroplane/store"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := config.ParseEnviron(&c, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if c.SimStepDelay != 3*time.Second || c.MaxConcurrentActivities != 200 || c.PublicURL != "http://localhost:8080" ||
		c.Relay.SMTPHost != "" || c.SMTPPort != 587 || c.SMTPUsername != "" || c.SMTPPassword != "" ||
		c.SMTPFrom != "astro-plane@localhost" || c.SMTPStartTLS != "required" {
		t.Fatalf("defaults %+v", c)
	}
	if c.Temporal.TaskQueue != "astro-plane" || c.Log.Level != "info" {
		t.Fatalf("shared defaults %+v", c)
	}
}

func TestConfigEveryVariable(t *testing.T) {
	var c Config
	err := config.ParseEnviron(&c, map[string]string{
		"ASTRO_SIM_STEP_DELAY":                   "0s",
		"ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES": "16",
		"ASTRO_PUBLIC_URL":                       "https://astro.example.com/base",
		"ASTRO_SMTP_HOST":                        "smtp.example.com",
		"ASTRO_SMTP_PORT":                        "2525",
		"ASTRO_SMTP_USERNAME":                    "mailer",
		"ASTRO_SMTP_PASSWORD":                    "s3cret",
		"ASTRO_SMTP_FROM":                        "Astro <astro@example.com>",
		"ASTRO_SMTP_STARTTLS":                    "opportunistic",
		"ASTRO_LOG_FORMAT":                       "text",
		"ASTRO_LOG_LEVEL":                        "error",
		"ASTRO_DATABASE_URL":                     "sqlite:///var/lib/astro/astro.db",
		"ASTRO_TEMPORAL_ADDRESS":                 "[::1]:7233",
		"ASTRO_TEMPORAL_NAMESPACE":               "ns",
		"ASTRO_TASK_QUEUE":                       "q",
		"ASTRO_ENCRYPTION_KEY":                   "9196fb6992722b064dfd64b311e40c6f9ea8321402b6e62a78372d9ab0d17275",
		"ASTRO_APPROVAL_SIGNING_KEY":             "iLRwn3PIS69mFXezv1Kq38UZuJFO8zcma6y1-dDMHPnqj-qf",
		"ASTRO_NOTIFY_ALLOWED_HOSTS":             "hooks.internal",
		"ASTRO_CLOUDS":                           "aws,gcp",
		"ASTRO_AWS_PLATFORM_PRINCIPAL":           "arn:aws:iam::111122223333:role/astro-plane",
		"ASTRO_AWS_TEMPLATE_BUCKET":              "astro-templates",
		"ASTRO_AWS_TEMPLATE_BUCKET_URL":          "https://astro-templates.s3.amazonaws.com/",
		"ASTRO_SIM_KUBECONFIG":                   ".data/kube/kubeconfig",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.SimStepDelay != 0 || c.MaxConcurrentActivities != 16 || c.PublicURL != "https://astro.example.com/base" ||
		c.Relay.SMTPHost != "smtp.example.com" || c.SMTPPort != 2525 || c.SMTPUsername != "mailer" || c.SMTPPassword != "s3cret" ||
		c.SMTPFrom != "Astro <astro@example.com>" || c.SMTPStartTLS != "opportunistic" ||
		c.Log.Format != "text" || c.Log.Level != "error" || c.Store.DatabaseURL != "sqlite:///var/lib/astro/astro.db" ||
		c.Temporal.Address != "[::1]:7233" || c.Temporal.Namespace != "ns" || c.Temporal.TaskQueue != "q" ||
		c.Keys.NotifyAllowedHosts != "hooks.internal" || strings.Join(c.Clouds, " ") != "aws gcp" ||
		c.AWSPlatformPrincipal != "arn:aws:iam::111122223333:role/astro-plane" || c.AWSTemplateBucket != "astro-templates" ||
		c.AWSTemplateBucketURL != "https://astro-templates.s3.amazonaws.com/" || c.SimKubeconfig != ".data/kube/kubeconfig" {
		t.Fatalf("parsed %+v", c)
	}
}

// The notifier is wired from the configuration: relay, public URL, keys, guard.
func TestNotifierFromConfig(t *testing.T) {
	var c Config
	if err := config.ParseEnviron(&c, map[string]string{
		"ASTRO_SMTP_HOST": "smtp.example.com", "ASTRO_SMTP_PORT": "2525", "ASTRO_SMTP_STARTTLS": "none",
		"ASTRO_PUBLIC_URL": "https://astro.example.com", "ASTRO_APPROVAL_SIGNING_KEY": "iLRwn3PIS69mFXezv1Kq38UZuJFO8zcma6y1-dDMHPnqj-qf",
	}); err != nil {
		t.Fatal(err)
	}
	n, err := notifierActivities(c, (*store.Store)(nil))
	if err != nil {
		t.Fatal(err)
	}
	if n.SMTP.Host != "smtp.example.com" || n.SMTP.Port != 2525 || n.SMTP.StartTLS != "none" || n.SMTP.From != "astro-plane@localhost" ||
		n.PublicURL != "https://astro.example.com" || n.Signer == nil || n.Box != nil || n.HTTP == nil {
		t.Fatalf("notifier %+v", n)
	}
}

// blamedVariable matches "ASTRO_X: " where an error names the variable at fault.
var blamedVariable = regexp.MustCompile(`(ASTRO_[A-Z_]+): `)

// Each invalid value is refused, and the error names its variable (and never echoes
// the SMTP password).
func TestConfigInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"ASTRO_SIM_STEP_DELAY": "3"}, "ASTRO_SIM_STEP_DELAY"},
		{map[string]string{"ASTRO_CLOUDS": "aws,ec2"}, "ASTRO_CLOUDS"},
		{map[string]string{"ASTRO_SIM_STEP_DELAY": "-1s"}, "ASTRO_SIM_STEP_DELAY"},
		{map[string]string{"ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES": "many"}, "ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES"},
		{map[string]string{"ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES": "0"}, "ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES"},
		{map[string]string{"ASTRO_PUBLIC_URL": "astro.example.com"}, "ASTRO_PUBLIC_URL"},
		{map[string]string{"ASTRO_PUBLIC_URL": "ftp://astro.example.com"}, "ASTRO_PUBLIC_URL"},
		{map[string]string{"ASTRO_PUBLIC_URL": "https://u:p@astro.example.com"}, "ASTRO_PUBLIC_URL"},
		{map[string]string{"ASTRO_PUBLIC_URL": "https://astro.example.com/?x=1"}, "ASTRO_PUBLIC_URL"},
		{map[string]string{"ASTRO_SMTP_HOST": "smtp.example.com:25"}, "ASTRO_SMTP_HOST"},
		{map[string]string{"ASTRO_SMTP_PORT": "smtp"}, "ASTRO_SMTP_PORT"},
		{map[string]string{"ASTRO_SMTP_PORT": "0"}, "ASTRO_SMTP_PORT"},
		{map[string]string{"ASTRO_SMTP_PORT": "65536"}, "ASTRO_SMTP_PORT"},
		{map[string]string{"ASTRO_SMTP_FROM": "astro"}, "ASTRO_SMTP_FROM"},
		{map[string]string{"ASTRO_SMTP_STARTTLS": "always"}, "ASTRO_SMTP_STARTTLS"},
		{map[string]string{"ASTRO_SMTP_STARTTLS": "REQUIRED"}, "ASTRO_SMTP_STARTTLS"},
		{map[string]string{"ASTRO_SMTP_USERNAME": "mailer", "ASTRO_SMTP_PASSWORD": "hunter2-secret"}, "ASTRO_SMTP_USERNAME"},
		{map[string]string{"ASTRO_METRICS_ADDR": ":9090"}, "ASTRO_METRICS_ADDR"},
		{map[string]string{"ASTRO_METRICS_ADDR": "9090"}, "ASTRO_METRICS_ADDR"},
		{map[string]string{"ASTRO_LOG_FORMAT": "logfmt"}, "ASTRO_LOG_FORMAT"},
		{map[string]string{"ASTRO_TASK_QUEUE": " "}, "ASTRO_TASK_QUEUE"},
		{map[string]string{"ASTRO_DATABASE_URL": "sqlite:"}, "ASTRO_DATABASE_URL"},
		{map[string]string{"ASTRO_ENCRYPTION_KEY": "zz"}, "ASTRO_ENCRYPTION_KEY"},
		{map[string]string{"ASTRO_NOTIFY_ALLOWED_HOSTS": "not a host"}, "ASTRO_NOTIFY_ALLOWED_HOSTS"},
	} {
		t.Run(tc.name+"="+tc.env[tc.name], func(t *testing.T) {
			var c Config
			err := config.ParseEnviron(&c, tc.env)
			if err == nil {
				t.Fatalf("%v accepted", tc.env)
			}
			blamed := blamedVariable.FindAllStringSubmatch(err.Error(), -1)
			if len(blamed) != 1 || blamed[0][1] != tc.name {
				t.Fatalf("error %q does not blame %s alone", err, tc.name)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q echoes the SMTP password", err)
			}
		})
	}
}

// The worker's metrics listener (Temporal SDK metrics, operations finished) is off
// by default; astro_operations_finished_total is registered once.
func TestConfigMetricsAddr(t *testing.T) {
	var c Config
	if err := config.ParseEnviron(&c, map[string]string{}); err != nil || c.Telemetry.MetricsAddr != "" {
		t.Fatalf("default %q, %v: want no metrics listener", c.Telemetry.MetricsAddr, err)
	}
	if err := config.ParseEnviron(&c, map[string]string{"ASTRO_METRICS_ADDR": "0.0.0.0:9465"}); err != nil || c.Telemetry.MetricsAddr != "0.0.0.0:9465" {
		t.Fatalf("parsed %q, %v", c.Telemetry.MetricsAddr, err)
	}
	reg := telemetry.NewRegistry()
	finished, err := finishedCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	finished.WithLabelValues("deploy", "succeeded").Inc()
	rec := httptest.NewRecorder()
	telemetry.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `astro_operations_finished_total{outcome="succeeded",type="deploy"} 1`) {
		t.Fatalf("metrics:\n%s", rec.Body)
	}
	if _, err := finishedCounter(reg); err == nil {
		t.Fatal("registered twice")
	}
}
