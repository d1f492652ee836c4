package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/astropulse/astroplane/internal/oidcauth"
)

// OIDC configures user sign-in with OIDC bearer tokens, and the development issuer
// that `make run` signs users in with. With neither an issuer nor the development
// issuer, bearer tokens are refused (401) and only API keys authenticate.
type OIDC struct {
	// Issuer is the issuer URL (https, or http on a loopback host); its discovery
	// document and JWKS are fetched from it. Auth0: https://TENANT.auth0.com/
	// (trailing slash included, as Auth0's iss has it).
	Issuer string `env:"ASTRO_OIDC_ISSUER"`
	// Audience must be in each token's aud: Auth0's API identifier, Okta's
	// authorization server audience, or the client ID (Keycloak, Dex, Google).
	Audience string `env:"ASTRO_OIDC_AUDIENCE"`
	// SubjectClaim, EmailClaim, EmailVerifiedClaim and NameClaim name the claims
	// the user is read from.
	SubjectClaim       string `env:"ASTRO_OIDC_SUBJECT_CLAIM" envDefault:"sub"`
	EmailClaim         string `env:"ASTRO_OIDC_EMAIL_CLAIM" envDefault:"email"`
	EmailVerifiedClaim string `env:"ASTRO_OIDC_EMAIL_VERIFIED_CLAIM" envDefault:"email_verified"`
	NameClaim          string `env:"ASTRO_OIDC_NAME_CLAIM" envDefault:"name"`
	// CLIClientID is the public client (no secret) registered at the issuer with the
	// device authorization grant, that astroctl auth login signs users in as (GET
	// /api/v1/auth/config tells it); empty: astroctl logs in with API keys only. The
	// development issuer's client is used when ASTRO_DEV_OIDC is set.
	CLIClientID string `env:"ASTRO_OIDC_CLI_CLIENT_ID"`
	// ClockSkew is the leeway on exp and nbf, at most 5m.
	ClockSkew time.Duration `env:"ASTRO_OIDC_CLOCK_SKEW" envDefault:"1m"`
	// KeysMaxAge is how long fetched signing keys are trusted before the JWKS is
	// fetched again (an unknown kid fetches it at once).
	KeysMaxAge time.Duration `env:"ASTRO_OIDC_KEYS_MAX_AGE" envDefault:"1h"`

	// Dev starts the development issuer (a real OIDC provider where any user name
	// signs in without a password) on DevAddr, and makes it the issuer. Refused
	// unless DevAddr and PublicURL are loopback and Production is false.
	Dev     bool   `env:"ASTRO_DEV_OIDC" envDefault:"false"`
	DevAddr string `env:"ASTRO_DEV_OIDC_ADDR" envDefault:"127.0.0.1:8081"`
	// PublicURL is the API's URL as its users reach it.
	PublicURL string `env:"ASTRO_PUBLIC_URL" envDefault:"http://localhost:8080"`
	// Production declares a production deployment: the development issuer is refused.
	Production bool `env:"ASTRO_PRODUCTION" envDefault:"false"`
}

// DevAudience is the audience of the development issuer's tokens when
// ASTRO_OIDC_AUDIENCE is not set.
const DevAudience = "astro-plane"

// Enabled reports whether bearer tokens are accepted at all.
func (o OIDC) Enabled() bool { return o.Issuer != "" || o.Dev }

// DevIssuerURL is the development issuer's URL: http://localhost:PORT of DevAddr.
func (o OIDC) DevIssuerURL() string {
	_, port, _ := net.SplitHostPort(o.DevAddr)
	return "http://localhost:" + port
}

// Verifier returns the token verifier the configuration names, or nil when bearer
// tokens are not accepted.
func (o OIDC) Verifier() (*oidcauth.Verifier, error) {
	if !o.Enabled() {
		return nil, nil
	}
	issuer, audience := o.Issuer, o.Audience
	if o.Dev {
		issuer = o.DevIssuerURL()
		if audience == "" {
			audience = DevAudience
		}
	}
	return oidcauth.New(oidcauth.Config{
		Issuer: issuer, Audience: audience,
		SubjectClaim: o.SubjectClaim, EmailClaim: o.EmailClaim, EmailVerifiedClaim: o.EmailVerifiedClaim, NameClaim: o.NameClaim,
		ClockSkew: o.ClockSkew, KeysMaxAge: o.KeysMaxAge,
	})
}

// Validate reports every variable the API cannot sign users in with, by name, and
// refuses the development issuer anywhere but on a developer's machine.
func (o OIDC) Validate() error {
	var errs []error
	if o.Issuer != "" {
		if err := issuerURL(o.Issuer); err != nil {
			errs = append(errs, fmt.Errorf("ASTRO_OIDC_ISSUER: %w", err))
		}
		if strings.TrimSpace(o.Audience) == "" {
			errs = append(errs, errors.New("ASTRO_OIDC_AUDIENCE: required with ASTRO_OIDC_ISSUER (the API identifier or client ID tokens are issued for)"))
		}
	}
	for name, v := range map[string]string{"ASTRO_OIDC_SUBJECT_CLAIM": o.SubjectClaim, "ASTRO_OIDC_EMAIL_CLAIM": o.EmailClaim,
		"ASTRO_OIDC_EMAIL_VERIFIED_CLAIM": o.EmailVerifiedClaim, "ASTRO_OIDC_NAME_CLAIM": o.NameClaim} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s: empty (a claim name)", name))
		}
	}
	if o.ClockSkew < 0 || o.ClockSkew > 5*time.Minute {
		errs = append(errs, fmt.Errorf("ASTRO_OIDC_CLOCK_SKEW: %s is not between 0s and 5m", o.ClockSkew))
	}
	if o.KeysMaxAge < time.Minute || o.KeysMaxAge > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("ASTRO_OIDC_KEYS_MAX_AGE: %s is not between 1m and 168h", o.KeysMaxAge))
	}
	if u, err := url.Parse(o.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("ASTRO_PUBLIC_URL: %q is not an absolute http(s) URL", o.PublicURL))
	}
	if o.Dev {
		errs = append(errs, o.devRefusals()...)
	}
	return errors.Join(errs...)
}

// devRefusals are the reasons the development issuer may not start: anyone who
// reaches it signs in as anyone, so it runs only on loopback, for an API whose
// public URL is loopback, outside production, and as the only issuer.
func (o OIDC) devRefusals() []error {
	const why = "the development issuer signs anyone in as any user without a password"
	var errs []error
	if o.Production {
		errs = append(errs, fmt.Errorf("ASTRO_DEV_OIDC: refused because ASTRO_PRODUCTION is true: %s", why))
	}
	if o.Issuer != "" {
		errs = append(errs, errors.New("ASTRO_DEV_OIDC: refused with ASTRO_OIDC_ISSUER set: the API trusts one issuer; unset one of them"))
	}
	host, _, err := net.SplitHostPort(o.DevAddr)
	switch {
	case err != nil || HostPort(o.DevAddr, false) != nil:
		errs = append(errs, fmt.Errorf("ASTRO_DEV_OIDC_ADDR: %q is not host:port", o.DevAddr))
	case !loopback(host):
		errs = append(errs, fmt.Errorf("ASTRO_DEV_OIDC_ADDR: refused: %q is not a loopback address (127.0.0.1, ::1 or localhost): %s", o.DevAddr, why))
	}
	if u, err := url.Parse(o.PublicURL); err == nil && u.Host != "" && !loopback(u.Hostname()) {
		errs = append(errs, fmt.Errorf("ASTRO_DEV_OIDC: refused because ASTRO_PUBLIC_URL %q is not on loopback (a deployment, not a developer's machine): %s", o.PublicURL, why))
	}
	return errs
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// issuerURL reports an issuer that is not an https URL (http only on loopback,
// for local issuers such as Dex or Keycloak in a container).
func issuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL without credentials, query or fragment", s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback(u.Hostname()):
	default:
		return fmt.Errorf("%q: an issuer must be https (http only on loopback)", s)
	}
	return nil
}
