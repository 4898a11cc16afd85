package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lib/pq"
)

// staffAuthChannel is the channel migration 00050's triggers notify when a
// session ends or a staff user changes.
const staffAuthChannel = "dsar_staff_auth"

// Bounds of the session cache: the listening connection is pinged this
// often (and must answer within as long), and the cache holds at most this
// many sessions.
const (
	sessionCachePing = 5 * time.Second
	sessionCacheMax  = 10_000
)

// sessionCache keeps the staff sessions an API process checked a moment
// ago, so that the session check every staff call makes need not go to
// Postgres. It forgets everything whenever Postgres notifies a change to
// sessions or users (from any process), and it is bypassed while its
// listening connection is down, since a notification may then be missed.
// An entry also lives no longer than ttl, and never past the point where
// the session's last use is due to be written again.
type sessionCache struct {
	ttl time.Duration

	mu      sync.Mutex
	live    bool   // listening: notifications arrive
	gen     uint64 // counts the times everything was forgotten
	losses  int    // counts the times it stopped listening
	entries map[string]cachedSession
}

type cachedSession struct {
	s  Session
	u  User
	at time.Time
}

// get is the session of token hash, if kept and still good at now.
func (c *sessionCache) get(hash string, idle time.Duration, now time.Time) (Session, User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !c.live {
		return Session{}, User{}, false
	}
	if now.Sub(e.at) >= c.ttl || !now.Before(e.s.ExpiresAt) || now.Sub(e.s.LastSeenAt) >= min(idle, sessionTouchEvery) {
		delete(c.entries, hash)
		return Session{}, User{}, false
	}
	return e.s, e.u, true
}

// generation is taken before reading a session from Postgres and handed to
// put, which keeps nothing if the cache forgot in between: what was read may
// predate the change that made it forget.
func (c *sessionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps a session read from Postgres at now, unless the cache forgot
// everything since gen or is not listening.
func (c *sessionCache) put(hash string, gen uint64, s Session, u User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if len(c.entries) >= sessionCacheMax {
		clear(c.entries)
	}
	c.entries[hash] = cachedSession{s: s, u: u, at: now}
}

// reset drops every session kept; c.mu is held.
func (c *sessionCache) reset() {
	clear(c.entries)
	c.gen++
}

// forget drops every session kept: a change was notified, or made here.
func (c *sessionCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

// lost drops every session kept and keeps none until the cache listens
// again: notifications may be missed meanwhile.
func (c *sessionCache) lost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
	c.live = false
	c.losses++
}

// listening drops every session kept and lets the cache keep sessions again.
func (c *sessionCache) listening() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
	c.live = true
}

// regained is listening after a ping that answered, unless the connection
// was lost (losses moved) since the ping was sent.
func (c *sessionCache) regained(losses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live && c.losses == losses {
		c.reset()
		c.live = true
	}
}

// forgetSessions drops the sessions this process keeps, after it changed a
// session or a user itself (the notification follows, for other processes).
func (db *DB) forgetSessions() {
	if c := db.sessions.Load(); c != nil {
		c.forget()
	}
}

// CacheStaffSessions makes StaffSession answer from memory for a session
// it checked less than ttl ago, until ctx ends. It listens on a connection
// of its own for the notifications of migration 00050; until that
// connection is up, and whenever it is down, every check goes to Postgres.
// Call it once, before serving.
func (db *DB) CacheStaffSessions(ctx context.Context, ttl time.Duration, log *slog.Logger) error {
	if ttl <= 0 {
		return nil
	}
	if db.url == "" {
		return fmt.Errorf("store: session cache: the database handle has no connection string")
	}
	c := &sessionCache{ttl: ttl, entries: map[string]cachedSession{}}
	if !db.sessions.CompareAndSwap(nil, c) {
		return fmt.Errorf("store: session cache: started twice")
	}
	l := pq.NewListener(db.url, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected:
			log.Warn("session cache: not listening; staff sessions are checked in Postgres each time", "err", err)
			c.lost()
		case pq.ListenerEventReconnected:
			// The channel is listened to again before this event.
			log.Info("session cache: listening again")
			c.listening()
		}
	})
	go func() {
		defer l.Close()
		// Only once the channel is listened to may sessions be kept.
		if err := listen(ctx, l, staffAuthChannel); err != nil {
			if ctx.Err() == nil {
				log.Error("session cache: cannot listen; staff sessions are checked in Postgres each time", "err", err)
			}
			return
		}
		c.listening()
		go c.watch(ctx, l)
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.Notify:
				// A change, or (nil) a reconnection: forget all either way.
				c.forget()
			}
		}
	}()
	return nil
}

// listen starts listening on channel and returns once it listens (Listen
// waits for a connection), or with ctx's error when ctx ends first.
func listen(ctx context.Context, l *pq.Listener, channel string) error {
	listened := make(chan error, 1)
	go func() { listened <- l.Listen(channel) }()
	select {
	case err := <-listened:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watch pings the listening connection until ctx ends: one that died
// silently (no reset, no event) must not leave the cache trusting
// notifications that cannot come. A ping that answers lets the cache keep
// sessions again, unless the connection was lost since the ping was sent.
func (c *sessionCache) watch(ctx context.Context, l *pq.Listener) {
	tick := time.NewTicker(sessionCachePing)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		losses := c.lossCount()
		answered := make(chan error, 1)
		go func() { answered <- l.Ping() }()
		select {
		case <-ctx.Done():
			return
		case err := <-answered:
			if err != nil {
				c.lost()
			} else {
				c.regained(losses)
			}
		case <-time.After(sessionCachePing):
			c.lost()
		}
	}
}

// lossCount counts the times the cache stopped listening.
func (c *sessionCache) lossCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.losses
}

// liveNow reports whether the cache is listening.
func (c *sessionCache) liveNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// CachingStaffSessions reports whether StaffSession answers from memory
// now: the cache runs and is listening.
func (db *DB) CachingStaffSessions() bool {
	c := db.sessions.Load()
	return c != nil && c.liveNow()
}
