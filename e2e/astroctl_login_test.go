package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// astroctlDeviceLogin runs `astroctl auth login --server API` (no key: the OIDC
// device flow) against the api binary started with its development issuer, approves
// the user code it prints on the issuer's /device page as name (as a person would in
// a browser), and checks that login completes with the tokens saved (0600) and that
// whoami then names the user with their role in org; logout forgets them.
func astroctlDeviceLogin(t *testing.T, s *stack, name, org, role string) {
	t.Helper()
	bin := buildAstroctl(t, s.Bin)
	cfgPath := filepath.Join(t.TempDir(), "astroctl", "config.yaml")
	c := &cli{t: t, bin: bin, env: append(os.Environ(), "ASTROCTL_CONFIG="+cfgPath, "ASTROCTL_API_KEY=", "NO_COLOR=1"), dir: t.TempDir()}

	page, code := deviceLogin(t, c, s.URL(), "sso", name)
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	var who map[string]any
	if err := json.Unmarshal([]byte(c.ok("whoami", "-o", "json").stdout), &who); err != nil ||
		who["user"] != name+"@localhost" || who["organizationName"] != org || who["role"] != role {
		t.Fatalf("whoami after the device flow: %v %v", who, err)
	}
	c.ok("auth", "logout")
	c.expect(3, "auth login", "whoami")
	t.Logf("astroctl signed %s in with the device flow (code %s at %s); whoami: %s in %s", name, code, page, role, org)
}

// deviceLogin runs `astroctl auth login --server server --context contextName` (the
// OIDC device flow), approves the user code it prints on the development issuer's
// /device page as name, as a person would in a browser, and waits for the login to
// say it is done as NAME@localhost. It returns the page and the code.
func deviceLogin(t *testing.T, c *cli, server, contextName, name string) (page, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	login := exec.CommandContext(ctx, c.bin, "auth", "login", "--server", server, "--context", contextName)
	login.Env, login.Dir = c.env, c.dir
	var out strings.Builder
	login.Stdout = &out
	stderr, err := login.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	shown := regexp.MustCompile(`open (\S+) and enter the code (\S+)`)
	var said []string
	lines := bufio.NewScanner(stderr)
	for page == "" && lines.Scan() {
		said = append(said, lines.Text())
		if m := shown.FindStringSubmatch(lines.Text()); m != nil {
			page, code = m[1], m[2]
		}
	}
	if page == "" {
		_ = login.Wait()
		t.Fatalf("astroctl auth login showed no code:\n%s", strings.Join(said, "\n"))
	}
	go func() { // drain the rest so the process never blocks on its stderr
		for lines.Scan() {
		}
	}()
	resp, err := http.PostForm(page, url.Values{"user_code": {code}, "username": {name}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the issuer's device page refused %s: %d", code, resp.StatusCode)
	}
	if err := login.Wait(); err != nil || !strings.Contains(out.String(), "as "+name+"@localhost") {
		t.Fatalf("astroctl auth login: %v\n%s", err, out.String())
	}
	return page, code
}
