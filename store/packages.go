package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// An access package is the zip an access request's requester downloads
// from the portal. It is sealed under a key of its own, so it outlives the
// request's erasure at close until it expires; then its key and content
// are deleted.

// Package statuses. "building" is not stored: it is a request waiting for
// its package (PackageStatus).
const (
	PackageFailed    = "failed" // the last build failed; the workflow tries again
	PackageBuilding  = "building"
	PackageReady     = "ready"
	PackageApproved  = "approved"
	PackagePublished = "published"
	PackageExpired   = "expired"
)

// PackageStatuses lists every package status.
var PackageStatuses = []string{PackageBuilding, PackageFailed, PackageReady, PackageApproved, PackagePublished, PackageExpired}

// PackageStatusLabel is a package status in words.
func PackageStatusLabel(s string) string {
	switch s {
	case PackageBuilding:
		return "Being built"
	case PackageFailed:
		return "Could not be built: tried again every hour"
	case PackageReady:
		return "Ready for review"
	case PackageApproved:
		return "Approved: sent when the request is completed"
	case PackagePublished:
		return "Available to the requester"
	case PackageExpired:
		return "Expired and erased"
	}
	return s
}

// Package is a request's access package, without its content.
type Package struct {
	ID           string         `db:"id" json:"id"`
	RequestID    string         `db:"request_id" json:"-"`
	Status       string         `db:"status" json:"status"`
	Size         int64          `db:"size" json:"size"`
	SHA256       string         `db:"sha256" json:"sha256"`
	Chunks       int            `db:"chunks" json:"-"`
	FileIDs      pq.StringArray `db:"file_ids" json:"file_ids"`
	BuiltAt      time.Time      `db:"built_at" json:"built_at"`
	ApprovedAt   *time.Time     `db:"approved_at" json:"approved_at"`
	ApprovedBy   *string        `db:"approved_by" json:"approved_by"`
	ApprovalNote *string        `db:"approval_note" json:"approval_note"`
	PublishedAt  *time.Time     `db:"published_at" json:"published_at"`
	ExpiresAt    *time.Time     `db:"expires_at" json:"expires_at"`
	ExpiredAt    *time.Time     `db:"expired_at" json:"expired_at"`
	Error        *string        `db:"error" json:"error"`

	KeyID      *string `db:"key_id" json:"-"`
	WrappedKey []byte  `db:"wrapped_key" json:"-"`
}

const packageColumns = `id, request_id, status, size, sha256, chunks, file_ids, built_at, approved_at, approved_by,
	approval_note, published_at, expires_at, expired_at, error, key_id, wrapped_key`

// Package returns a request's package. ENOTFOUND when it has none.
func (db *DB) Package(ctx context.Context, requestID string) (Package, error) {
	notFound := dsar.Errorf(dsar.ENOTFOUND, "the request has no access package")
	if _, err := uuid.Parse(requestID); err != nil {
		return Package{}, notFound
	}
	var p Package
	if err := db.GetContext(ctx, &p, `SELECT `+packageColumns+` FROM packages WHERE request_id = $1`, requestID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Package{}, notFound
		}
		return Package{}, fmt.Errorf("store: package of %s: %w", requestID, Translate(err))
	}
	return p, nil
}

// PutPackage stores a new package for a request, replacing one not yet
// published: write writes its content (the zip), which is sealed chunk by
// chunk under a new key as it is written. fileIDs are the task files it
// holds. ECONFLICT when the request's package is published or expired.
func (db *DB) PutPackage(ctx context.Context, keys *crypto.Keyring, requestID string, fileIDs []string,
	write func(w io.Writer) error) (Package, error) {
	p := Package{ID: uuid.NewString(), RequestID: requestID, Status: PackageReady, FileIDs: fileIDs, BuiltAt: now()}
	if p.FileIDs == nil {
		p.FileIDs = pq.StringArray{}
	}
	key := crypto.NewDataKey()
	wrapped, keyID, err := keys.Wrap(key)
	if err != nil {
		return Package{}, err
	}
	p.KeyID, p.WrappedKey = &keyID, wrapped
	err = db.Tx(ctx, func(tx *sqlx.Tx) error {
		// Alone with the request's files: an upload in flight finishes
		// first, and then it must be in fileIDs or the build is stale.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+filesLock+`)`, requestID); err != nil {
			return fmt.Errorf("store: files lock of %s: %w", requestID, Translate(err))
		}
		var status string
		err := tx.GetContext(ctx, &status, `SELECT status FROM packages WHERE request_id = $1 FOR UPDATE`, requestID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: package of %s: %w", requestID, Translate(err))
		case status == PackagePublished || status == PackageExpired:
			return dsar.Errorf(dsar.ECONFLICT, "the access package is %s: it cannot be built again", status)
		}
		var missed int
		const qMissed = `SELECT count(*) FROM task_files WHERE request_id = $1 AND NOT pending AND removed_at IS NULL
			AND NOT (id = ANY($2::uuid[]))`
		if err := tx.GetContext(ctx, &missed, qMissed, requestID, pq.Array(p.FileIDs)); err != nil {
			return fmt.Errorf("store: files of %s: %w", requestID, Translate(err))
		}
		if missed > 0 {
			// Retryable: the next attempt reads the files again.
			return fmt.Errorf("store: %d file(s) were added to request %s while its package was built", missed, requestID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM packages WHERE request_id = $1`, requestID); err != nil {
			return fmt.Errorf("store: replace package of %s: %w", requestID, Translate(err))
		}
		const qPut = `INSERT INTO packages (id, request_id, status, key_id, wrapped_key, file_ids, built_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`
		if _, err := tx.ExecContext(ctx, qPut, p.ID, requestID, p.Status, keyID, wrapped, pq.Array(p.FileIDs), p.BuiltAt); err != nil {
			return fmt.Errorf("store: put package of %s: %w", requestID, Translate(err))
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(write(pw)) }()
		const qChunk = `INSERT INTO package_chunks (package_id, seq, sealed) VALUES ($1, $2, $3)`
		s, err := sealChunks(key, kindPackage, p.ID, pr, 0, func(seq int, sealed []byte) error {
			_, err := tx.ExecContext(ctx, qChunk, p.ID, seq, sealed)
			return Translate(err)
		})
		pr.CloseWithError(err) // unblock the writer when sealing stopped first
		if err != nil {
			return err
		}
		p.Size, p.SHA256, p.Chunks = s.Size, s.SHA256, s.Chunks
		const qDone = `UPDATE packages SET size = $2, sha256 = $3, chunks = $4 WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qDone, p.ID, s.Size, s.SHA256, s.Chunks); err != nil {
			return fmt.Errorf("store: put package of %s: %w", requestID, Translate(err))
		}
		return nil
	})
	if err != nil {
		return Package{}, err
	}
	return p, nil
}

// ApprovePackage marks a request's package packageID approved by a staff
// member with their note. Approving again keeps the first approval's
// time. ECONFLICT when the request's package is another one, or past
// approval.
func (db *DB) ApprovePackage(ctx context.Context, requestID, packageID, by, note string) (Package, error) {
	const q = `UPDATE packages SET status = 'approved', approved_at = coalesce(approved_at, now()),
		approved_by = nullif($3, '')::uuid, approval_note = $4
		WHERE request_id = $1 AND id = $2 AND status IN ('ready', 'approved')`
	res, err := db.ExecContext(ctx, q, requestID, packageID, by, note)
	if err != nil {
		return Package{}, fmt.Errorf("store: approve package of %s: %w", requestID, Translate(err))
	}
	p, err := db.Package(ctx, requestID)
	if err != nil {
		return Package{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 && (p.ID != packageID || p.Status != PackageApproved) {
		return p, dsar.Errorf(dsar.ECONFLICT, "the access package changed: review it again (it is %s)", p.Status)
	}
	return p, nil
}

// PublishPackage makes a request's approved package available to the
// requester until expiresAt. Publishing again changes nothing.
func (db *DB) PublishPackage(ctx context.Context, requestID string, expiresAt time.Time) (Package, error) {
	const q = `UPDATE packages SET status = 'published', published_at = now(), expires_at = $2
		WHERE request_id = $1 AND status = 'approved'`
	if _, err := db.ExecContext(ctx, q, requestID, expiresAt); err != nil {
		return Package{}, fmt.Errorf("store: publish package of %s: %w", requestID, Translate(err))
	}
	p, err := db.Package(ctx, requestID)
	if err == nil && p.Status != PackagePublished && p.Status != PackageExpired {
		return p, dsar.Errorf(dsar.ECONFLICT, "the access package is %s, not approved", p.Status)
	}
	return p, err
}

// ExpirePackage erases a request's package: its key and content go, its
// row stays as a record (status expired, size and hash). Expiring again,
// or a request without a package, changes nothing.
func (db *DB) ExpirePackage(ctx context.Context, requestID string) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE packages SET status = 'expired', expired_at = coalesce(expired_at, now()), key_id = NULL, wrapped_key = NULL,
			approval_note = NULL
			WHERE request_id = $1 RETURNING id`
		var id string
		if err := tx.GetContext(ctx, &id, q, requestID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return fmt.Errorf("store: expire package of %s: %w", requestID, Translate(err))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM package_chunks WHERE package_id = $1`, id); err != nil {
			return fmt.Errorf("store: expire package of %s: %w", requestID, Translate(err))
		}
		return nil
	})
}

// OverduePackages lists the requests whose published package expired
// before the time before, at most limit; none under a legal hold.
func (db *DB) OverduePackages(ctx context.Context, before time.Time, limit int) ([]string, error) {
	const q = `SELECT pk.request_id FROM packages pk JOIN requests r ON r.id = pk.request_id
		WHERE pk.status = 'published' AND pk.expires_at < $1 AND NOT r.legal_hold_on ORDER BY pk.expires_at LIMIT $2`
	ids := []string{}
	if err := db.SelectContext(ctx, &ids, q, before, limit); err != nil {
		return nil, fmt.Errorf("store: overdue packages: %w", Translate(err))
	}
	return ids, nil
}

// RecordPackageFailure records that a request's package could not be
// built, and why (ids only). A package built before is left as it is.
func (db *DB) RecordPackageFailure(ctx context.Context, requestID, why string) error {
	const q = `INSERT INTO packages (id, request_id, status, error) VALUES ($1, $2, 'failed', $3)
		ON CONFLICT (request_id) DO UPDATE SET error = excluded.error, built_at = now() WHERE packages.status = 'failed'`
	if _, err := db.ExecContext(ctx, q, uuid.NewString(), requestID, why); err != nil {
		return fmt.Errorf("store: record the failed package of %s: %w", requestID, Translate(err))
	}
	return nil
}

// DiscardPackage deletes a request's package not yet published (a new
// task means it must be built again). Nothing to discard is fine.
func (db *DB) DiscardPackage(ctx context.Context, requestID string) error {
	const q = `DELETE FROM packages WHERE request_id = $1 AND status IN ('failed', 'ready', 'approved')`
	if _, err := db.ExecContext(ctx, q, requestID); err != nil {
		return fmt.Errorf("store: discard package of %s: %w", requestID, Translate(err))
	}
	return nil
}

// OpenPackage returns a request's package and a reader of its content.
// ENOTFOUND when it has none; EGONE once expired.
func (db *DB) OpenPackage(ctx context.Context, keys *crypto.Keyring, requestID string) (Package, io.ReadCloser, error) {
	p, err := db.Package(ctx, requestID)
	if err != nil {
		return Package{}, nil, err
	}
	switch {
	case p.Status == PackageFailed:
		return p, nil, dsar.Errorf(dsar.ENOTFOUND, "the access package could not be built")
	case p.Status == PackageExpired || p.WrappedKey == nil || p.KeyID == nil:
		return p, nil, dsar.Errorf(dsar.EGONE, "the access package has expired and been erased")
	case p.ExpiresAt != nil && !p.ExpiresAt.After(time.Now()):
		// Past its date, not yet erased (the workflow is behind): gone all
		// the same, as the requester was told.
		return p, nil, dsar.Errorf(dsar.EGONE, "the access package has expired and been erased")
	}
	key, err := keys.Unwrap(p.WrappedKey, *p.KeyID)
	if err != nil {
		return Package{}, nil, err
	}
	r := db.readChunks(ctx, key, kindPackage, p.ID, p.Chunks, `SELECT sealed FROM package_chunks WHERE package_id = $1 AND seq = $2`,
		dsar.Errorf(dsar.EGONE, "the access package has expired and been erased")) // erased while it was read
	return p, r, nil
}
