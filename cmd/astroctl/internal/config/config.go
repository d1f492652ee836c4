// Package config reads and writes astroctl's configuration: named contexts (an API
// URL, an organization and a credential each: an API key, or a user's OIDC tokens from
// the device flow) and the current one, in a YAML file only its owner can read (0600),
// like kubectl's kubeconfig.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"sigs.k8s.io/yaml"
)

// EnvPath names the variable that overrides the file's location.
const EnvPath = "ASTROCTL_CONFIG"

// Context is one API, organization and credential.
type Context struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	Org    string `json:"org,omitempty"`
	APIKey string `json:"apiKey,omitempty"`
	// OIDC is a user's sign-in with the device flow (auth login without --api-key);
	// an API key, when there is one, is used instead.
	OIDC *OIDCLogin `json:"oidc,omitempty"`
}

// OIDCLogin is a user's tokens from an OIDC issuer, and what refreshing them needs.
type OIDCLogin struct {
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"clientId"`
	Scopes   []string `json:"scopes,omitempty"`
	// User is who signed in (their email), for display.
	User         string `json:"user,omitempty"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	// Expiry is when AccessToken expires; zero when the issuer did not say.
	Expiry time.Time `json:"expiry,omitzero"`
}

// Expired reports whether the access token expires within leeway of now.
func (l *OIDCLogin) Expired(now time.Time, leeway time.Duration) bool {
	return !l.Expiry.IsZero() && !now.Add(leeway).Before(l.Expiry)
}

// Config is the whole file.
type Config struct {
	CurrentContext string    `json:"currentContext,omitempty"`
	Contexts       []Context `json:"contexts,omitempty"`
	// KubeContexts are the kubeconfig contexts `clusters set-context` added, so that
	// `delete-context` removes those and nothing else.
	KubeContexts []KubeContext `json:"kubeContexts,omitempty"`
}

// KubeContext is a context (and its cluster and user, of the same name) added to a
// kubeconfig file.
type KubeContext struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// ErrNoContext is returned when no context is selected or none exists.
var ErrNoContext = errors.New("no context: log in first with `astroctl auth login --server URL` (or --api-key KEY --server URL)")

// Path is where the file is: $ASTROCTL_CONFIG, else astroctl/config.yaml under the
// user's configuration directory.
func Path() (string, error) {
	if p := os.Getenv(EnvPath); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory (set %s): %w", EnvPath, err)
	}
	return filepath.Join(dir, "astroctl", "config.yaml"), nil
}

// Load reads the file at path; a missing file is an empty configuration.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the user names the file (ASTROCTL_CONFIG)
	if errors.Is(err, os.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &c, nil
}

// Save writes the file at path with 0600 permissions (its directory 0700), replacing
// it atomically; an existing file with wider permissions is narrowed.
func (c *Config) Save(path string) error {
	raw, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes it on an error
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Set adds the context or replaces the one of the same name.
func (c *Config) Set(ctx Context) {
	for i := range c.Contexts {
		if c.Contexts[i].Name == ctx.Name {
			c.Contexts[i] = ctx
			return
		}
	}
	c.Contexts = append(c.Contexts, ctx)
	sort.Slice(c.Contexts, func(i, j int) bool { return c.Contexts[i].Name < c.Contexts[j].Name })
}

// Get returns the named context.
func (c *Config) Get(name string) (Context, bool) {
	for _, x := range c.Contexts {
		if x.Name == name {
			return x, true
		}
	}
	return Context{}, false
}

// Current returns the context named by override, else the current one.
func (c *Config) Current(override string) (Context, error) {
	name := override
	if name == "" {
		name = c.CurrentContext
	}
	if name == "" {
		return Context{}, ErrNoContext
	}
	ctx, ok := c.Get(name)
	if !ok {
		return Context{}, fmt.Errorf("context %q not found (astroctl config get-contexts lists them)", name)
	}
	return ctx, nil
}

// Delete removes the named context (and unsets it if current); it reports whether
// it existed.
func (c *Config) Delete(name string) bool {
	for i, x := range c.Contexts {
		if x.Name == name {
			c.Contexts = append(c.Contexts[:i], c.Contexts[i+1:]...)
			if c.CurrentContext == name {
				c.CurrentContext = ""
			}
			return true
		}
	}
	return false
}
