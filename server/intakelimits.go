package server

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/opendsar/dsar/store"
)

// Prefix lengths of a client's network for the caps on unconfirmed
// requests: a /24 of IPv4 (a small network, or one carrier NAT address's
// neighbours), a /48 of IPv6 (one site's allocation: a client can pick any
// address of it, and any of its 65,536 /64s).
const (
	intakeNetworkBitsV4 = 24
	intakeNetworkBitsV6 = 48
)

// intakeNetwork is the network of client address ip, as text; an address
// that does not parse is its own network.
func intakeNetwork(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "unparsed " + ip
	}
	a = a.Unmap()
	bits := intakeNetworkBitsV6
	if a.Is4() {
		bits = intakeNetworkBitsV4
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "unparsed " + ip
	}
	return p.String()
}

// networkKey is the keyed hash a client's network is counted under, so that
// no address or network is stored.
func (s *Server) networkKey(ip string) []byte {
	return s.Keys.BlindIndex("intake network " + intakeNetwork(ip))
}

// intakeLimits are the configured bounds of unconfirmed requests; an opt-out
// accepted at submission counts for as long as a request waiting for its
// email would before it expires.
func (s *Server) intakeLimits() store.IntakeLimits {
	in := s.Config.Intake
	return store.IntakeLimits{PerEmail: in.UnverifiedPerEmail, PerNetwork: in.UnverifiedPerNetwork, Budget: in.UnverifiedBytes,
		Window: s.Config.Workflow.VerificationExpiry}
}

// captchaLoadFresh is how long a process reuses its count of recent
// submissions for the captcha's work: challenges are fetched on every form
// view, and the count is a query. A submission through this process
// counts again at once.
const captchaLoadFresh = time.Second

// captchaLoad is a process's last count of recent unconfirmed submissions.
type captchaLoad struct {
	mu sync.Mutex
	n  int
	at time.Time // zero: count again
}

// forget makes the next challenge count again.
func (l *captchaLoad) forget() {
	l.mu.Lock()
	l.at = time.Time{}
	l.mu.Unlock()
}

// captchaMaxNumber is the work of a new challenge: intake.captcha_max_number,
// doubled for every intake.captcha_busy_step unconfirmed submissions within
// intake.captcha_busy_window, at most intake.captcha_max_number_ceiling. If
// the count fails, the last one stands.
func (s *Server) captchaMaxNumber(ctx context.Context) int64 {
	in := s.Config.Intake
	l := &s.captchaLoad
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at.IsZero() || time.Since(l.at) > captchaLoadFresh {
		n, err := s.DB.RecentIntake(ctx, in.CaptchaBusyWindow)
		if err != nil {
			s.Log.Warn("captcha: count recent submissions", "err", err)
		} else {
			l.n, l.at = n, time.Now()
		}
	}
	return workFor(in.CaptchaMaxNum, in.CaptchaMaxNumCeiling, l.n, in.CaptchaBusyStep)
}

// workFor is base doubled for every step in recent, at most ceiling.
func workFor(base, ceiling int64, recent, step int) int64 {
	work := base
	for i := recent / step; i > 0 && work < ceiling; i-- {
		work *= 2
	}
	return min(work, ceiling)
}
