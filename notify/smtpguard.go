package notify

import (
	"context"
	"net"
	"slices"
)

// SMTPPorts are the ports an organization's own mail relay may use: submission
// (587), SMTPS (465), SMTP (25) and the common alternative 2525. Another port is
// refused unless the host is allow-listed: a relay setting must not become a way to
// probe arbitrary ports through the worker.
var SMTPPorts = []int{25, 465, 587, 2525}

// CheckSMTP reports whether an organization's mail relay at host:port may be used:
// the host resolves only to addresses the guard admits (as for webhooks: no loopback,
// private, link-local… unless allow-listed), and the port is one of SMTPPorts (any
// port for an allow-listed host or address). Refusals wrap ErrForbiddenDestination
// and never say whether anything listens there.
func (g Guard) CheckSMTP(host string, port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	host = normalizeHost(host)
	if host == "" {
		return forbidden("no host")
	}
	allowed := g.hostAllowed(host)
	if !allowed {
		addrs, err := g.resolve(ctx, host)
		if err != nil {
			return err
		}
		allowed = true
		for _, a := range addrs {
			if err := g.checkAddr(a); err != nil {
				return err
			}
			allowed = allowed && g.inAllow(a)
		}
	}
	if !allowed && !slices.Contains(SMTPPorts, port) {
		return forbidden("port %d is not a mail port (use 25, 465, 587 or 2525)", port)
	}
	return nil
}

// DialContext dials addr as HTTPClient does: every address actually connected to
// must pass the guard (so a host re-resolved to a private address after CheckSMTP
// is still refused). Use it as SMTPConfig.Dial for relays an organization chose.
func (g Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return g.dialContext(ctx, network, addr)
}
