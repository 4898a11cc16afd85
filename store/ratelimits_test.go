package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// take takes a token and fails the test on a database error.
func take(t *testing.T, db *store.DB, scope string, key []byte, perMinute int) (bool, time.Duration) {
	t.Helper()
	ok, wait, err := db.TakeToken(context.Background(), scope, key, perMinute)
	if err != nil {
		t.Fatal(err)
	}
	return ok, wait
}

func TestTakeTokenIsABucketPerScopeAndKey(t *testing.T) {
	db := testenv.DB(t)
	ada, bob := []byte("ada's blind index"), []byte("bob's blind index")
	for i := range 3 {
		if ok, _ := take(t, db, "login", ada, 3); !ok {
			t.Fatalf("attempt %d of 3 refused", i+1)
		}
	}
	ok, wait := take(t, db, "login", ada, 3)
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("the fourth attempt in a minute: allowed %v, wait %v; want refused, a wait of up to a minute", ok, wait)
	}
	if ok, _ := take(t, db, "login", bob, 3); !ok {
		t.Fatal("another key was refused")
	}
	if ok, _ := take(t, db, "other", ada, 3); !ok {
		t.Fatal("the same key in another scope was refused")
	}

	// A third of a minute later, one attempt is back; a minute later, all.
	age := func(d string) {
		t.Helper()
		if _, err := db.Exec(`UPDATE rate_limits SET at = at - $1::interval WHERE key = $2`, d, ada); err != nil {
			t.Fatal(err)
		}
	}
	age("20 seconds")
	if ok, _ := take(t, db, "login", ada, 3); !ok {
		t.Fatal("no attempt back after a third of a minute")
	}
	if ok, _ := take(t, db, "login", ada, 3); ok {
		t.Fatal("two attempts back after a third of a minute")
	}
	age("10 minutes")
	for i := range 3 {
		if ok, _ := take(t, db, "login", ada, 3); !ok {
			t.Fatalf("after ten minutes, attempt %d of 3 refused (the bucket holds no more than 3)", i+1)
		}
	}
	if ok, _ := take(t, db, "login", ada, 3); ok {
		t.Fatal("after ten minutes, a fourth attempt at once was allowed: the bucket overflowed")
	}
}

// Many processes (here, connections) taking from one bucket at once get no
// more than it holds.
func TestTakeTokenHoldsUnderConcurrency(t *testing.T) {
	db := testenv.DB(t)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok, _, err := db.TakeToken(context.Background(), "login", []byte("one account"), 5)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 5 {
		t.Fatalf("20 attempts at once on a bucket of 5: %d allowed", n)
	}
}

func TestIdleBucketsAreSwept(t *testing.T) {
	db := testenv.DB(t)
	if _, err := db.Exec(`INSERT INTO rate_limits (scope, key, tokens, at) VALUES ('login', 'idle', 0, now() - interval '1 hour'),
		('login', 'busy', 0, now())`); err != nil {
		t.Fatal(err)
	}
	take(t, db, "login", []byte("someone"), 3) // this process's first take sweeps
	var keys []string
	if err := db.Select(&keys, `SELECT convert_from(key, 'UTF8') FROM rate_limits ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != "busy" || keys[1] != "someone" {
		t.Fatalf("buckets left: %v; want the busy one and the new one", keys)
	}
}
