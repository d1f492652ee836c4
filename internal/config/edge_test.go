package config

import (
	"strings"
	"testing"
)

func TestEdgeDefaultsAndFaults(t *testing.T) {
	var e Edge
	if err := ParseEnviron(&e, map[string]string{}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if e.RateIP != 20 || e.BurstIP != 100 || e.RateKey != 50 || e.BurstKey != 200 || e.TrustedProxies != "" {
		t.Fatalf("defaults %+v", e)
	}
	if err := ParseEnviron(&e, map[string]string{"ASTRO_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	ps, _ := e.Proxies()
	if len(ps) != 2 || ps[1].String() != "192.0.2.7/32" {
		t.Fatalf("proxies %v", ps)
	}
	err := ParseEnviron(&e, map[string]string{"ASTRO_TRUSTED_PROXIES": "10.0.0.0/33", "ASTRO_RATE_LIMIT_IP_RPS": "0", "ASTRO_RATE_LIMIT_KEY_BURST": "-1"})
	for _, v := range []string{"ASTRO_TRUSTED_PROXIES", "ASTRO_RATE_LIMIT_IP_RPS", "ASTRO_RATE_LIMIT_KEY_BURST"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("fault of %s not reported: %v", v, err)
		}
	}
}
