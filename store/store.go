// Package store is the service's Postgres storage, through sqlx and lib/pq.
// Each method carries its SQL beside it. Driver errors are translated into
// *dsar.Error codes (no rows → ENOTFOUND, unique violation → ECONFLICT, ...)
// so no caller imports database/sql.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the service's database handle.
type DB struct {
	*sqlx.DB
	url        string                       // for connections of its own (the session cache's listener)
	stmts      sync.Map                     // query text → *sqlx.Stmt, for prepared
	sessions   atomic.Pointer[sessionCache] // nil unless CacheStaffSessions runs
	rateSweep  atomic.Int64                 // when this process last swept rate_limits (Unix ns)
	auditKeys  *crypto.Keyring              // keys the audit chain (KeyAudit)
	loginNow   func() time.Time             // the clock of failed-login windows; nil: time.Now (tests set it)
	loginSweep atomic.Int64                 // when this process last swept login_failures (Unix ns)

	waiterOnce sync.Once // starts waiter on the first AwaitAction
	waiter     atomic.Pointer[actionWaiter]
	waiterErr  error
}

// Open connects to the database at url (a postgres:// URL or key=value DSN;
// its sslmode is honoured) and checks that it answers.
func Open(ctx context.Context, url string, maxOpen int) (*DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxOpen)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return &DB{DB: db, url: url}, nil
}

// prepared is the prepared statement for query q, prepared once for the
// handle (database/sql prepares it again on each connection that runs it).
// It is for the queries every call makes, such as the session check: a
// prepared statement skips parsing and planning and costs one round trip
// instead of two. Only constant query texts belong here.
func (db *DB) prepared(ctx context.Context, q string) (*sqlx.Stmt, error) {
	if st, ok := db.stmts.Load(q); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := db.PreparexContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(q, st); loaded {
		_ = st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// Migrate applies every migration not yet applied, holding a Postgres
// session lock so that processes starting together migrate once.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB.DB, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
		}
	}
	return nil
}

// Tx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise.
func (db *DB) Tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", Translate(err))
	}
	return nil
}

// Translate turns driver errors into *dsar.Error codes: no rows is
// ENOTFOUND, a unique violation ECONFLICT, a foreign-key or check violation
// EINVALID. Other errors are returned as they are.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &dsar.Error{Code: dsar.ENOTFOUND, Message: "not found"}
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "23505":
			return &dsar.Error{Code: dsar.ECONFLICT, Message: "already exists"}
		case "23503":
			return &dsar.Error{Code: dsar.EINVALID, Message: "refers to something that does not exist"}
		case "23514", "22P02":
			return &dsar.Error{Code: dsar.EINVALID, Message: "a value is not valid"}
		}
	}
	return err
}

// Unreachable reports whether err says the database cannot be reached or
// cannot take the call right now: the connection failed or broke, the server
// is starting, shutting down or restarting, or it has no connection left.
// Such a call may succeed if made again later (callers answer 503), unlike
// an error of the query itself.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "57P01", "57P02", "57P03", "53300": // admin or crash shutdown, starting up, too many connections
			return true
		}
		return pqErr.Code.Class() == "08" // connection exception
	}
	var netErr net.Error // refused, reset, broken pipe, timed out
	return errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	return db.PingContext(ctx)
}
