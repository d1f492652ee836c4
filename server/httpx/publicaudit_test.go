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

// Events that differ in who acted, what was refused, why, or for which approver are
// each recorded, from one address and at once; only a true repeat is dropped.
func TestPublicGuardKeepsDistinctEvents(t *testing.T) {
	g := newPublicGuard(100, 60)
	now := time.Unix(1_700_000_000, 0)
	base := store.AuditEvent{OrgID: "a", EventType: "APPROVAL", Action: "TOKEN_REFUSED", ResourceID: "acme.prod.deploy.1",
		Outcome: store.OutcomeDenied, IPAddress: "198.51.100.1",
		Details: []byte(`{"approver":"u1","reason":"requester cannot approve their own operation"}`)}
	variants := map[string]func(*store.AuditEvent){
		"another user":    func(ev *store.AuditEvent) { ev.UserID = "u2" },
		"another API key": func(ev *store.AuditEvent) { ev.UserID, ev.APIKeyID = "u2", "k2" },
		"another action":  func(ev *store.AuditEvent) { ev.Action = "UNSUBSCRIBE" },
		"another target":  func(ev *store.AuditEvent) { ev.ResourceID = "acme.prod.deploy.2" },
		"another outcome": func(ev *store.AuditEvent) { ev.Outcome = store.OutcomeFailure },
		"another type":    func(ev *store.AuditEvent) { ev.EventType = "NOTIFICATION" },
		"another reason": func(ev *store.AuditEvent) {
			ev.Details = []byte(`{"approver":"u1","reason":"approver lacks an approver role"}`)
		},
		"another approver": func(ev *store.AuditEvent) {
			ev.Details = []byte(`{"approver":"u3","reason":"requester cannot approve their own operation"}`)
		},
	}
	first := base
	if !g.admit(&first, now) {
		t.Fatal("the first event must be recorded")
	}
	for name, change := range variants {
		ev := base
		change(&ev)
		if !g.admit(&ev, now) {
			t.Errorf("%s: dropped as a duplicate of a different event", name)
		}
	}
	again := base
	again.TraceID, again.UserAgent = "trace-other", "curl/8"
	if g.admit(&again, now.Add(time.Second)) {
		t.Fatal("a repeat of the same event (another trace ID and user agent) must be dropped")
	}
}
