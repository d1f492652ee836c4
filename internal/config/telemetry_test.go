package config

import (
	"strings"
	"testing"
)

func TestTelemetryMetricsAddr(t *testing.T) {
	var off Telemetry
	if err := ParseEnviron(&off, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if off.MetricsAddr != "" || off.Validate() != nil {
		t.Fatalf("default %+v: want no metrics listener, valid", off)
	}
	for _, ok := range []string{"127.0.0.1:9090", "0.0.0.0:9464", "[::1]:9090", "localhost:9090", "127.0.0.1:0"} {
		var c Telemetry
		if err := ParseEnviron(&c, map[string]string{"ASTRO_METRICS_ADDR": ok}); err != nil {
			t.Fatal(err)
		}
		if c.MetricsAddr != ok || c.Validate() != nil {
			t.Errorf("%s: parsed %+v, validate %v", ok, c, c.Validate())
		}
	}
	for addr, want := range map[string]string{
		":9090":           "names no host: write 127.0.0.1:9090 for this machine only, or 0.0.0.0:9090",
		"9090":            "is not host:port",
		"127.0.0.1:99999": "is not a port number",
		"127.0.0.1:http":  "is not a port number",
	} {
		err := Telemetry{MetricsAddr: addr}.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "ASTRO_METRICS_ADDR: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want ASTRO_METRICS_ADDR: …%s", addr, err, want)
		}
	}
}
