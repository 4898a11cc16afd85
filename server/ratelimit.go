package server

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
)

// Scopes of the login backoff shared through the database
// (store.TakeLoginAttempt), which guessing through several replicas must
// not multiply.
const (
	rateScopeStaffLogin  = "staff_login"
	rateScopePortalLogin = "portal_login"
)

// Limiter is a token-bucket rate limiter per key (a client address):
// perMinute requests a minute, with bursts of the same size. It is per
// process; behind several replicas each keeps its own count, which suits
// limits on a flood from one address, not a budget an attacker could spread
// over replicas (those are store.TakeToken).
type Limiter struct {
	mu        sync.Mutex
	perMinute float64
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter allowing perMinute requests a minute per key.
func NewLimiter(perMinute int) *Limiter {
	return &Limiter{perMinute: float64(perMinute), buckets: map[string]*bucket{}, lastSweep: time.Now()}
}

// Allow takes one token for key and reports whether there was one, and if
// not, how long until there is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.at) > 2*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.perMinute, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.perMinute, b.tokens+now.Sub(b.at).Minutes()*l.perMinute)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
	return false, wait
}

// clientNetwork is the key of the client's address in the limits: an IPv4
// address as it is, an IPv6 address as its /64, the smallest network one
// subscriber is given (RFC 6177), who could otherwise take a fresh budget
// with each of its 2^64 addresses.
func clientNetwork(c *gin.Context) string {
	ip := c.ClientIP()
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// rateLimit is middleware that allows each client network perMinute
// (clientNetwork) requests a minute on the routes it guards, answering 429 with
// Retry-After beyond that.
func (s *Server) rateLimit(l *Limiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ok, wait := l.Allow(clientNetwork(c)); !ok {
			if !strings.HasPrefix(c.Request.URL.Path, "/api/") && s.pages != nil {
				// A page (the form, a verification link, the portal): a
				// page in the requester's language, not JSON.
				c.Header("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
				s.pages.Render(c, http.StatusTooManyRequests, "busy", nil)
				c.Abort()
				return
			}
			tooMany(c, wait)
			return
		}
		c.Next()
	}
}

// tooMany answers 429 with a Retry-After header.
func tooMany(c *gin.Context, wait time.Duration) {
	c.Header("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
	msg := "too many requests; try again later"
	if requesterAPI(c) {
		msg = locale.Error(langOf(c), msg) // the requester's own API answers in their language
	}
	c.AbortWithStatusJSON(http.StatusTooManyRequests, ErrorBody{Error: ErrorDetail{Code: dsar.ERATELIMITED, Message: msg}})
}
