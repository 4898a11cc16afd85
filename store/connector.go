package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// A data source's connector (dsar connector, inside the data owner's
// network) calls the service with the source's connector token: for the
// verified email of a request's subject, and to upload exports, which
// arrive in parts and become a task file of the source's task.

// ConnectorTokenPrefix starts every connector token, so a leaked one is
// recognised for what it is.
const ConnectorTokenPrefix = "dsc_"

// ConnectorActor is the audit actor id of a data source's connector
// (actor kind system).
func ConnectorActor(dataSourceID string) string { return "connector:" + dataSourceID }

// NewConnectorToken makes a new connector token for a data source and
// returns it, the only time it is shown; only its hash is kept, and the
// source's previous token stops working. ENOTFOUND for no such source.
func (db *DB) NewConnectorToken(ctx context.Context, dataSourceID, by string) (string, error) {
	if _, err := uuid.Parse(dataSourceID); err != nil {
		return "", dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	token := ConnectorTokenPrefix + crypto.NewToken()
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var live bool
		if err := tx.GetContext(ctx, &live, `SELECT deleted_at IS NULL FROM data_sources WHERE id = $1 FOR UPDATE`, dataSourceID); err != nil || !live {
			if err == nil || errors.Is(err, sql.ErrNoRows) {
				return dsar.Errorf(dsar.ENOTFOUND, "no such data source")
			}
			return fmt.Errorf("store: data source %s: %w", dataSourceID, err)
		}
		var rotated bool
		const q = `INSERT INTO connector_tokens (data_source_id, token_hash, created_by) VALUES ($1, $2, nullif($3, '')::uuid)
			ON CONFLICT (data_source_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now(), created_by = EXCLUDED.created_by
			RETURNING (xmax <> 0)`
		if err := tx.GetContext(ctx, &rotated, q, dataSourceID, crypto.HashToken(token), by); err != nil {
			return fmt.Errorf("store: connector token of %s: %w", dataSourceID, Translate(err))
		}
		_, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorStaff, ActorID: by, Action: dsar.AuditConnectorTokenCreated,
			Detail: map[string]any{"data_source_id": dataSourceID, "replaced": rotated}})
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// ConnectorSource is the data source whose connector token this is.
// EUNAUTHORIZED for any other string (a void token, a deleted source).
func (db *DB) ConnectorSource(ctx context.Context, token string) (string, error) {
	refused := dsar.Errorf(dsar.EUNAUTHORIZED, "this connector token is not valid (a new one voids the old)")
	raw, ok := strings.CutPrefix(token, ConnectorTokenPrefix)
	if !ok || !crypto.ValidToken(raw) {
		return "", refused
	}
	var id string
	const q = `SELECT t.data_source_id FROM connector_tokens t JOIN data_sources d ON d.id = t.data_source_id
		WHERE t.token_hash = $1 AND d.deleted_at IS NULL`
	if err := db.GetContext(ctx, &id, q, crypto.HashToken(token)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", refused
		}
		return "", fmt.Errorf("store: connector token: %w", err)
	}
	return id, nil
}

// ConnectorSubject is the verified email of a request's subject, for the
// connector of a data source with an open automated task on that request,
// audited. ENOTFOUND otherwise (no such request, no open task of that
// source); EGONE once the request's data is erased.
func (db *DB) ConnectorSubject(ctx context.Context, keys *crypto.Keyring, requestID, dataSourceID string) (string, error) {
	if err := connectorTask(ctx, db, requestID, dataSourceID); err != nil {
		return "", err
	}
	pii, err := db.RequestPII(ctx, keys, requestID)
	if err != nil {
		return "", err
	}
	_, err = db.AppendAudit(ctx, Audit{RequestID: requestID, ActorKind: ActorSystem, ActorID: ConnectorActor(dataSourceID),
		Action: dsar.AuditConnectorSubjectRead, Detail: map[string]any{"data_source_id": dataSourceID}})
	if err != nil {
		return "", err
	}
	return pii.Email, nil
}

// connectorTask checks that the source has an open automated task on an
// accepted, open request: ENOTFOUND otherwise, so a connector learns
// nothing of requests that are not its work.
func connectorTask(ctx context.Context, q sqlx.QueryerContext, requestID, dataSourceID string) error {
	notFound := dsar.Errorf(dsar.ENOTFOUND, "no open automated task of this data source on this request")
	if _, err := uuid.Parse(requestID); err != nil {
		return notFound
	}
	var open bool
	// Automated: assigned while its source ran through a connector, and
	// not switched to manual since.
	const qTask = `SELECT EXISTS (SELECT 1 FROM tasks t JOIN requests r ON r.id = t.request_id
		WHERE t.request_id = $1 AND t.data_source_id = $2 AND t.status = 'open' AND r.accepted
		AND t.mode IN ('postgres', 'mysql') AND coalesce(t.automation->>'state', '') <> 'manual'
		AND r.status NOT IN ('completed', 'rejected', 'expired', 'withdrawn'))`
	if err := sqlx.GetContext(ctx, q, &open, qTask, requestID, dataSourceID); err != nil {
		return fmt.Errorf("store: task of %s: %w", requestID, Translate(err))
	}
	if !open {
		return notFound
	}
	return nil
}

func connectorNameAAD(requestID, id string) []byte {
	return []byte("dsar connector upload name " + requestID + " " + id)
}

func connectorPartAAD(id string, n int) []byte {
	return []byte("dsar connector upload part " + id + " " + strconv.Itoa(n))
}

// CreateConnectorUpload starts an upload of an export named name for the
// source's open automated task on a request, and returns its id.
func (db *DB) CreateConnectorUpload(ctx context.Context, keys *crypto.Keyring, requestID, dataSourceID, name string) (string, error) {
	if err := connectorTask(ctx, db, requestID, dataSourceID); err != nil {
		return "", err
	}
	if err := taskTakesFiles(ctx, db, requestID, dataSourceID, false); err != nil {
		return "", err
	}
	key, err := db.dataKey(ctx, keys, requestID)
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	sealedName, err := crypto.Seal(key, []byte(name), connectorNameAAD(requestID, id))
	if err != nil {
		return "", err
	}
	const q = `INSERT INTO connector_uploads (id, request_id, data_source_id, name) VALUES ($1, $2, $3, $4)`
	if _, err := db.ExecContext(ctx, q, id, requestID, dataSourceID, sealedName); err != nil {
		return "", fmt.Errorf("store: connector upload: %w", Translate(err))
	}
	return id, nil
}

// connectorUpload is an upload's row.
type connectorUpload struct {
	ID           string `db:"id"`
	RequestID    string `db:"request_id"`
	DataSourceID string `db:"data_source_id"`
	Name         []byte `db:"name"`
}

// upload loads an upload of the source: ENOTFOUND for no such upload of
// that source; ECONFLICT once completed (a task file has its id).
func (db *DB) upload(ctx context.Context, dataSourceID, uploadID string) (connectorUpload, error) {
	var u connectorUpload
	notFound := dsar.Errorf(dsar.ENOTFOUND, "no such upload")
	if _, err := uuid.Parse(uploadID); err != nil {
		return u, notFound
	}
	const q = `SELECT id, request_id, data_source_id, name FROM connector_uploads WHERE id = $1 AND data_source_id = $2`
	if err := db.GetContext(ctx, &u, q, uploadID, dataSourceID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := db.connectorFile(ctx, dataSourceID, uploadID); err == nil {
				return u, dsar.Errorf(dsar.ECONFLICT, "this upload is completed")
			}
			return u, notFound
		}
		return u, fmt.Errorf("store: upload %s: %w", uploadID, err)
	}
	return u, nil
}

// MaxUploadPart is the largest part of a connector upload.
const MaxUploadPart = 16 << 20

// MaxUploadParts is the most parts an upload has.
const MaxUploadParts = 100000

// PutConnectorPart stores part n of an upload, sealed under the request's
// data key; a part sent again replaces it. ETOOLARGE when the parts would
// pass maxTotal; ECONFLICT when the upload is completed or its task takes
// no more files.
func (db *DB) PutConnectorPart(ctx context.Context, keys *crypto.Keyring, dataSourceID, uploadID string, n int, data []byte, maxTotal int64) error {
	u, err := db.upload(ctx, dataSourceID, uploadID)
	if err != nil {
		return err
	}
	if err := connectorTask(ctx, db, u.RequestID, dataSourceID); err != nil {
		return err
	}
	if err := taskTakesFiles(ctx, db, u.RequestID, dataSourceID, false); err != nil {
		return err
	}
	var others int64
	if err := db.GetContext(ctx, &others, `SELECT coalesce(sum(size), 0) FROM connector_upload_parts WHERE upload_id = $1 AND n <> $2`, u.ID, n); err != nil {
		return fmt.Errorf("store: upload %s: %w", u.ID, err)
	}
	if others+int64(len(data)) > maxTotal {
		return dsar.Errorf(dsar.ETOOLARGE, "the upload's parts are larger than %d bytes together", maxTotal)
	}
	key, err := db.dataKey(ctx, keys, u.RequestID)
	if err != nil {
		return err
	}
	sealedPart, err := crypto.Seal(key, data, connectorPartAAD(u.ID, n))
	if err != nil {
		return err
	}
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO connector_upload_parts (upload_id, n, size, sealed) VALUES ($1, $2, $3, $4)
			ON CONFLICT (upload_id, n) DO UPDATE SET size = EXCLUDED.size, sealed = EXCLUDED.sealed`
		if _, err := tx.ExecContext(ctx, q, u.ID, n, len(data), sealedPart); err != nil {
			return fmt.Errorf("store: upload %s part %d: %w", u.ID, n, Translate(err))
		}
		_, err := tx.ExecContext(ctx, `UPDATE connector_uploads SET updated_at = now() WHERE id = $1`, u.ID)
		return err
	})
}

// connectorFile is the task file a completed upload became.
func (db *DB) connectorFile(ctx context.Context, dataSourceID, uploadID string) (TaskFile, error) {
	var f TaskFile
	const q = `SELECT ` + taskFileColumns + ` FROM task_files WHERE id = $1 AND data_source_id = $2 AND NOT pending`
	if err := db.GetContext(ctx, &f, q, uploadID, dataSourceID); err != nil {
		return f, Translate(err)
	}
	return f, nil
}

// CompleteConnectorUpload makes parts 1..parts of an upload a task file
// of the source's task (its id the upload's), sealed as every task file,
// audited as the connector's, and drops the parts. Completing again
// answers the same file. contentType gives the file's type by its name.
// ECONFLICT naming a missing part, or when the task
// takes no more files; ETOOLARGE past maxSize.
func (db *DB) CompleteConnectorUpload(ctx context.Context, keys *crypto.Keyring, dataSourceID, uploadID string, parts int, contentType func(name string) string, maxSize int64) (TaskFile, error) {
	if f, err := db.connectorFile(ctx, dataSourceID, uploadID); err == nil {
		return f, nil
	}
	u, err := db.upload(ctx, dataSourceID, uploadID)
	if err != nil {
		return TaskFile{}, err
	}
	// Staff may have switched the task to manual while the export ran: its
	// file is no longer the connector's to add.
	if err := connectorTask(ctx, db, u.RequestID, dataSourceID); err != nil {
		return TaskFile{}, err
	}
	var have []int
	if err := db.SelectContext(ctx, &have, `SELECT n FROM connector_upload_parts WHERE upload_id = $1 ORDER BY n`, u.ID); err != nil {
		return TaskFile{}, fmt.Errorf("store: upload %s: %w", u.ID, err)
	}
	for i := 1; i <= parts; i++ {
		if i > len(have) || have[i-1] != i {
			return TaskFile{}, &dsar.Error{Code: dsar.ECONFLICT, Message: fmt.Sprintf("part %d of the upload was not received", i),
				Fields: map[string]string{"parts": fmt.Sprintf("part %d is missing: send it, then complete again", i)}}
		}
	}
	// Parts past the last are from a run of the export that was stopped
	// and made its parts differently: not read, dropped with the upload.
	key, err := db.dataKey(ctx, keys, u.RequestID)
	if err != nil {
		return TaskFile{}, err
	}
	name, err := crypto.Open(key, u.Name, connectorNameAAD(u.RequestID, u.ID))
	if err != nil {
		return TaskFile{}, fmt.Errorf("store: open upload name %s: %w", u.ID, err)
	}
	content := &partReader{ctx: ctx, db: db, key: key, id: u.ID, parts: parts}
	f, err := db.AddTaskFile(ctx, keys, NewTaskFile{ID: u.ID, RequestID: u.RequestID, DataSourceID: dataSourceID, Name: string(name),
		ContentType: contentType(string(name)), SystemActor: ConnectorActor(dataSourceID), Content: content, MaxSize: maxSize})
	if dsar.ErrorCode(err) == dsar.ECONFLICT { // completed at the same time by another call?
		if done, ferr := db.connectorFile(ctx, dataSourceID, uploadID); ferr == nil {
			return done, nil
		}
	}
	if err != nil {
		return TaskFile{}, err
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM connector_uploads WHERE id = $1`, u.ID); err != nil {
		// The file is whole; the parts go with the request's data or the sweep.
		return f, nil //nolint:nilerr // the completion happened
	}
	return f, nil
}

// partReader reads an upload's parts 1..parts in order, each opened as it
// is reached.
type partReader struct {
	ctx   context.Context
	db    *DB
	key   []byte
	id    string
	parts int
	n     int
	buf   []byte
}

func (r *partReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.n >= r.parts {
			return 0, io.EOF
		}
		r.n++
		var sealedPart []byte
		if err := r.db.GetContext(r.ctx, &sealedPart, `SELECT sealed FROM connector_upload_parts WHERE upload_id = $1 AND n = $2`, r.id, r.n); err != nil {
			return 0, fmt.Errorf("store: upload %s part %d: %w", r.id, r.n, err)
		}
		plain, err := crypto.Open(r.key, sealedPart, connectorPartAAD(r.id, r.n))
		if err != nil {
			return 0, fmt.Errorf("store: open upload %s part %d: %w: %w", r.id, r.n, ErrCorrupt, err)
		}
		r.buf = plain
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// SweepConnectorUploads deletes uploads untouched since before the time
// before (their connector gave up or was given a new task), and reports
// how many.
func (db *DB) SweepConnectorUploads(ctx context.Context, before time.Time) (int, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM connector_uploads WHERE updated_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("store: sweep connector uploads: %w", Translate(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
