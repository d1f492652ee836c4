package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SlackSignatureMaxAge is how far a Slack request's timestamp may be from now, either
// way, before it is refused as a possible replay.
const SlackSignatureMaxAge = 5 * time.Minute

// Errors of VerifySlackSignature. Check them with errors.Is.
var (
	ErrSlackSignatureMissing = errors.New("slack request signature or timestamp missing")
	ErrSlackSignatureStale   = errors.New("slack request timestamp is more than 5 minutes from now")
	ErrSlackSignatureInvalid = errors.New("slack request signature does not match")
)

// VerifySlackSignature checks a request from Slack as Slack signs it
// (https://api.slack.com/authentication/verifying-requests-from-slack): signature is
// X-Slack-Signature, "v0=" and the hex HMAC-SHA256 of "v0:<timestamp>:<body>" keyed
// with the app's signing secret; timestamp is X-Slack-Request-Timestamp, Unix
// seconds, within SlackSignatureMaxAge of now. body is the raw request body. The
// comparison takes constant time.
func VerifySlackSignature(secret, signature, timestamp string, body []byte, now time.Time) error {
	if secret == "" || signature == "" || timestamp == "" {
		return ErrSlackSignatureMissing
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrSlackSignatureInvalid
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SlackSignatureMaxAge || d < -SlackSignatureMaxAge {
		return ErrSlackSignatureStale
	}
	got, ok := strings.CutPrefix(signature, "v0=")
	if !ok {
		return ErrSlackSignatureInvalid
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return ErrSlackSignatureInvalid
	}
	if !hmac.Equal(gotMAC, slackMAC(secret, timestamp, body)) {
		return ErrSlackSignatureInvalid
	}
	return nil
}

// SignSlackRequest returns the X-Slack-Signature Slack would send for body at
// timestamp (tests, and tools replaying a click).
func SignSlackRequest(secret, timestamp string, body []byte) string {
	return "v0=" + hex.EncodeToString(slackMAC(secret, timestamp, body))
}

func slackMAC(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + timestamp + ":"))
	m.Write(body)
	return m.Sum(nil)
}
