package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// recordActions stores the outcomes of actions of a request, keeping the
// first outcome of each action id, and announces each on ActionsChannel
// (Postgres delivers the notifications when the transaction commits).
func recordActions(ctx context.Context, tx *sqlx.Tx, requestID string, actions []ActionOutcome) error {
	for _, o := range actions {
		const q = `INSERT INTO request_actions (request_id, action_id, signal, applied, code, reason, status, deadline, acted_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (request_id, action_id) DO NOTHING`
		if _, err := tx.ExecContext(ctx, q, requestID, o.ActionID, o.Signal, o.Applied, o.Code, o.Reason, o.Status,
			o.Deadline, o.ActedAt); err != nil {
			return fmt.Errorf("store: record action %s of %s: %w", o.ActionID, requestID, Translate(err))
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ActionsChannel, requestID+":"+o.ActionID); err != nil {
			return fmt.Errorf("store: announce action %s of %s: %w", o.ActionID, requestID, err)
		}
	}
	return nil
}

// ActionOutcome returns the recorded outcome of an action on a request, and
// false when none is recorded (yet).
func (db *DB) ActionOutcome(ctx context.Context, requestID, actionID string) (ActionOutcome, bool, error) {
	if _, err := uuid.Parse(requestID); err != nil {
		return ActionOutcome{}, false, nil
	}
	const q = `SELECT action_id, signal, applied, code, reason, status, deadline, acted_at
		FROM request_actions WHERE request_id = $1 AND action_id = $2`
	st, err := db.prepared(ctx, q)
	if err != nil {
		return ActionOutcome{}, false, fmt.Errorf("store: action %s of %s: %w", actionID, requestID, err)
	}
	var os []ActionOutcome
	if err := st.SelectContext(ctx, &os, requestID, actionID); err != nil {
		return ActionOutcome{}, false, fmt.Errorf("store: action %s of %s: %w", actionID, requestID, err)
	}
	if len(os) == 0 {
		return ActionOutcome{}, false, nil
	}
	return os[0], true, nil
}

// AwaitAction waits until the outcome of an action on a request is recorded
// and returns it, or returns false when ctx ends first (one last look at the
// table is taken then). It wakes on the notifications of ActionsChannel,
// through one listening connection per handle, opened by the first call and
// closed by Close; it looks at the table again whenever that connection is
// (re)established, since a notification may have been missed meanwhile.
func (db *DB) AwaitAction(ctx context.Context, requestID, actionID string) (ActionOutcome, bool, error) {
	w, err := db.actionWaiter()
	if err != nil {
		return ActionOutcome{}, false, err
	}
	// Subscribed before the first look, so an outcome recorded in between
	// still wakes this call.
	wake := w.subscribe(requestID + ":" + actionID)
	defer w.unsubscribe(requestID+":"+actionID, wake)
	for {
		o, ok, err := db.ActionOutcome(ctx, requestID, actionID)
		if ok || (err != nil && ctx.Err() == nil) {
			return o, ok, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionLastLook)
			defer cancel()
			return db.ActionOutcome(last, requestID, actionID)
		}
	}
}

// Bounds of the action waiter: how long the last look at the table may
// take once a wait is over, and how often the listening connection is
// pinged (a connection that died silently would leave waits unwoken until
// their end).
const (
	actionLastLook   = time.Second
	actionWaiterPing = 5 * time.Second
)

// actionWaiter wakes the AwaitAction calls of this process when their
// action's outcome is announced.
type actionWaiter struct {
	stop    func()
	done    chan struct{}
	pinging atomic.Bool // a ping is under way

	mu      sync.Mutex
	deaf    error                             // why announcements are not heard now; nil while listening
	waiting map[string]map[chan struct{}]bool // "<request id>:<action id>" → wake channels
}

// actionWaiter is the handle's waiter, started on first use.
func (db *DB) actionWaiter() (*actionWaiter, error) {
	db.waiterOnce.Do(func() {
		if db.url == "" {
			db.waiterErr = fmt.Errorf("store: action waiter: the database handle has no connection string")
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		w := &actionWaiter{stop: cancel, done: make(chan struct{}), waiting: map[string]map[chan struct{}]bool{},
			deaf: errNotListening}
		l := pq.NewListener(db.url, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
			switch ev {
			case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
				w.heard(fmt.Errorf("%w: %w", errNotListening, err))
			case pq.ListenerEventReconnected:
				w.heard(nil)
			}
		})
		go w.run(ctx, l)
		db.waiter.Store(w)
	})
	return db.waiter.Load(), db.waiterErr
}

// run listens on ActionsChannel until ctx ends, waking the waits of each
// announced action, and every wait when the connection is (re)established.
func (w *actionWaiter) run(ctx context.Context, l *pq.Listener) {
	defer close(w.done)
	defer l.Close()
	if err := listen(ctx, l, ActionsChannel); err != nil {
		w.heard(fmt.Errorf("%w: %w", errNotListening, err))
		return
	}
	w.heard(nil)
	w.wakeAll()
	tick := time.NewTicker(actionWaiterPing)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-l.Notify:
			if n == nil { // reconnected: notifications may have been missed
				w.wakeAll()
				continue
			}
			w.wake(n.Extra)
		case <-tick.C:
			// A dead connection is noticed and re-established; one ping at
			// a time, so pings to a silent peer do not pile up.
			if w.pinging.CompareAndSwap(false, true) {
				go func() { _ = l.Ping(); w.pinging.Store(false) }()
			}
		}
	}
}

var errNotListening = fmt.Errorf("store: action waiter: not listening on %s", ActionsChannel)

// heard records whether announcements are heard (nil) or why not.
func (w *actionWaiter) heard(deaf error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deaf = deaf
}

// subscribe registers a wait for key; its channel receives when the key is
// announced or every wait must look again.
func (w *actionWaiter) subscribe(key string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[key] == nil {
		w.waiting[key] = map[chan struct{}]bool{}
	}
	w.waiting[key][ch] = true
	return ch
}

// unsubscribe ends a wait.
func (w *actionWaiter) unsubscribe(key string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiting[key], ch)
	if len(w.waiting[key]) == 0 {
		delete(w.waiting, key)
	}
}

// wake wakes the waits for key.
func (w *actionWaiter) wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiting[key] {
		signal(ch)
	}
}

// wakeAll wakes every wait.
func (w *actionWaiter) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, chs := range w.waiting {
		for ch := range chs {
			signal(ch)
		}
	}
}

// signal makes ch ready without blocking (one pending wake is enough).
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Close stops the handle's action waiter, if it runs, and closes the
// database handle.
func (db *DB) Close() error {
	db.waiterOnce.Do(func() {}) // no waiter starts after Close
	if w := db.waiter.Load(); w != nil {
		w.stop()
		<-w.done
	}
	return db.DB.Close()
}

// ActionsHeard reports why the action waiter is not hearing announcements
// now (it is not listening, or cannot), or nil when it is or has not
// started. While it is not, AwaitAction ends only with its ctx.
func (db *DB) ActionsHeard() error {
	w := db.waiter.Load()
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.deaf
}
