package config

import (
	"strings"
	"testing"
	"time"
)

func TestOIDCDefaultsAndEveryVariable(t *testing.T) {
	var o OIDC
	if err := ParseEnviron(&o, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if o.Enabled() || o.SubjectClaim != "sub" || o.EmailClaim != "email" || o.EmailVerifiedClaim != "email_verified" ||
		o.NameClaim != "name" || o.ClockSkew != time.Minute || o.KeysMaxAge != time.Hour || o.Dev || o.DevAddr != "127.0.0.1:8081" ||
		o.PublicURL != "http://localhost:8080" || o.Production {
		t.Fatalf("defaults %+v", o)
	}
	if v, err := o.Verifier(); v != nil || err != nil {
		t.Fatalf("Verifier without an issuer = %v, %v", v, err)
	}
	err := ParseEnviron(&o, map[string]string{
		"ASTRO_OIDC_ISSUER": "https://tenant.auth0.com/", "ASTRO_OIDC_AUDIENCE": "https://api.astro.example",
		"ASTRO_OIDC_SUBJECT_CLAIM": "oid", "ASTRO_OIDC_EMAIL_CLAIM": "https://astro.example/email",
		"ASTRO_OIDC_EMAIL_VERIFIED_CLAIM": "https://astro.example/email_verified", "ASTRO_OIDC_NAME_CLAIM": "nickname",
		"ASTRO_OIDC_CLOCK_SKEW": "30s", "ASTRO_OIDC_KEYS_MAX_AGE": "10m", "ASTRO_PUBLIC_URL": "https://astro.example",
		"ASTRO_PRODUCTION": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Issuer != "https://tenant.auth0.com/" || o.Audience != "https://api.astro.example" || o.SubjectClaim != "oid" ||
		o.EmailClaim != "https://astro.example/email" || o.NameClaim != "nickname" || o.ClockSkew != 30*time.Second ||
		o.KeysMaxAge != 10*time.Minute || !o.Production || !o.Enabled() {
		t.Fatalf("parsed %+v", o)
	}
	if v, err := o.Verifier(); v == nil || err != nil || v.Issuer() != "https://tenant.auth0.com/" {
		t.Fatalf("Verifier = %v, %v", v, err)
	}
	o = OIDC{}
	if err := ParseEnviron(&o, map[string]string{"ASTRO_DEV_OIDC": "true", "ASTRO_DEV_OIDC_ADDR": "[::1]:9999"}); err != nil {
		t.Fatal(err)
	}
	if v, err := o.Verifier(); err != nil || v.Issuer() != "http://localhost:9999" {
		t.Fatalf("dev Verifier = %v, %v", v, err)
	}
}

// TestOIDCFaults: each fault names its variable; the development issuer is refused
// loudly wherever it could face a network or production.
func TestOIDCFaults(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"ASTRO_OIDC_ISSUER": "http://idp.example.com"}, []string{"ASTRO_OIDC_ISSUER: \"http://idp.example.com\": an issuer must be https", "ASTRO_OIDC_AUDIENCE: required"}},
		{map[string]string{"ASTRO_OIDC_ISSUER": "https://u:p@idp.example.com", "ASTRO_OIDC_AUDIENCE": "a"}, []string{"ASTRO_OIDC_ISSUER:"}},
		{map[string]string{"ASTRO_OIDC_EMAIL_CLAIM": " ", "ASTRO_OIDC_CLOCK_SKEW": "10m", "ASTRO_OIDC_KEYS_MAX_AGE": "1s"},
			[]string{"ASTRO_OIDC_EMAIL_CLAIM: empty", "ASTRO_OIDC_CLOCK_SKEW: 10m0s", "ASTRO_OIDC_KEYS_MAX_AGE: 1s"}},
		{map[string]string{"ASTRO_OIDC_CLOCK_SKEW": "soon"}, []string{"ASTRO_OIDC_CLOCK_SKEW"}},
		{map[string]string{"ASTRO_PUBLIC_URL": "localhost:8080"}, []string{"ASTRO_PUBLIC_URL"}},
		{map[string]string{"ASTRO_DEV_OIDC": "true", "ASTRO_PRODUCTION": "true"}, []string{"ASTRO_DEV_OIDC: refused because ASTRO_PRODUCTION"}},
		{map[string]string{"ASTRO_DEV_OIDC": "true", "ASTRO_DEV_OIDC_ADDR": ":8081"}, []string{"ASTRO_DEV_OIDC_ADDR: refused"}},
		{map[string]string{"ASTRO_DEV_OIDC": "true", "ASTRO_DEV_OIDC_ADDR": "0.0.0.0:8081"}, []string{"ASTRO_DEV_OIDC_ADDR: refused"}},
		{map[string]string{"ASTRO_DEV_OIDC": "true", "ASTRO_DEV_OIDC_ADDR": "127.0.0.1"}, []string{"ASTRO_DEV_OIDC_ADDR: \"127.0.0.1\" is not host:port"}},
		{map[string]string{"ASTRO_DEV_OIDC": "true", "ASTRO_PUBLIC_URL": "https://astro.example.com"}, []string{"ASTRO_DEV_OIDC: refused because ASTRO_PUBLIC_URL"}},
		{map[string]string{"ASTRO_DEV_OIDC": "true", "ASTRO_OIDC_ISSUER": "https://idp.example.com", "ASTRO_OIDC_AUDIENCE": "a"}, []string{"ASTRO_DEV_OIDC: refused with ASTRO_OIDC_ISSUER"}},
	} {
		var o OIDC
		err := ParseEnviron(&o, tc.env)
		if err == nil {
			t.Errorf("%v: no error", tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %v; want %q", tc.env, err, w)
			}
		}
	}
	for _, ok := range []map[string]string{
		{"ASTRO_DEV_OIDC": "true"},
		{"ASTRO_DEV_OIDC": "true", "ASTRO_DEV_OIDC_ADDR": "localhost:8081", "ASTRO_PUBLIC_URL": "http://127.0.0.1:8080"},
		{"ASTRO_OIDC_ISSUER": "http://127.0.0.1:5556/dex", "ASTRO_OIDC_AUDIENCE": "astro"},
	} {
		var o OIDC
		if err := ParseEnviron(&o, ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}
