package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/internal/oidctest"
	"github.com/astropulse/astroplane/store"
)

// A refused bearer token that can be held to a known user (signed by the issuer, but
// expired or for another audience) is a failed sign-in in their organizations' audit
// logs; a forged token names no one and writes nothing; the token is never recorded.
func TestRefusedBearerSignInIsAudited(t *testing.T) {
	e, iss := newBearerEnv(t)
	good := iss.Token(t, "k1", userClaims("carol", "carol@example.com", nil))
	if a := e.do(http.MethodPost, "/api/v1/users/me", "", nil, bearer(good)...); a.Status != http.StatusCreated {
		t.Fatalf("first sign-in: %d %s", a.Status, a.Body)
	}
	carol := userByEmail(t, e, "carol@example.com")
	must(t, e.store.AddMember(t.Context(), e.orgID, carol.ID, store.RoleViewer))

	denied := func() []store.AuditEvent {
		events, _, err := e.store.ListAudit(t.Context(), e.orgID, store.AuditFilter{Action: "SIGN_IN"}, store.Page{})
		require.NoError(t, err)
		return events
	}
	expired := iss.Token(t, "k1", userClaims("carol", "carol@example.com", oidctest.Claims{"exp": time.Now().Add(-time.Hour).Unix()}))
	a := e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(expired)...)
	require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
	events := denied()
	require.Len(t, events, 1)
	ev := events[0]
	if ev.UserID != carol.ID || ev.Outcome != store.OutcomeDenied || ev.EventType != "USER" || !strings.Contains(string(ev.Details), "expired") {
		t.Fatalf("audit event of the expired token: %+v", ev)
	}
	if strings.Contains(string(ev.Details), expired) {
		t.Fatal("the token is in the audit event")
	}

	forged := oidctest.New(t).Token(t, "k1", userClaims("carol", "carol@example.com", oidctest.Claims{"iss": iss.URL}))
	a = e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(forged)...)
	require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
	if n := len(denied()); n != 1 {
		t.Fatalf("a forged token was audited as carol's sign-in: %d events", n)
	}
}
