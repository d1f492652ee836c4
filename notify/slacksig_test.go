package notify

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestVerifySlackSignature(t *testing.T) {
	// Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	const ts = "1531420618"
	const want = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	at := time.Unix(1531420618, 0)
	if got := SignSlackRequest(secret, ts, body); got != want {
		t.Fatalf("SignSlackRequest = %s, want Slack's %s", got, want)
	}
	for _, tc := range []struct {
		name, secret, sig, ts string
		body                  []byte
		now                   time.Time
		err                   error
	}{
		{"slack's example", secret, want, ts, body, at, nil},
		{"4m59s later", secret, want, ts, body, at.Add(5*time.Minute - time.Second), nil},
		{"5m later still", secret, want, ts, body, at.Add(5 * time.Minute), nil},
		{"stale", secret, want, ts, body, at.Add(5*time.Minute + time.Second), ErrSlackSignatureStale},
		{"from the future", secret, want, ts, body, at.Add(-5*time.Minute - time.Second), ErrSlackSignatureStale},
		{"another secret", secret + "x", want, ts, body, at, ErrSlackSignatureInvalid},
		{"altered body", secret, want, ts, append([]byte{}, append(body, '&')...), at, ErrSlackSignatureInvalid},
		{"another timestamp", secret, want, strconv.Itoa(1531420619), body, at, ErrSlackSignatureInvalid},
		{"v1 prefix", secret, "v1=" + want[3:], ts, body, at, ErrSlackSignatureInvalid},
		{"not hex", secret, "v0=zz", ts, body, at, ErrSlackSignatureInvalid},
		{"timestamp not a number", secret, want, "soon", body, at, ErrSlackSignatureInvalid},
		{"no signature", secret, "", ts, body, at, ErrSlackSignatureMissing},
		{"no timestamp", secret, want, "", body, at, ErrSlackSignatureMissing},
		{"no secret configured", "", want, ts, body, at, ErrSlackSignatureMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySlackSignature(tc.secret, tc.sig, tc.ts, tc.body, tc.now)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("VerifySlackSignature = %v, want %v", err, tc.err)
			}
		})
	}
}
