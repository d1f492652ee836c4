package aws_test

import (
	"net/http/httptest"
	"testing"

	"github.com/astropulse/astroplane/cloud/aws/motoproxy"
	"github.com/astropulse/astroplane/internal/testmoto"
)

// fakeAWS is moto, emptied, behind a motoproxy.Proxy recording every request, on a
// loopback URL of its own.
type fakeAWS struct {
	*motoproxy.Proxy
	URL string
}

func newFakeOn(t *testing.T, m *testmoto.Server) *fakeAWS {
	t.Helper()
	m.Reset(t)
	p, err := motoproxy.New(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.Record = true
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &fakeAWS{Proxy: p, URL: srv.URL}
}

func op(name string) func(motoproxy.Request) bool { return motoproxy.Op(name) }
