package server

import (
	"context"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// errPasswordsBusy is the answer when every password-hashing slot stayed
// taken for auth.password_hash_wait: 503 with Retry-After, try again.
var errPasswordsBusy = dsar.Errorf(dsar.EUNAVAILABLE, "the server is busy checking passwords; try again in a moment")

// hashGate caps the password hashes this process computes at once. One
// argon2id hash takes 19 MiB and a core for tens of milliseconds, so a
// flood of logins, each allowed by its own budget, could otherwise take
// all the memory of the process; beyond the cap a request waits briefly
// for a turn, then gets errPasswordsBusy.
type hashGate struct {
	slots chan struct{}
	wait  time.Duration
}

func newHashGate(n int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, n), wait: wait}
}

// run calls f in a slot: at once if one is free, else when one frees up
// within the wait. errPasswordsBusy if none does (or ctx ends first).
func (g *hashGate) run(ctx context.Context, f func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return errPasswordsBusy
		case <-ctx.Done():
			return errPasswordsBusy
		}
	}
	defer func() { <-g.slots }()
	f()
	return nil
}

// hashPassword is crypto.HashPassword in a hashing slot.
func (s *Server) hashPassword(ctx context.Context, password string) (string, error) {
	var phc string
	err := s.hashing.run(ctx, func() { phc = crypto.HashPassword(password) })
	return phc, err
}

// checkPassword is crypto.CheckPassword in a hashing slot: nil for the
// right password, crypto.ErrPasswordMismatch (or another crypto error) for
// a wrong one, errPasswordsBusy without a slot.
func (s *Server) checkPassword(ctx context.Context, phc, password string) error {
	var checked error
	if err := s.hashing.run(ctx, func() { checked = crypto.CheckPassword(phc, password) }); err != nil {
		return err
	}
	return checked
}

// dummyPasswordCheck is crypto.DummyPasswordCheck in a hashing slot, so an
// unknown account costs and waits as a known one does.
func (s *Server) dummyPasswordCheck(ctx context.Context, password string) error {
	return s.hashing.run(ctx, func() { crypto.DummyPasswordCheck(password) })
}
