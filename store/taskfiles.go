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

// A task file is an export a data source's owner (or staff) attached to
// their task: what the access package is built from. Its content and name
// are sealed under the request's data key, so the erasure at close makes
// them unreadable (and deletes them).

// TaskFile describes one task file.
type TaskFile struct {
	ID            string     `db:"id" json:"id"`
	RequestID     string     `db:"request_id" json:"-"`
	DataSourceID  string     `db:"data_source_id" json:"data_source_id"`
	Name          string     `db:"-" json:"name"`
	ContentType   string     `db:"content_type" json:"content_type"`
	Size          int64      `db:"size" json:"size"`
	SHA256        string     `db:"sha256" json:"sha256"`
	Chunks        int        `db:"chunks" json:"-"`
	UploadedBy    *string    `db:"uploaded_by" json:"uploaded_by"`
	CreatedAt     time.Time  `db:"created_at" json:"uploaded_at"`
	RemovedAt     *time.Time `db:"removed_at" json:"removed_at,omitempty"`
	RemovedBy     *string    `db:"removed_by" json:"removed_by,omitempty"`
	RemovedReason *string    `db:"removed_reason" json:"removed_reason,omitempty"`

	SealedName []byte `db:"name" json:"-"`
}

// NewTaskFile is a file to attach to a task. ContentType has been checked
// by the caller (sniffed, never the client's word); Content is read to its
// end, at most MaxSize bytes.
type NewTaskFile struct {
	RequestID    string
	DataSourceID string
	Name         string
	ContentType  string
	UploadedBy   string
	Content      io.Reader
	MaxSize      int64
	// ID is the new file's id, when the caller chose it (a connector's
	// upload: completing it twice makes one file); "" for a new one.
	ID string
	// SystemActor, when set, is who uploaded instead of UploadedBy: the
	// system on behalf of a data source (ConnectorActor, WebhookActor),
	// audited as the system.
	SystemActor string
}

func taskFileNameAAD(requestID, id string) []byte {
	return []byte("dsar task file name " + requestID + " " + id)
}

// filesLock is the advisory lock key of request $1's files.
const filesLock = `hashtextextended('dsar task files ' || $1::text, 0)`

// chunk kinds
const (
	kindTaskFile = "task file"
	kindPackage  = "package"
)

// AddTaskFile stores a file on an open task of an open request, streaming
// its content in sealed chunks, with its audit row. The chunks go in while
// the file is pending, each in its own short write, so a slow client holds
// no lock and no transaction; then one short transaction checks the task
// again and makes the file whole. A failure at any point leaves nothing.
// ENOTFOUND when there is no such task; ECONFLICT when the task is not
// open, the request is closed or its package is built; ETOOLARGE past
// MaxSize.
func (db *DB) AddTaskFile(ctx context.Context, keys *crypto.Keyring, f NewTaskFile) (TaskFile, error) {
	if _, err := uuid.Parse(f.RequestID); err != nil {
		return TaskFile{}, dsar.Errorf(dsar.ENOTFOUND, "no such task")
	}
	id := f.ID
	if id == "" {
		id = uuid.NewString()
	}
	out := TaskFile{ID: id, RequestID: f.RequestID, DataSourceID: f.DataSourceID, Name: f.Name,
		ContentType: f.ContentType, CreatedAt: now()}
	if f.UploadedBy != "" {
		out.UploadedBy = &f.UploadedBy
	}
	if err := taskTakesFiles(ctx, db, f.RequestID, f.DataSourceID, false); err != nil {
		return TaskFile{}, err
	}
	key, err := db.dataKey(ctx, keys, f.RequestID)
	if err != nil {
		return TaskFile{}, err
	}
	if out.SealedName, err = crypto.Seal(key, []byte(f.Name), taskFileNameAAD(f.RequestID, out.ID)); err != nil {
		return TaskFile{}, err
	}
	const qFile = `INSERT INTO task_files (id, request_id, data_source_id, name, content_type, size, sha256, chunks, pending, uploaded_by, created_at)
		VALUES ($1, $2, $3, $4, $5, 0, '', 1, true, $6, $7)`
	if _, err := db.ExecContext(ctx, qFile, out.ID, f.RequestID, f.DataSourceID, out.SealedName, f.ContentType,
		out.UploadedBy, out.CreatedAt); err != nil {
		return TaskFile{}, fmt.Errorf("store: add task file: %w", Translate(err))
	}
	keep := false
	defer func() {
		if !keep { // the pending file and its chunks; the reconciliation sweeps what this misses
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _ = db.ExecContext(dctx, `DELETE FROM task_files WHERE id = $1 AND pending`, out.ID)
		}
	}()
	const qChunk = `INSERT INTO task_file_chunks (file_id, seq, sealed) VALUES ($1, $2, $3)`
	sum, err := sealChunks(key, kindTaskFile, out.ID, f.Content, f.MaxSize, func(seq int, sealed []byte) error {
		_, err := db.ExecContext(ctx, qChunk, out.ID, seq, sealed)
		return Translate(err)
	})
	if err != nil {
		return TaskFile{}, err
	}
	out.Size, out.SHA256, out.Chunks = sum.Size, sum.SHA256, sum.Chunks
	err = db.Tx(ctx, func(tx *sqlx.Tx) error {
		// Uploads share the request's files lock; a package build takes it
		// alone, so it never misses an upload made whole.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared(`+filesLock+`)`, f.RequestID); err != nil {
			return fmt.Errorf("store: files lock of %s: %w", f.RequestID, Translate(err))
		}
		if err := taskTakesFiles(ctx, tx, f.RequestID, f.DataSourceID, true); err != nil {
			return err
		}
		const qDone = `UPDATE task_files SET size = $2, sha256 = $3, chunks = $4, pending = false WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qDone, out.ID, sum.Size, sum.SHA256, sum.Chunks); err != nil {
			return fmt.Errorf("store: add task file: %w", Translate(err))
		}
		actorKind, actorID := ActorStaff, f.UploadedBy
		if f.SystemActor != "" {
			actorKind, actorID = ActorSystem, f.SystemActor
		}
		_, err := db.AppendAuditTx(ctx, tx, Audit{RequestID: f.RequestID, ActorKind: actorKind, ActorID: actorID,
			Action: dsar.AuditTaskFileUploaded, Detail: map[string]any{"file_id": out.ID, "data_source_id": f.DataSourceID,
				"size": sum.Size, "sha256": sum.SHA256, "content_type": f.ContentType}})
		return err
	})
	if err != nil {
		return TaskFile{}, err
	}
	keep = true
	return out, nil
}

// taskTakesFiles checks that a task may take a file: it exists, is open,
// its request is open and has no package yet. lock holds the task's row
// until the transaction ends (a completion waits for the file).
func taskTakesFiles(ctx context.Context, q sqlx.QueryerContext, requestID, dataSourceID string, lock bool) error {
	var row struct {
		TaskStatus string      `db:"task_status"`
		Status     dsar.Status `db:"status"`
		Package    bool        `db:"package"`
	}
	qCheck := `SELECT t.status AS task_status, r.status,
		EXISTS (SELECT 1 FROM packages p WHERE p.request_id = r.id AND p.status <> 'failed') AS package
		FROM tasks t JOIN requests r ON r.id = t.request_id
		WHERE t.request_id = $1 AND t.data_source_id::text = $2 AND r.accepted`
	if lock {
		qCheck += ` FOR SHARE OF t`
	}
	if err := sqlx.GetContext(ctx, q, &row, qCheck, requestID, dataSourceID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return dsar.Errorf(dsar.ENOTFOUND, "no such task")
		}
		return fmt.Errorf("store: task of %s: %w", requestID, Translate(err))
	}
	switch {
	case row.Status.Closed():
		return dsar.Errorf(dsar.ECONFLICT, "the request is %s: files can no longer be added", row.Status)
	case row.TaskStatus == "completed":
		return dsar.Errorf(dsar.ECONFLICT, "the task is completed: files are added before completing it")
	case row.Package:
		return dsar.Errorf(dsar.ECONFLICT, "the access package is built: files can no longer be added")
	}
	return nil
}

// SweepPendingFiles deletes uploads left pending since before the time
// before (their process died mid-upload), and reports how many.
func (db *DB) SweepPendingFiles(ctx context.Context, before time.Time) (int, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM task_files WHERE pending AND created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("store: sweep pending files: %w", Translate(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

const taskFileColumns = `id, request_id, data_source_id, name, content_type, size, sha256, chunks, uploaded_by, created_at,
	removed_at, removed_by, removed_reason`

// TaskFiles lists a request's task files, oldest first, names opened;
// removed ones included (RemovedAt set). Erased with the request: none.
func (db *DB) TaskFiles(ctx context.Context, keys *crypto.Keyring, requestID string) ([]TaskFile, error) {
	files := []TaskFile{}
	if _, err := uuid.Parse(requestID); err != nil {
		return files, nil
	}
	const q = `SELECT ` + taskFileColumns + ` FROM task_files WHERE request_id = $1 AND NOT pending ORDER BY created_at, id`
	if err := db.SelectContext(ctx, &files, q, requestID); err != nil {
		return nil, fmt.Errorf("store: task files of %s: %w", requestID, Translate(err))
	}
	if len(files) == 0 {
		return files, nil
	}
	key, err := db.dataKey(ctx, keys, requestID)
	if dsar.ErrorCode(err) == dsar.EGONE {
		return []TaskFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range files {
		name, err := crypto.Open(key, files[i].SealedName, taskFileNameAAD(requestID, files[i].ID))
		if err != nil {
			return nil, fmt.Errorf("store: open task file name %s: %w", files[i].ID, err)
		}
		files[i].Name = string(name)
	}
	return files, nil
}

// OpenTaskFile returns a task file of request requestID and a reader of its
// content, opened chunk by chunk as it is read. ENOTFOUND for no such file
// on that request; EGONE once the request is erased.
func (db *DB) OpenTaskFile(ctx context.Context, keys *crypto.Keyring, requestID, fileID string) (TaskFile, io.ReadCloser, error) {
	notFound := dsar.Errorf(dsar.ENOTFOUND, "no such file")
	if _, err := uuid.Parse(requestID); err != nil {
		return TaskFile{}, nil, notFound
	}
	if _, err := uuid.Parse(fileID); err != nil {
		return TaskFile{}, nil, notFound
	}
	var f TaskFile
	const q = `SELECT ` + taskFileColumns + ` FROM task_files WHERE id = $1 AND request_id = $2 AND NOT pending`
	if err := db.GetContext(ctx, &f, q, fileID, requestID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			var erased bool
			if err := db.GetContext(ctx, &erased, `SELECT scrubbed_at IS NOT NULL FROM requests WHERE id = $1`, requestID); err == nil && erased {
				return TaskFile{}, nil, dsar.Errorf(dsar.EGONE, "the request's data, its files with it, has been erased")
			}
			return TaskFile{}, nil, notFound
		}
		return TaskFile{}, nil, fmt.Errorf("store: task file %s: %w", fileID, Translate(err))
	}
	key, err := db.dataKey(ctx, keys, requestID)
	if err != nil {
		return TaskFile{}, nil, err
	}
	name, err := crypto.Open(key, f.SealedName, taskFileNameAAD(requestID, fileID))
	if err != nil {
		return TaskFile{}, nil, fmt.Errorf("store: open task file name %s: %w", fileID, err)
	}
	f.Name = string(name)
	r := db.readChunks(ctx, key, kindTaskFile, fileID, f.Chunks, `SELECT sealed FROM task_file_chunks WHERE file_id = $1 AND seq = $2`, nil)
	return f, r, nil
}

// RemoveTaskFiles marks task files of a request as removed from its
// package, by whom and why. Removing again changes nothing.
func (db *DB) RemoveTaskFiles(ctx context.Context, requestID string, ids []string, by, reason string) error {
	if len(ids) == 0 {
		return nil
	}
	const q = `UPDATE task_files SET removed_at = now(), removed_by = nullif($3, '')::uuid, removed_reason = $4
		WHERE request_id = $1 AND id = ANY($2::uuid[]) AND removed_at IS NULL`
	if _, err := db.ExecContext(ctx, q, requestID, pq.Array(ids), by, reason); err != nil {
		return fmt.Errorf("store: remove task files of %s: %w", requestID, Translate(err))
	}
	return nil
}

// DeleteTaskFiles deletes task files of a request outright (a webhook
// callback that stored them could not be applied): they leave no trace but
// their audit rows. Deleting again changes nothing.
func (db *DB) DeleteTaskFiles(ctx context.Context, requestID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	const q = `DELETE FROM task_files WHERE request_id = $1 AND id = ANY($2::uuid[])`
	if _, err := db.ExecContext(ctx, q, requestID, pq.Array(ids)); err != nil {
		return fmt.Errorf("store: delete task files of %s: %w", requestID, Translate(err))
	}
	return nil
}
