package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

var budget = store.LoginBudget{FreeFailures: 3, Backoff: time.Minute, MaxBackoff: 4 * time.Minute, CaptchaAfter: 10, Window: 24 * time.Hour}

// attempt takes a login attempt and fails the test on a database error.
func attempt(t *testing.T, db *store.DB, account, network string, captcha bool) store.LoginAttempt {
	t.Helper()
	a, err := db.TakeLoginAttempt(context.Background(), "login", []byte(account), []byte(network), captcha, budget)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Failures from one network are free up to a point, then each makes that
// network wait twice as long as the last, up to a cap; another network is
// not held up, and a success forgets the network's failures.
func TestLoginBackoffDoublesPerNetwork(t *testing.T) {
	db := testenv.DB(t)
	passTime := func(d string) {
		t.Helper()
		if _, err := db.Exec(`UPDATE login_failures SET last_at = last_at - $1::interval, locked_until = locked_until - $1::interval`, d); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if a := attempt(t, db, "ada", "office", false); !a.Allowed {
			t.Fatalf("failure %d of 3 free: %+v", i+1, a)
		}
	}
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		a := attempt(t, db, "ada", "office", false)
		if a.Allowed || a.NeedsCaptcha || a.Wait <= want-10*time.Second || a.Wait > want {
			t.Fatalf("after the last failure: %+v, want a wait of %s", a, want)
		}
		// Hammering while it waits changes nothing.
		if again := attempt(t, db, "ada", "office", false); again.Allowed || again.Wait > want {
			t.Fatalf("again while waiting: %+v", again)
		}
		passTime(want.String())
		if a := attempt(t, db, "ada", "office", false); !a.Allowed {
			t.Fatalf("after waiting %s: %+v", want, a)
		}
	}
	if a := attempt(t, db, "ada", "home", false); !a.Allowed {
		t.Fatalf("from another network: %+v", a)
	}
	if err := db.LoginSucceeded(context.Background(), "login", []byte("ada"), []byte("home")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if a := attempt(t, db, "ada", "home", false); !a.Allowed {
			t.Fatalf("after a success, failure %d of 3 free again: %+v", i+1, a)
		}
	}
	if a := attempt(t, db, "bob", "office", false); !a.Allowed {
		t.Fatalf("another account from the waiting network: %+v", a)
	}
	// A day later, all is forgotten.
	passTime("25 hours")
	if a := attempt(t, db, "ada", "office", false); !a.Allowed {
		t.Fatalf("a day later: %+v", a)
	}
}

// Past CaptchaAfter failures of an account from all networks together,
// every network needs a solved captcha; refused attempts count nothing.
func TestLoginNeedsACaptchaAfterManyFailuresOfTheAccount(t *testing.T) {
	db := testenv.DB(t)
	for i := range 10 {
		if a := attempt(t, db, "ada", fmt.Sprint("bot ", i), false); !a.Allowed {
			t.Fatalf("failure %d from its own network: %+v", i+1, a)
		}
	}
	a := attempt(t, db, "ada", "owner", false)
	if a.Allowed || !a.NeedsCaptcha {
		t.Fatalf("the eleventh failure of the account: %+v, want a captcha needed", a)
	}
	if a := attempt(t, db, "ada", "owner", true); !a.Allowed {
		t.Fatalf("with a captcha: %+v", a)
	}
	if a := attempt(t, db, "bob", "bot 1", false); !a.Allowed {
		t.Fatalf("another account: %+v", a)
	}
	var n int
	if err := db.Get(&n, `SELECT failures FROM login_failures WHERE account = 'ada' AND network = ''`); err != nil || n != 11 {
		t.Fatalf("the account's failures: %d (%v), want 11 (the refused attempt not counted)", n, err)
	}
}
