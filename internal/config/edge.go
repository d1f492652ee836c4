package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Edge configures how the API meets its clients: rate limits per client IP and per
// credential, and the proxies whose X-Forwarded-For it believes.
type Edge struct {
	// RateIP is the sustained requests per second of one client IP, on every route.
	RateIP float64 `env:"ASTRO_RATE_LIMIT_IP_RPS" envDefault:"20"`
	// BurstIP is how many requests one client IP may send at once.
	BurstIP int `env:"ASTRO_RATE_LIMIT_IP_BURST" envDefault:"100"`
	// RateKey is the sustained requests per second of one API key or bearer token.
	RateKey float64 `env:"ASTRO_RATE_LIMIT_KEY_RPS" envDefault:"50"`
	// BurstKey is how many requests one credential may send at once.
	BurstKey int `env:"ASTRO_RATE_LIMIT_KEY_BURST" envDefault:"200"`
	// TrustedProxies are CIDRs (or addresses) of the reverse proxies in front of the
	// API, comma-separated; X-Forwarded-For is believed only from them. Empty: the
	// client is the connection's peer, whatever headers say.
	TrustedProxies string `env:"ASTRO_TRUSTED_PROXIES"`
}

// Proxies parses TrustedProxies.
func (e Edge) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(e.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR or an IP address", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Validate reports limits that are not positive and proxies that do not parse.
func (e Edge) Validate() error {
	var errs []error
	if e.RateIP <= 0 {
		errs = append(errs, fmt.Errorf("ASTRO_RATE_LIMIT_IP_RPS: %v is not a positive rate", e.RateIP))
	}
	if e.BurstIP < 1 {
		errs = append(errs, fmt.Errorf("ASTRO_RATE_LIMIT_IP_BURST: %d is not a positive count", e.BurstIP))
	}
	if e.RateKey <= 0 {
		errs = append(errs, fmt.Errorf("ASTRO_RATE_LIMIT_KEY_RPS: %v is not a positive rate", e.RateKey))
	}
	if e.BurstKey < 1 {
		errs = append(errs, fmt.Errorf("ASTRO_RATE_LIMIT_KEY_BURST: %d is not a positive count", e.BurstKey))
	}
	if _, err := e.Proxies(); err != nil {
		errs = append(errs, fmt.Errorf("ASTRO_TRUSTED_PROXIES: %w", err))
	}
	return errors.Join(errs...)
}
