package testmoto

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A started server answers an AWS query-protocol call (STS GetCallerIdentity) with
// moto's default account, and is empty again after Reset.
func TestStartAnswersAWSCalls(t *testing.T) {
	s := Start(t)
	form := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = io.Copy(buf, resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(buf.String(), "<Account>123456789012</Account>") {
		t.Fatalf("GetCallerIdentity = %s %s", resp.Status, buf)
	}
	s.Reset(t)
}
