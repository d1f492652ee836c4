package activities_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/notify"
)

// An organization's own relay goes through the request-forgery guard at dial time:
// with the default guard (no allow-list), a relay on a loopback address is never
// connected to, and the failure says nothing of what is there (no address, port,
// "refused" or "forbidden" detail that would make the setting a port scanner).
func TestOrgRelayIsGuardedAtDialAndItsErrorsSayNothing(t *testing.T) {
	f := newNotifierFixture(t)
	f.n.Guard = &notify.Guard{}
	f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}, SMTP: f.orgRelay()})
	f.subscribe(t, activities.TopicClusterDeployed, true, activities.ChannelEmail)
	_, err := f.env().ExecuteActivity(f.n.DeliverTopic, activities.TopicInput{OrgID: f.orgID, Topic: activities.TopicClusterDeployed,
		Subject: "Cluster prod deployed", Text: "Deployed."})
	if err == nil {
		t.Fatal("delivery through a loopback relay succeeded")
	}
	if n := len(f.orgSMTP.received()); n != 0 {
		t.Fatalf("%d emails reached the loopback relay", n)
	}
	msg := err.Error()
	for _, leak := range []string{"127.0.0.1", strconv.Itoa(f.orgSMTP.port), "refused", "forbidden", "dial", "loopback"} {
		if leak != "" && strings.Contains(msg, leak) {
			t.Fatalf("the delivery error tells %q: %s", leak, msg)
		}
	}
	if !strings.Contains(msg, "organization's SMTP relay") {
		t.Fatalf("error %q", msg)
	}
}

// The configure-time check: loopback and private relays, and odd ports of public
// hosts, are refused; allow-listed hosts take any port.
func TestCheckSMTP(t *testing.T) {
	var g notify.Guard
	for _, tc := range []struct {
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1", 587, false}, {"10.0.0.5", 25, false}, {"169.254.169.254", 587, false}, {"::1", 465, false},
		{"192.0.2.10", 587, false}, // documentation range: not globally reachable
		{"8.8.8.8", 587, true}, {"8.8.8.8", 22, false}, {"8.8.8.8", 6379, false},
	} {
		if err := g.CheckSMTP(tc.host, tc.port); (err == nil) != tc.ok {
			t.Errorf("CheckSMTP(%s, %d) = %v, want ok=%v", tc.host, tc.port, err, tc.ok)
		}
	}
	allow, err := notify.ParseAllowList("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := allow.CheckSMTP("127.0.0.1", 2526); err != nil {
		t.Errorf("allow-listed relay on any port: %v", err)
	}
}
