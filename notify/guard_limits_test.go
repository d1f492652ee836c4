package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The limits of a DNS name are inclusive: 253 bytes, labels of 63; the alphabet is
// lower-case letters, digits, '-' and '_'.
func TestValidHostnameLimits(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	name253 := strings.Join([]string{label63, label63, label63, strings.Repeat("b", 61)}, ".")
	if len(name253) != 253 {
		t.Fatalf("test name has %d bytes", len(name253))
	}
	for h, want := range map[string]bool{
		name253:                    true,
		name253 + "b":              false,
		label63 + ".example":       true,
		label63 + "a.example":      false,
		"a.z.0.9.a-b.a_b":          true,
		"hooks-1.example.com":      true,
		"`.example":                false,
		"{.example":                false,
		"/.example":                false,
		":.example":                false,
		"a@b.example":              false,
		"-a.example":               false,
		"a-.example":               false,
		"a..example":               false,
		"":                         false,
		"xn--bcher-kva.example.de": true,
	} {
		if got := validHostname(h); got != want {
			t.Errorf("validHostname(%q) = %v, want %v", h, got, want)
		}
	}
}

// A client makes at most five requests: it follows four redirects, each re-checked,
// and refuses the fifth, with the wording of net/http's own limit ("stopped after
// 10 redirects" also means ten requests).
func TestGuardHTTPClientRedirectLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if err != nil || n == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	client := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}.HTTPClient(10 * time.Second)

	resp, err := client.Get(srv.URL + "/r/4")
	if err != nil {
		t.Fatalf("four redirects: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("four redirects: status %d", resp.StatusCode)
	}
	resp, err = client.Get(srv.URL + "/r/5")
	if err == nil {
		resp.Body.Close()
		t.Fatal("five redirects followed")
	}
	if !strings.Contains(err.Error(), "stopped after 5 redirects") {
		t.Fatalf("five redirects: %v", err)
	}
}

// The transport keeps its timeouts: a webhook host cannot hold a TLS handshake or
// an idle connection open for ever, nor is a handshake cut short.
func TestGuardHTTPClientTransport(t *testing.T) {
	tr, ok := Guard{}.HTTPClient(time.Second).Transport.(*http.Transport)
	if !ok {
		t.Fatal("transport is not an *http.Transport")
	}
	if tr.Proxy != nil {
		t.Error("the transport uses a proxy, whose dials the guard cannot check")
	}
	if tr.TLSHandshakeTimeout != 10*time.Second || tr.IdleConnTimeout != 90*time.Second || tr.ExpectContinueTimeout != time.Second {
		t.Errorf("timeouts: TLS handshake %v, idle %v, expect-continue %v", tr.TLSHandshakeTimeout, tr.IdleConnTimeout, tr.ExpectContinueTimeout)
	}
}

// staticResolver answers every host with the same addresses.
type staticResolver []netip.Addr

func (r staticResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return r, nil
}

// With its own resolver, the client dials each address of the host in turn until
// one answers.
func TestGuardHTTPClientTriesEachAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	// Nothing listens on 127.0.0.2 at the server's port: that dial is refused.
	g := Guard{
		Resolver:   staticResolver{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")},
		AllowHosts: []string{"hooks.internal"},
	}
	resp, err := g.HTTPClient(10 * time.Second).Get(fmt.Sprintf("http://hooks.internal:%d/", port))
	if err != nil {
		t.Fatalf("second address not tried: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
