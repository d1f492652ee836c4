package httpx

import (
	"strconv"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

// The same refused token from the same address is recorded once per window; an
// organization receives at most the burst, then the sustained rate, however many
// addresses send; another organization is not affected.
func TestPublicGuardDedupesAndCapsPerOrganization(t *testing.T) {
	g := newPublicGuard(5, 60)
	now := time.Unix(1_700_000_000, 0)
	ev := func(org, ip string) *store.AuditEvent {
		return &store.AuditEvent{OrgID: org, Action: "TOKEN_REFUSED", Outcome: store.OutcomeDenied, IPAddress: ip}
	}
	if !g.admit(ev("a", "198.51.100.1"), now) || g.admit(ev("a", "198.51.100.1"), now.Add(time.Minute)) {
		t.Fatal("the same event from the same address must be recorded once")
	}
	if !g.admit(ev("a", "198.51.100.1"), now.Add(publicDedupeWindow+time.Second)) {
		t.Fatal("after the window the event is recorded again")
	}
	admitted := 0
	for i := range 1000 {
		if g.admit(ev("a", "203.0.113."+strconv.Itoa(i%250)+"-"+strconv.Itoa(i)), now.Add(publicDedupeWindow+time.Second)) {
			admitted++
		}
	}
	if admitted > 5 {
		t.Fatalf("%d events of 1000 distinct addresses admitted at once, want at most the burst", admitted)
	}
	if !g.admit(ev("b", "198.51.100.1"), now) {
		t.Fatal("another organization has its own budget")
	}
	if !g.admit(ev("a", "192.0.2.77"), now.Add(publicDedupeWindow+3*time.Second)) {
		t.Fatal("the bucket refills at the sustained rate (one a second here)")
	}
}
