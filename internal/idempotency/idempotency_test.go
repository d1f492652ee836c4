package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func TestRequestHashFormatIsStable(t *testing.T) {
	// Hashes are stored with operations and compared with those of later requests:
	// a change of format would turn every retried request into a 422.
	sum := sha256.Sum256([]byte("PUT /api/v1/clusters/demo\n{\"a\":1}"))
	want := hex.EncodeToString(sum[:])
	if got := RequestHash("PUT", "/api/v1/clusters/demo", []byte(`{"a":1}`)); got != want {
		t.Fatalf("RequestHash = %s, want %s", got, want)
	}
	empty := sha256.Sum256([]byte("DELETE /api/v1/clusters/demo\n"))
	if got := RequestHash("DELETE", "/api/v1/clusters/demo", nil); got != hex.EncodeToString(empty[:]) {
		t.Fatalf("RequestHash without body = %s", got)
	}
}

func TestRequestHashTellsRequestsApart(t *testing.T) {
	base := RequestHash("PUT", "/api/v1/clusters/a", []byte(`{"x":1}`))
	for name, other := range map[string]string{
		"method":   RequestHash("POST", "/api/v1/clusters/a", []byte(`{"x":1}`)),
		"path":     RequestHash("PUT", "/api/v1/clusters/b", []byte(`{"x":1}`)),
		"body":     RequestHash("PUT", "/api/v1/clusters/a", []byte(`{"x":2}`)),
		"no body":  RequestHash("PUT", "/api/v1/clusters/a", nil),
		"boundary": RequestHash("PUT", "/api/v1/clusters/a\n{\"x\":1}", nil),
	} {
		if other == base {
			t.Errorf("a request differing by %s has the same hash", name)
		}
	}
	if again := RequestHash("PUT", "/api/v1/clusters/a", []byte(`{"x":1}`)); again != base {
		t.Error("the same request hashes differently")
	}
}

func TestRequestHashDoesNotWriteIntoTheBody(t *testing.T) {
	body := make([]byte, 3, 64)
	copy(body, "abc")
	RequestHash("PUT", "/p", body)
	if string(body[:cap(body)][:3]) != "abc" || string(body[:cap(body)][3:6]) == "PUT" {
		t.Fatal("RequestHash wrote into the caller's body")
	}
}

func TestCheck(t *testing.T) {
	a := RequestHash("PUT", "/api/v1/clusters/a", []byte(`{"x":1}`))
	b := RequestHash("PUT", "/api/v1/clusters/a", []byte(`{"x":2}`))
	if err := Check(a, a); err != nil {
		t.Fatalf("same request: %v, want nil (answer the earlier operation)", err)
	}
	if err := Check(a, b); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("other request: %v, want ErrKeyReused", err)
	}
	if err := Check(a, ""); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("empty hash: %v, want ErrKeyReused", err)
	}
}
