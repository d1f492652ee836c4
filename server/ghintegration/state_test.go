package ghintegration

import (
	"strings"
	"testing"
	"time"
)

func TestStateExpiresAndIsBound(t *testing.T) {
	s := NewServer(Deps{StateKey: []byte("0123456789abcdef0123456789abcdef")})
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	st, err := s.IssueState("org-1", "user-1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.verifyState(st)
	if err != nil || c.OrgID != "org-1" || c.UserID != "user-1" {
		t.Fatalf("fresh state: %+v %v", c, err)
	}
	now = now.Add(StateLifetime)
	if _, err := s.verifyState(st); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("a state at its expiry: %v", err)
	}
	now = now.Add(-time.Minute)
	body, sig, _ := strings.Cut(st, ".")
	if _, err := s.verifyState(body + "x." + sig); err == nil {
		t.Fatal("a state whose claims were changed verified")
	}
}
