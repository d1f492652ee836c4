package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenDestination is wrapped by Guard errors for URLs and addresses
// that outbound requests may not reach. The wrapping error's message is only
// the reason, e.g. "loopback address 127.0.0.1 is not allowed", so an API
// handler can prefix the field: fmt.Errorf("webhookUrl: %w", err).
var ErrForbiddenDestination = errors.New("forbidden destination")

// forbiddenError carries a human-readable reason and matches
// ErrForbiddenDestination.
type forbiddenError struct{ reason string }

func (e *forbiddenError) Error() string        { return e.reason }
func (e *forbiddenError) Is(target error) bool { return target == ErrForbiddenDestination }

func forbidden(format string, args ...any) error {
	return &forbiddenError{reason: fmt.Sprintf(format, args...)}
}

// Resolver looks up a host's addresses; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// lookupTimeout bounds the DNS lookup done by CheckURL.
const lookupTimeout = 5 * time.Second

// maxRedirects is how many redirects an HTTPClient follows.
const maxRedirects = 5

// Guard decides which destinations outbound webhooks may reach. By default
// only public unicast addresses are allowed, and only over https. The zero
// Guard is ready to use; a Guard must not be modified while in use.
type Guard struct {
	// Allow lists networks that are allowed even though they are loopback,
	// private, link-local, etc. Plain http is accepted for hosts whose
	// addresses all fall inside Allow.
	Allow []netip.Prefix
	// AllowHosts lists host names (lower case, no trailing dot) that are
	// allowed whatever they resolve to, over http or https. Their addresses
	// are not checked, at validation or at dial time.
	AllowHosts []string
	// Resolver resolves host names; net.DefaultResolver when nil.
	Resolver Resolver
}

// ParseAllowList parses a comma-separated list of CIDR prefixes, IP
// addresses and host names, such as "127.0.0.0/8,::1/128,hooks.internal".
// Blank entries are ignored; an empty list allows nothing extra.
func ParseAllowList(s string) (Guard, error) {
	var g Guard
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				return Guard{}, fmt.Errorf("allow list entry %q: %w", entry, err)
			}
			g.Allow = append(g.Allow, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(entry); err == nil {
			if a.Zone() != "" {
				return Guard{}, fmt.Errorf("allow list entry %q: zoned address", entry)
			}
			a = a.Unmap()
			g.Allow = append(g.Allow, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		host := normalizeHost(entry)
		if !validHostname(host) {
			return Guard{}, fmt.Errorf("allow list entry %q: not a CIDR prefix, IP address or host name", entry)
		}
		g.AllowHosts = append(g.AllowHosts, host)
	}
	return g, nil
}

// CheckURL reports whether raw may be used as a webhook destination: an
// absolute https URL (http only for allow-listed hosts or addresses) without
// credentials, whose host resolves only to allowed addresses. Refusals wrap
// ErrForbiddenDestination; DNS failures other than "no such host" are
// returned as they are, since they may be transient. Because DNS answers can
// change, requests must also go through HTTPClient, which re-checks the
// address actually dialled.
func (g Guard) CheckURL(raw string) error {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	return g.checkURL(ctx, raw)
}

// checkURL implements CheckURL. Its messages never include the URL's path or
// query, which for webhooks is the credential.
func (g Guard) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return forbidden("not a valid URL")
	}
	if u.User != nil {
		return forbidden("URL must not contain credentials")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		if scheme == "" {
			return forbidden("URL must be absolute and use https")
		}
		return forbidden("scheme %q is not allowed, use https", scheme)
	}
	host := normalizeHost(u.Hostname())
	if host == "" {
		return forbidden("URL has no host")
	}

	hostAllowed := g.hostAllowed(host)
	if !hostAllowed {
		addrs, err := g.resolve(ctx, host)
		if err != nil {
			return err
		}
		hostAllowed = true
		for _, a := range addrs {
			if err := g.checkAddr(a); err != nil {
				return err
			}
			hostAllowed = hostAllowed && g.inAllow(a)
		}
	}
	if scheme == "http" && !hostAllowed {
		return forbidden("scheme http is only allowed for allow-listed hosts, use https")
	}
	return nil
}

// resolve returns host's addresses; an IP literal is returned as is.
func (g Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if !validHostname(host) {
		return nil, forbidden("host %q is not a valid host name", host)
	}
	var r Resolver = net.DefaultResolver
	if g.Resolver != nil {
		r = g.Resolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, forbidden("host %q does not resolve", host)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, forbidden("host %q does not resolve", host)
	}
	return addrs, nil
}

// hostAllowed reports whether host is listed in AllowHosts or is an IP
// literal inside Allow.
func (g Guard) hostAllowed(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return g.inAllow(a)
	}
	for _, h := range g.AllowHosts {
		if normalizeHost(h) == host {
			return true
		}
	}
	return false
}

// inAllow reports whether a falls inside one of the Allow prefixes.
func (g Guard) inAllow(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkAddr refuses non-public addresses that are not in Allow.
func (g Guard) checkAddr(a netip.Addr) error {
	if g.inAllow(a) {
		return nil
	}
	if kind := classify(a); kind != "" {
		return forbidden("%s address %s is not allowed", kind, a.WithZone("").Unmap())
	}
	return nil
}

// Special-purpose ranges refused in addition to those netip.Addr's
// predicates cover: every entry of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries that is not globally reachable, plus deprecated and
// reserved space. The registries' few globally reachable entries inside a
// refused block (anycast services, AMT, AS112, ORCHIDv2 in 192.0.0.0/24 and
// 2001::/23) are not webhook destinations, so the whole block is refused.
var (
	cgnat    = netip.MustParsePrefix("100.64.0.0/10")
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"; 0.x reaches the local host on Linux
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
		netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking, often used internally
		netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, including broadcast
		netip.MustParsePrefix("::/96"),           // deprecated IPv4-compatible
		netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
		netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use IPv4/IPv6 translation
		netip.MustParsePrefix("100::/64"),        // discard-only
		netip.MustParsePrefix("100:0:0:1::/64"),  // dummy prefix
		netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo, benchmarking, ORCHID…)
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("3fff::/20"),       // documentation
		netip.MustParsePrefix("5f00::/16"),       // segment routing (SRv6) SIDs
		netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	}
	// IPv6 ranges that embed an IPv4 address a gateway may forward to.
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	// globalUnicast is where every globally reachable IPv6 unicast address
	// lives; outside it only nat64 is admitted (its IPv4 checked).
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// classify names the kind of a non-public address, or returns "" for a
// public unicast address.
func classify(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	case a.IsPrivate():
		return "private"
	case cgnat.Contains(a):
		return "shared (CGNAT)"
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return "reserved"
		}
	}
	if a.Is4() {
		return ""
	}
	b := a.As16()
	var v4 netip.Addr
	switch {
	case nat64.Contains(a):
		v4 = netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFour.Contains(a):
		v4 = netip.AddrFrom4([4]byte(b[2:6]))
	case !globalUnicast.Contains(a):
		return "reserved"
	}
	if v4.IsValid() {
		if kind := classify(v4); kind != "" {
			return kind + " (IPv4-embedding)"
		}
	}
	return ""
}

// HTTPClient returns a client for webhook requests with the given overall
// timeout (zero means none; the request context still applies). It re-checks every address it dials, after DNS resolution, so a
// host that passed CheckURL cannot be re-pointed at a refused address (DNS
// rebinding); it ignores proxy environment variables, whose dials it could
// not check; and it follows at most 5 redirects, each re-validated with
// CheckURL (which also refuses downgrades to http).
func (g Guard) HTTPClient(timeout time.Duration) *http.Client {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.dialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if err := g.checkURL(req.Context(), req.URL.String()); err != nil {
				return fmt.Errorf("redirect to %s: %w", req.URL.Host, err)
			}
			return nil
		},
	}
}

// dialContext dials addr, checking each address actually connected to in
// the dialer's Control hook. Hosts in AllowHosts skip the check. With a
// custom Resolver, the host is resolved through it and each address dialled
// in turn.
func (g Guard) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	host = normalizeHost(host)
	trusted := g.hostAllowed(host)
	d := &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			if trusted {
				return nil
			}
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return forbidden("cannot parse dialled address %q", address)
			}
			return g.checkAddr(ap.Addr())
		},
	}
	if g.Resolver == nil {
		return d.DialContext(ctx, network, addr)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return d.DialContext(ctx, network, addr)
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// normalizeHost lower-cases a host name and strips a trailing dot and IPv6
// brackets.
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h), "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// validHostname reports whether h is a syntactically valid DNS name.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
