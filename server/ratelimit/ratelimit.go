// Package ratelimit limits how often one client may call the API: per client IP on
// every route (unauthenticated ones included) and per credential (API key or bearer
// token) on every route that carries one. A refused request is a 429 with
// Retry-After and the error envelope. Buckets live in memory, per process: behind a
// load balancer each API process enforces its own share.
package ratelimit

import (
	"crypto/sha256"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/astropulse/astroplane/server/httpx"
)

// Limits are the request rates one client may sustain, and the bursts above them.
// A zero Rate turns that limit off.
type Limits struct {
	// PerIP is the sustained rate per client IP (requests per second).
	PerIP float64
	// BurstIP is how many requests a client IP may send at once.
	BurstIP int
	// PerKey is the sustained rate per API key or bearer token.
	PerKey float64
	// BurstKey is how many requests a credential may send at once.
	BurstKey int
}

// Defaults are the limits of ASTRO_RATE_LIMIT_* when unset: generous for people and
// scripts, tight enough that one client cannot monopolise the store or Temporal.
var Defaults = Limits{PerIP: 20, BurstIP: 100, PerKey: 50, BurstKey: 200}

// idleAfter is how long an unused bucket is kept; a full bucket refills long before.
const idleAfter = 10 * time.Minute

// Limiter holds the buckets. It is safe for concurrent use.
type Limiter struct {
	limits Limits
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// New returns a Limiter enforcing limits.
func New(limits Limits) *Limiter {
	return &Limiter{limits: limits, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes one token from the bucket of id, reporting how long to wait when
// there is none.
func (l *Limiter) allow(id string, r float64, burst int) (bool, time.Duration) {
	if r <= 0 {
		return true, 0
	}
	if burst < 1 {
		burst = 1
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > idleAfter {
		for k, b := range l.buckets {
			if now.Sub(b.used) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[id]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(r), burst)}
		l.buckets[id] = b
	}
	b.used = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Middleware refuses, with 429, a request over its client IP's limit or over its
// credential's (X-Astro-API-Key or Authorization). Credentials are bucketed by their
// SHA-256, never kept in clear; an unknown or malformed key still counts against
// itself and against its IP. Put it after the trace ID and before authentication, so
// refused requests never reach the store.
func (l *Limiter) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if ok, wait := l.allow("ip:"+c.RealIP(), l.limits.PerIP, l.limits.BurstIP); !ok {
				return tooMany(c, wait, "client address")
			}
			cred := c.Request().Header.Get(httpx.HeaderAPIKey)
			if cred == "" {
				cred = c.Request().Header.Get(echo.HeaderAuthorization)
			}
			if cred != "" {
				sum := sha256.Sum256([]byte(cred))
				if ok, wait := l.allow("cred:"+string(sum[:16]), l.limits.PerKey, l.limits.BurstKey); !ok {
					return tooMany(c, wait, "credential")
				}
			}
			return next(c)
		}
	}
}

// tooMany is the 429: Retry-After in whole seconds, at least one.
func tooMany(c echo.Context, wait time.Duration, what string) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return &httpx.APIError{Status: http.StatusTooManyRequests, Code: httpx.CodeTooManyRequests,
		Message: "too many requests from this " + what + "; retry in " + strconv.Itoa(secs) + "s",
		Details: map[string]any{"retryAfterSeconds": secs, "limit": what}}
}
