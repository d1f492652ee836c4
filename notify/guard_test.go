package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeResolver answers from a fixed table; unknown hosts do not exist.
// Entries with several answers are returned one per call, the last one
// repeating, to simulate DNS rebinding.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
	err     error
}

func newFakeResolver(table map[string][]string) *fakeResolver {
	r := &fakeResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
	for host, addrs := range table {
		var as []netip.Addr
		for _, a := range addrs {
			as = append(as, netip.MustParseAddr(a))
		}
		r.answers[host] = [][]netip.Addr{as}
	}
	return r
}

// rebind makes the next lookups of host return first, then later.
func (r *fakeResolver) rebind(host string, first, later string) {
	r.answers[host] = [][]netip.Addr{{netip.MustParseAddr(first)}, {netip.MustParseAddr(later)}}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	answers, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(r.calls[host], len(answers)-1)
	r.calls[host]++
	return answers[i], nil
}

var testHosts = map[string][]string{
	"hooks.slack.com":     {"54.192.1.1", "2600:9000::1"},
	"localhost.evil.test": {"127.0.0.1"},
	"metadata.evil.test":  {"169.254.169.254"},
	"mixed.evil.test":     {"8.8.8.8", "10.1.2.3"},
	"hooks.internal":      {"10.0.0.5"},
	"lab.internal":        {"192.168.1.20"},
}

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		in        string
		wantAllow []string
		wantHosts []string
		wantErr   bool
	}{
		{in: ""},
		{in: " , "},
		{
			in:        "127.0.0.0/8,::1/128,hooks.internal",
			wantAllow: []string{"127.0.0.0/8", "::1/128"},
			wantHosts: []string{"hooks.internal"},
		},
		{
			in:        " 10.1.2.3/8 , 192.168.1.7, Hooks.Internal. ,fd00::1",
			wantAllow: []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::1/128"},
			wantHosts: []string{"hooks.internal"},
		},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "not a host", wantErr: true},
		{in: "https://hooks.internal", wantErr: true},
		{in: "-bad.example", wantErr: true},
		{in: "a..b", wantErr: true},
		{in: "fe80::1%eth0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			g, err := ParseAllowList(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseAllowList error = %v, wantErr %v", err, tt.wantErr)
			}
			var allow []string
			for _, p := range g.Allow {
				allow = append(allow, p.String())
			}
			if fmt.Sprint(allow) != fmt.Sprint(tt.wantAllow) || fmt.Sprint(g.AllowHosts) != fmt.Sprint(tt.wantHosts) {
				t.Fatalf("ParseAllowList = %v %v, want %v %v", allow, g.AllowHosts, tt.wantAllow, tt.wantHosts)
			}
		})
	}
}

func TestGuardCheckURL(t *testing.T) {
	def := Guard{}
	loopback, err := ParseAllowList("127.0.0.0/8,::1/128")
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := ParseAllowList("hooks.internal")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		guard     Guard
		url       string
		wantErr   bool
		wantInMsg string
	}{
		{name: "public https host", guard: def, url: "https://hooks.slack.com/services/T/B/x"},
		{name: "public https host, trailing dot and case", guard: def, url: "https://HOOKS.slack.com./services/T/B/x"},
		{name: "public IPv4 literal", guard: def, url: "https://8.8.8.8/hook"},
		{name: "public IPv6 literal", guard: def, url: "https://[2606:4700::1111]:8443/hook"},
		{name: "http to a public host", guard: def, url: "http://hooks.slack.com/services/T/B/x", wantErr: true, wantInMsg: "scheme http is only allowed for allow-listed hosts"},
		{name: "ftp scheme", guard: def, url: "ftp://hooks.slack.com/x", wantErr: true, wantInMsg: `scheme "ftp" is not allowed`},
		{name: "relative", guard: def, url: "/services/T/B/x", wantErr: true},
		{name: "no host", guard: def, url: "https:///x", wantErr: true, wantInMsg: "no host"},
		{name: "userinfo", guard: def, url: "https://user:pw@hooks.slack.com/x", wantErr: true, wantInMsg: "credentials"},
		{name: "userinfo without password", guard: def, url: "https://user@hooks.slack.com/x", wantErr: true, wantInMsg: "credentials"},
		{name: "unparseable", guard: def, url: "https://[::1/x", wantErr: true},
		{name: "loopback literal", guard: def, url: "https://127.0.0.1/x", wantErr: true, wantInMsg: "loopback address 127.0.0.1 is not allowed"},
		{name: "loopback IPv6", guard: def, url: "https://[::1]:8080/x", wantErr: true, wantInMsg: "loopback address ::1"},
		{name: "loopback IPv4-mapped", guard: def, url: "https://[::ffff:127.0.0.1]/x", wantErr: true, wantInMsg: "loopback address 127.0.0.1"},
		{name: "loopback via DNS", guard: def, url: "https://localhost.evil.test/x", wantErr: true, wantInMsg: "loopback address 127.0.0.1"},
		{name: "metadata IP", guard: def, url: "http://169.254.169.254/latest/meta-data/", wantErr: true, wantInMsg: "link-local address 169.254.169.254"},
		{name: "metadata via DNS", guard: def, url: "https://metadata.evil.test/", wantErr: true, wantInMsg: "link-local address 169.254.169.254"},
		{name: "IPv6 link-local with zone", guard: def, url: "https://[fe80::1%25eth0]/x", wantErr: true, wantInMsg: "link-local address fe80::1"},
		{name: "private 10/8", guard: def, url: "https://10.0.0.1/x", wantErr: true, wantInMsg: "private address 10.0.0.1"},
		{name: "private 172.16/12", guard: def, url: "https://172.20.0.1/x", wantErr: true, wantInMsg: "private"},
		{name: "private 192.168/16", guard: def, url: "https://192.168.0.1/x", wantErr: true, wantInMsg: "private"},
		{name: "ULA", guard: def, url: "https://[fd00:ec2::254]/x", wantErr: true, wantInMsg: "private"},
		{name: "CGNAT", guard: def, url: "https://100.100.100.200/x", wantErr: true, wantInMsg: "shared (CGNAT) address"},
		{name: "unspecified", guard: def, url: "https://0.0.0.0/x", wantErr: true, wantInMsg: "unspecified"},
		{name: "this network", guard: def, url: "https://0.1.2.3/x", wantErr: true, wantInMsg: "reserved"},
		{name: "multicast", guard: def, url: "https://224.0.0.1/x", wantErr: true, wantInMsg: "multicast"},
		{name: "broadcast", guard: def, url: "https://255.255.255.255/x", wantErr: true, wantInMsg: "reserved"},
		{name: "NAT64 of loopback", guard: def, url: "https://[64:ff9b::7f00:1]/x", wantErr: true, wantInMsg: "loopback"},
		{name: "6to4 of private", guard: def, url: "https://[2002:a00:1::1]/x", wantErr: true, wantInMsg: "private"},
		{name: "one private answer among public ones", guard: def, url: "https://mixed.evil.test/x", wantErr: true, wantInMsg: "private address 10.1.2.3"},
		{name: "unknown host", guard: def, url: "https://nx.evil.test/x", wantErr: true, wantInMsg: `host "nx.evil.test" does not resolve`},
		{name: "loopback allowed by CIDR", guard: loopback, url: "https://127.0.0.1:8443/x"},
		{name: "loopback allowed by CIDR over http", guard: loopback, url: "http://127.0.0.1:8080/x"},
		{name: "IPv6 loopback allowed by CIDR", guard: loopback, url: "http://[::1]:8080/x"},
		{name: "loopback host allowed by CIDR", guard: loopback, url: "http://localhost.evil.test:8080/x"},
		{name: "CIDR does not cover metadata", guard: loopback, url: "https://169.254.169.254/", wantErr: true},
		{name: "http still refused for public with allow list", guard: loopback, url: "http://hooks.slack.com/x", wantErr: true},
		{name: "allow-listed host over http", guard: hosts, url: "http://hooks.internal:9000/hook"},
		{name: "allow-listed host, case-insensitive", guard: hosts, url: "https://Hooks.Internal./hook"},
		{name: "unlisted private host", guard: hosts, url: "https://lab.internal/hook", wantErr: true, wantInMsg: "private address 192.168.1.20"},
		{name: "allow-listed host with userinfo", guard: hosts, url: "http://u:p@hooks.internal/hook", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.guard
			g.Resolver = newFakeResolver(testHosts)
			err := g.CheckURL(tt.url)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckURL(%q) error = %v, wantErr %v", tt.url, err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrForbiddenDestination) {
				t.Errorf("error %v does not wrap ErrForbiddenDestination", err)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantInMsg)
			}
			for _, secret := range []string{"/services/", "pw@", "meta-data"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q echoes the URL's %q", err, secret)
				}
			}
		})
	}
}

func TestGuardCheckURLResolverFailure(t *testing.T) {
	r := newFakeResolver(nil)
	r.err = &net.DNSError{Err: "i/o timeout", Name: "hooks.slack.com", IsTimeout: true}
	err := Guard{Resolver: r}.CheckURL("https://hooks.slack.com/x")
	if err == nil || errors.Is(err, ErrForbiddenDestination) {
		t.Fatalf("CheckURL error = %v, want a transient DNS error", err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		t.Fatalf("error %v does not wrap the DNS error", err)
	}
}

func TestGuardErrorForAPI(t *testing.T) {
	err := Guard{}.CheckURL("https://127.0.0.1/x")
	if got, want := fmt.Errorf("webhookUrl: %w", err).Error(), "webhookUrl: loopback address 127.0.0.1 is not allowed"; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
}

// countingServer is an httptest server on 127.0.0.1 that counts requests.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestGuardHTTPClientDial(t *testing.T) {
	srv, hits := countingServer(t, nil)
	u, _ := url.Parse(srv.URL)
	port := u.Port()

	tests := []struct {
		name      string
		guard     func(r *fakeResolver) Guard
		url       string
		wantErr   bool
		wantInMsg string
	}{
		{
			name:      "loopback refused by default",
			guard:     func(*fakeResolver) Guard { return Guard{} },
			url:       srv.URL,
			wantErr:   true,
			wantInMsg: "loopback address 127.0.0.1 is not allowed",
		},
		{
			name:  "loopback allowed by CIDR",
			guard: func(*fakeResolver) Guard { return Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}} },
			url:   srv.URL,
		},
		{
			name:      "other CIDR does not help",
			guard:     func(*fakeResolver) Guard { return Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}} },
			url:       srv.URL,
			wantErr:   true,
			wantInMsg: "loopback",
		},
		{
			name: "host name resolving to loopback refused at dial",
			guard: func(r *fakeResolver) Guard {
				r.answers["hooks.test"] = [][]netip.Addr{{netip.MustParseAddr("127.0.0.1")}}
				return Guard{Resolver: r}
			},
			url:       "http://hooks.test:" + port + "/",
			wantErr:   true,
			wantInMsg: "loopback",
		},
		{
			name: "allow-listed host resolving to loopback",
			guard: func(r *fakeResolver) Guard {
				r.answers["hooks.internal"] = [][]netip.Addr{{netip.MustParseAddr("127.0.0.1")}}
				return Guard{Resolver: r, AllowHosts: []string{"hooks.internal"}}
			},
			url: "http://hooks.internal:" + port + "/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			client := tt.guard(newFakeResolver(nil)).HTTPClient(5 * time.Second)
			resp, err := client.Get(tt.url)
			if err == nil {
				resp.Body.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Get error = %v, wantErr %v", err, tt.wantErr)
			}
			reached := hits.Load() > before
			if reached == tt.wantErr {
				t.Fatalf("server reached = %v, want %v", reached, !tt.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrForbiddenDestination) {
				t.Errorf("error %v does not wrap ErrForbiddenDestination", err)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantInMsg)
			}
		})
	}
}

func TestGuardHTTPClientDNSRebinding(t *testing.T) {
	srv, hits := countingServer(t, nil)
	u, _ := url.Parse(srv.URL)

	r := newFakeResolver(nil)
	r.rebind("rebind.test", "8.8.8.8", "127.0.0.1")
	// http is only accepted for allow-listed hosts, so validate the https
	// form; the dial below is what matters.
	g := Guard{Resolver: r}
	if err := g.CheckURL("https://rebind.test/hook"); err != nil {
		t.Fatalf("CheckURL at validation time: %v", err)
	}
	resp, err := g.HTTPClient(5 * time.Second).Get("http://rebind.test:" + u.Port() + "/hook")
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrForbiddenDestination) {
		t.Fatalf("Get after rebinding error = %v, want ErrForbiddenDestination", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("rebinding reached the server")
	}
}

func TestGuardHTTPClientRedirects(t *testing.T) {
	var target atomic.Value
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/final" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		http.Redirect(w, r, target.Load().(string), http.StatusFound)
	})
	g := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Resolver: newFakeResolver(testHosts)}

	tests := []struct {
		name      string
		location  string
		wantErr   bool
		wantInMsg string
	}{
		{name: "to an allowed address", location: srv.URL + "/final"},
		{name: "to metadata", location: "http://169.254.169.254/latest/meta-data/", wantErr: true, wantInMsg: "link-local address 169.254.169.254"},
		{name: "to private network", location: "https://10.0.0.1/", wantErr: true, wantInMsg: "private"},
		{name: "downgrade to http on a public host", location: "http://hooks.slack.com/x", wantErr: true, wantInMsg: "scheme http"},
		{name: "with credentials", location: "https://u:p@hooks.slack.com/x", wantErr: true, wantInMsg: "credentials"},
		{name: "loop", location: "/loop", wantErr: true, wantInMsg: "stopped after 5 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target.Store(tt.location)
			resp, err := g.HTTPClient(5 * time.Second).Get(srv.URL + "/start")
			if err == nil {
				resp.Body.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Get error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantInMsg)
			}
		})
	}
}

func TestSendSlackThroughGuard(t *testing.T) {
	hook := &slackHook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()

	err := SendSlack(context.Background(), Guard{}.HTTPClient(5*time.Second), srv.URL+hookPath, approvalMessage())
	if !errors.Is(err, ErrForbiddenDestination) || !errors.Is(err, ErrPermanent) {
		t.Fatalf("SendSlack to loopback error = %v, want ErrForbiddenDestination and ErrPermanent", err)
	}
	if strings.Contains(err.Error(), "secretToken") {
		t.Fatalf("error %q leaks the webhook path", err)
	}

	allowed := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if err := SendSlack(context.Background(), allowed.HTTPClient(5*time.Second), srv.URL+hookPath, approvalMessage()); err != nil {
		t.Fatalf("SendSlack with loopback allowed: %v", err)
	}
}

// Every block of the IANA IPv4 and IPv6 Special-Purpose Address Registries
// that is not globally reachable is refused (one address from each), IPv6
// forms embedding a refused IPv4 address are refused, and the allow list
// still admits what it names.
func TestGuardRefusesSpecialPurposeRanges(t *testing.T) {
	refused := []struct{ block, addr, kind string }{
		// IPv4 registry.
		{"0.0.0.0/8 this network", "0.0.0.7", "reserved"},
		{"0.0.0.0/32 this host", "0.0.0.0", "unspecified"},
		{"10.0.0.0/8 private", "10.255.0.1", "private"},
		{"100.64.0.0/10 shared address space", "100.127.255.254", "shared"},
		{"127.0.0.0/8 loopback", "127.3.2.1", "loopback"},
		{"169.254.0.0/16 link-local", "169.254.0.1", "link-local"},
		{"172.16.0.0/12 private", "172.31.255.1", "private"},
		{"192.0.0.0/24 IETF protocol assignments", "192.0.0.1", "reserved"},
		{"192.0.0.0/29 DS-Lite", "192.0.0.2", "reserved"},
		{"192.0.0.8/32 IPv4 dummy", "192.0.0.8", "reserved"},
		{"192.0.0.170/32 NAT64 discovery", "192.0.0.170", "reserved"},
		{"192.0.2.0/24 documentation", "192.0.2.10", "reserved"},
		{"192.88.99.0/24 deprecated 6to4 relay", "192.88.99.1", "reserved"},
		{"192.168.0.0/16 private", "192.168.255.255", "private"},
		{"198.18.0.0/15 benchmarking", "198.19.255.1", "reserved"},
		{"198.51.100.0/24 documentation", "198.51.100.7", "reserved"},
		{"203.0.113.0/24 documentation", "203.0.113.9", "reserved"},
		{"224.0.0.0/4 multicast", "239.1.2.3", "multicast"},
		{"240.0.0.0/4 reserved", "250.1.2.3", "reserved"},
		{"255.255.255.255/32 limited broadcast", "255.255.255.255", "reserved"},
		// IPv6 registry.
		{"::1/128 loopback", "::1", "loopback"},
		{"::/128 unspecified", "::", "unspecified"},
		{"::ffff:0:0/96 mapped loopback", "::ffff:127.0.0.1", "loopback"},
		{"::ffff:0:0/96 mapped private", "::ffff:10.0.0.1", "private"},
		{"::ffff:0:0/96 mapped benchmarking", "::ffff:198.18.0.1", "reserved"},
		{"::ffff:0:0:0/96 IPv4-translated", "::ffff:0:808:808", "reserved"},
		{"::/96 IPv4-compatible", "::8.8.8.8", "reserved"},
		{"64:ff9b::/96 NAT64 of loopback", "64:ff9b::127.0.0.1", "loopback"},
		{"64:ff9b::/96 NAT64 of private", "64:ff9b::10.1.1.1", "private"},
		{"64:ff9b::/96 NAT64 of link-local", "64:ff9b::169.254.169.254", "link-local"},
		{"64:ff9b::/96 NAT64 of documentation", "64:ff9b::192.0.2.1", "reserved"},
		{"64:ff9b:1::/48 local-use NAT64", "64:ff9b:1::808:808", "reserved"},
		{"100::/64 discard-only", "100::1", "reserved"},
		{"100:0:0:1::/64 dummy prefix", "100:0:0:1::1", "reserved"},
		{"2001::/23 IETF protocol assignments", "2001:1ff::1", "reserved"},
		{"2001::/32 Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"},
		{"2001:2::/48 benchmarking", "2001:2::1", "reserved"},
		{"2001:10::/28 deprecated ORCHID", "2001:10::1", "reserved"},
		{"2001:db8::/32 documentation", "2001:db8::1", "reserved"},
		{"2002::/16 6to4 of private", "2002:c0a8:101::1", "private"},
		{"2002::/16 6to4 of loopback", "2002:7f00:1::1", "loopback"},
		{"2002::/16 6to4 of CGNAT", "2002:6440:1::1", "shared"},
		{"3fff::/20 documentation", "3fff:fff::1", "reserved"},
		{"5f00::/16 segment routing", "5f00::1", "reserved"},
		{"fc00::/7 unique local", "fc00::1", "private"},
		{"fe80::/10 link-local", "febf::1", "link-local"},
		{"fec0::/10 site-local", "fec0::1", "reserved"},
		{"ff00::/8 multicast", "ff02::1", "multicast"},
		{"outside 2000::/3, unassigned", "4000::1", "reserved"},
	}
	g := Guard{Resolver: newFakeResolver(nil)}
	for _, tc := range refused {
		t.Run(tc.block, func(t *testing.T) {
			host := tc.addr
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			err := g.CheckURL("https://" + host + "/hook")
			if !errors.Is(err, ErrForbiddenDestination) {
				t.Fatalf("CheckURL(%s) = %v, want ErrForbiddenDestination", tc.addr, err)
			}
			if !strings.Contains(err.Error(), tc.kind) {
				t.Fatalf("CheckURL(%s) = %q, want it to say %q", tc.addr, err, tc.kind)
			}
			// The dial-time check refuses the same address.
			if err := g.checkAddr(netip.MustParseAddr(tc.addr)); !errors.Is(err, ErrForbiddenDestination) {
				t.Fatalf("checkAddr(%s) = %v, want ErrForbiddenDestination", tc.addr, err)
			}
		})
	}

	// Globally reachable addresses, including IPv6 forms embedding a public
	// IPv4 address and registry entries that are globally reachable.
	for _, addr := range []string{
		"8.8.8.8", "1.1.1.1", "192.31.196.1", "192.52.193.1", "192.175.48.1", "198.17.255.1", "198.20.0.1",
		"2606:4700::1111", "2620:4f:8000::1", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
		"2001:200::1", "2400:cb00::1",
	} {
		t.Run("allowed "+addr, func(t *testing.T) {
			if kind := classify(netip.MustParseAddr(addr)); kind != "" {
				t.Fatalf("classify(%s) = %q, want a public address", addr, kind)
			}
		})
	}

	// The allow list still admits what it names, and only that.
	allow, err := ParseAllowList("198.18.0.0/15,64:ff9b:1::/48,192.0.2.0/24,hooks.lab")
	if err != nil {
		t.Fatal(err)
	}
	allow.Resolver = newFakeResolver(map[string][]string{"hooks.lab": {"2001:db8::5"}, "other.lab": {"2001:db8::6"}})
	for _, u := range []string{"http://198.18.0.5:8080/x", "https://[64:ff9b:1::a00:1]/x", "http://192.0.2.4/x", "http://hooks.lab/x"} {
		if err := allow.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%s) with an allow list = %v, want allowed", u, err)
		}
	}
	for _, u := range []string{"https://198.51.100.7/x", "https://other.lab/x", "https://[2001:2::1]/x"} {
		if err := allow.CheckURL(u); !errors.Is(err, ErrForbiddenDestination) {
			t.Errorf("CheckURL(%s) with an allow list = %v, want ErrForbiddenDestination", u, err)
		}
	}
}
