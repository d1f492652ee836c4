package ratelimit

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/httpx"
)

func serve(l *Limiter) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(httpx.RequestID(), l.Middleware())
	e.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	return e
}

func get(e *echo.Echo, ip, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.RemoteAddr = ip + ":1234"
	if key != "" {
		req.Header.Set(httpx.HeaderAPIKey, key)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestPerIPLimitAnswers429WithRetryAfterAndTheEnvelope(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(Limits{PerIP: 1, BurstIP: 3})
	l.now = func() time.Time { return now }
	e := serve(l)
	for i := range 3 {
		if rec := get(e, "198.51.100.1", ""); rec.Code != http.StatusNoContent {
			t.Fatalf("request %d within the burst: %d", i, rec.Code)
		}
	}
	rec := get(e, "198.51.100.1", "")
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("over the burst: %d", rec.Code)
	}
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra != 1 {
		t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	var env httpx.ErrorEnvelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Code != httpx.CodeTooManyRequests || env.Status != 429 || env.TraceID == "" {
		t.Fatalf("envelope %s (%v)", rec.Body, err)
	}
	// Another client is not affected; the first one is served again after a second.
	if rec := get(e, "198.51.100.2", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("another IP: %d", rec.Code)
	}
	now = now.Add(time.Second)
	if rec := get(e, "198.51.100.1", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("after Retry-After: %d", rec.Code)
	}
}

func TestPerKeyLimitFollowsTheKeyAcrossAddresses(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(Limits{PerKey: 0.5, BurstKey: 2})
	l.now = func() time.Time { return now }
	e := serve(l)
	get(e, "198.51.100.1", "key-a")
	get(e, "198.51.100.2", "key-a")
	rec := get(e, "198.51.100.3", "key-a")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("third use of the key from a third address: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := get(e, "198.51.100.3", "key-b"); rec.Code != http.StatusNoContent {
		t.Fatalf("another key: %d", rec.Code)
	}
	if rec := get(e, "198.51.100.3", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("no key (per-IP limit off): %d", rec.Code)
	}
}

func TestZeroRateIsOffAndIdleBucketsAreSwept(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(Limits{PerIP: 1000, BurstIP: 1000})
	l.now = func() time.Time { return now }
	for i := range 100 {
		l.allow("ip:"+strconv.Itoa(i), 1000, 1000)
	}
	now = now.Add(idleAfter + time.Second)
	l.allow("ip:new", 1000, 1000)
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", len(l.buckets))
	}
	if ok, _ := l.allow("x", 0, 0); !ok {
		t.Fatal("a zero rate must allow")
	}
}
