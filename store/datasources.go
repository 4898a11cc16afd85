package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
)

// DataSource is a place the company keeps personal data (a CRM, a mail
// tool, a database) and the users who own it.
type DataSource struct {
	ID          string  `db:"id" json:"id"`
	Name        string  `db:"name" json:"name"`
	Description string  `db:"description" json:"description"`
	Owners      []Owner `db:"-" json:"owners"`
	SourceSettings
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// Owner is a data source's owner, a staff user. A disabled owner stays
// listed but answers for nothing: a source whose owners are all disabled
// has no active owner, and its alerts go to the org owners.
type Owner struct {
	DataSourceID string `db:"data_source_id" json:"-"`
	ID           string `db:"id" json:"id"`
	Email        string `db:"email" json:"email"`
	Name         string `db:"name" json:"name"`
	Disabled     bool   `db:"disabled" json:"disabled"`
}

// HasActiveOwner reports whether one of the source's owners is active.
func (d DataSource) HasActiveOwner() bool {
	for _, o := range d.Owners {
		if !o.Disabled {
			return true
		}
	}
	return false
}

// DataSourcePatch changes some of a data source's fields; nil ones stay.
type DataSourcePatch struct {
	Name        *string
	Description *string
	OwnerIDs    *[]string
	Mode        *dsar.SourceMode
	TaskQueue   *string
	DryRun      *bool
	TimeLimit   *Duration
	WebhookURL  *string // "" removes it
}

// CreateDataSource stores a new data source with its owners. An owner that
// is not an active user is EINVALID naming it (field owner_ids); a name in
// use is ECONFLICT.
func (db *DB) CreateDataSource(ctx context.Context, name, description string, ownerIDs []string) (DataSource, error) {
	return db.CreateDataSourceWith(ctx, name, description, ownerIDs, SourceSettings{})
}

// CreateDataSourceWith is CreateDataSource with how its tasks are
// fulfilled: an empty mode is manual, an empty task queue the default one,
// a zero time limit DefaultTimeLimit.
func (db *DB) CreateDataSourceWith(ctx context.Context, name, description string, ownerIDs []string, set SourceSettings) (DataSource, error) {
	id := uuid.NewString()
	if set.Mode == "" {
		set.Mode = dsar.SourceManual
	}
	if set.TaskQueue == "" {
		set.TaskQueue = DefaultTaskQueue(id)
	}
	if set.TimeLimit <= 0 {
		set.TimeLimit = Duration(DefaultTimeLimit)
	}
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := checkOwners(ctx, tx, ownerIDs); err != nil {
			return err
		}
		const q = `INSERT INTO data_sources (id, name, description, mode, task_queue, dry_run, time_limit_seconds, webhook_url)
			VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''))`
		if _, err := tx.ExecContext(ctx, q, id, name, description, set.Mode, set.TaskQueue, set.DryRun, set.TimeLimit, set.WebhookURL); err != nil {
			return nameTaken(err)
		}
		return setOwners(ctx, tx, id, ownerIDs)
	})
	if err != nil {
		return DataSource{}, err
	}
	return db.DataSource(ctx, id)
}

// dataSourceColumns are the columns of a DataSource.
const dataSourceColumns = `id, name, description, mode, task_queue, dry_run, time_limit_seconds,
	coalesce(webhook_url, '') AS webhook_url, webhook_secret IS NOT NULL AS webhook_secret_set, created_at, updated_at`

// DataSources lists the data sources that are not deleted, by name.
func (db *DB) DataSources(ctx context.Context) ([]DataSource, error) {
	const q = `SELECT ` + dataSourceColumns + ` FROM data_sources
		WHERE deleted_at IS NULL ORDER BY lower(name), id`
	ds := []DataSource{}
	if err := db.SelectContext(ctx, &ds, q); err != nil {
		return nil, fmt.Errorf("store: data sources: %w", err)
	}
	return ds, db.withOwners(ctx, ds)
}

// DataSource finds a data source that is not deleted. ENOTFOUND if none.
func (db *DB) DataSource(ctx context.Context, id string) (DataSource, error) {
	if _, err := uuid.Parse(id); err != nil {
		return DataSource{}, dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	const q = `SELECT ` + dataSourceColumns + ` FROM data_sources
		WHERE id = $1 AND deleted_at IS NULL`
	ds := []DataSource{}
	if err := db.SelectContext(ctx, &ds, q, id); err != nil {
		return DataSource{}, fmt.Errorf("store: data source %s: %w", id, err)
	}
	if len(ds) == 0 {
		return DataSource{}, dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	if err := db.withOwners(ctx, ds); err != nil {
		return DataSource{}, err
	}
	return ds[0], nil
}

// withOwners fills in the owners of ds.
func (db *DB) withOwners(ctx context.Context, ds []DataSource) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	const q = `SELECT o.data_source_id, u.id, u.email, u.name, u.disabled_at IS NOT NULL AS disabled FROM data_source_owners o
		JOIN users u ON u.id = o.user_id WHERE o.data_source_id = ANY($1::uuid[]) ORDER BY u.name, u.email`
	var os []Owner
	if err := db.SelectContext(ctx, &os, q, pq.Array(ids)); err != nil {
		return fmt.Errorf("store: data source owners: %w", err)
	}
	by := map[string][]Owner{}
	for _, o := range os {
		by[o.DataSourceID] = append(by[o.DataSourceID], o)
	}
	for i := range ds {
		ds[i].Owners = by[ds[i].ID]
		if ds[i].Owners == nil {
			ds[i].Owners = []Owner{}
		}
	}
	return nil
}

// SourceRef names a data source.
type SourceRef struct {
	ID   string `db:"id" json:"id"`
	Name string `db:"name" json:"name"`
}

// UnownedDataSources lists, by name, the live data sources that userID
// owns and that have no active owner: disabling userID left them without
// one (or they had none already).
func (db *DB) UnownedDataSources(ctx context.Context, userID string) ([]SourceRef, error) {
	const q = `SELECT ds.id, ds.name FROM data_sources ds
		WHERE ds.deleted_at IS NULL
		AND EXISTS (SELECT 1 FROM data_source_owners o WHERE o.data_source_id = ds.id AND o.user_id = $1)
		AND NOT EXISTS (SELECT 1 FROM data_source_owners o JOIN users u ON u.id = o.user_id
			WHERE o.data_source_id = ds.id AND u.disabled_at IS NULL)
		ORDER BY lower(ds.name), ds.id`
	out := []SourceRef{}
	if err := db.SelectContext(ctx, &out, q, userID); err != nil {
		return nil, fmt.Errorf("store: data sources left without an owner by %s: %w", userID, err)
	}
	return out, nil
}

// UpdateDataSource changes a data source. ENOTFOUND for no such (or a
// deleted) source; owners and names as CreateDataSource.
func (db *DB) UpdateDataSource(ctx context.Context, id string, p DataSourcePatch) (DataSource, error) {
	if _, err := db.DataSource(ctx, id); err != nil {
		return DataSource{}, err
	}
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE data_sources SET name = coalesce($2, name), description = coalesce($3, description),
			mode = coalesce($4, mode), task_queue = coalesce($5, task_queue), dry_run = coalesce($6, dry_run),
			time_limit_seconds = coalesce($7, time_limit_seconds),
			webhook_url = CASE WHEN $8::text IS NULL THEN webhook_url ELSE nullif($8, '') END,
			updated_at = now() WHERE id = $1 AND deleted_at IS NULL`
		res, err := tx.ExecContext(ctx, q, id, p.Name, p.Description, p.Mode, p.TaskQueue, p.DryRun, p.TimeLimit, p.WebhookURL)
		if err != nil {
			return nameTaken(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return dsar.Errorf(dsar.ENOTFOUND, "no such data source")
		}
		if p.OwnerIDs == nil {
			return nil
		}
		if err := checkOwners(ctx, tx, *p.OwnerIDs); err != nil {
			return err
		}
		return setOwners(ctx, tx, id, *p.OwnerIDs)
	})
	if err != nil {
		return DataSource{}, err
	}
	return db.DataSource(ctx, id)
}

// DeleteDataSource deletes a data source: it leaves every list and can no
// longer be assigned, while closed tasks keep its name. ENOTFOUND for no such
// source, ECONFLICT while it has open tasks.
func (db *DB) DeleteDataSource(ctx context.Context, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		var found []string
		const lock = `SELECT id FROM data_sources WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`
		if err := tx.SelectContext(ctx, &found, lock, id); err != nil {
			return fmt.Errorf("store: delete data source %s: %w", id, err)
		}
		if len(found) == 0 {
			return dsar.Errorf(dsar.ENOTFOUND, "no such data source")
		}
		var open int
		const count = `SELECT count(*) FROM tasks WHERE data_source_id = $1 AND status = 'open'`
		if err := tx.GetContext(ctx, &open, count, id); err != nil {
			return fmt.Errorf("store: delete data source %s: %w", id, err)
		}
		if open > 0 {
			return dsar.Errorf(dsar.ECONFLICT, "the data source has %d open task(s); complete them first", open)
		}
		const q = `UPDATE data_sources SET deleted_at = now(), updated_at = now() WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("store: delete data source %s: %w", id, err)
		}
		return nil
	})
}

// MissingDataSources returns those of ids that name no live data source, in
// the order given.
func (db *DB) MissingDataSources(ctx context.Context, ids []string) ([]string, error) {
	valid := []string{}
	for _, id := range ids {
		if _, err := uuid.Parse(id); err == nil {
			valid = append(valid, id)
		}
	}
	const q = `SELECT id FROM data_sources WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`
	var found []string
	if err := db.SelectContext(ctx, &found, q, pq.Array(valid)); err != nil {
		return nil, fmt.Errorf("store: data sources exist: %w", err)
	}
	have := map[string]bool{}
	for _, id := range found {
		have[id] = true
	}
	missing := []string{}
	for _, id := range ids {
		if !have[canonicalID(id)] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// OwnsDataSource reports whether user owns the data source.
func (db *DB) OwnsDataSource(ctx context.Context, userID, dataSourceID string) (bool, error) {
	if _, err := uuid.Parse(dataSourceID); err != nil {
		return false, nil
	}
	const q = `SELECT EXISTS (SELECT 1 FROM data_source_owners WHERE user_id = $1 AND data_source_id = $2)`
	var ok bool
	if err := db.GetContext(ctx, &ok, q, userID, dataSourceID); err != nil {
		return false, fmt.Errorf("store: owns data source: %w", err)
	}
	return ok, nil
}

// checkOwners checks that ownerIDs name at least one active user each.
func checkOwners(ctx context.Context, tx *sqlx.Tx, ownerIDs []string) error {
	if len(ownerIDs) == 0 {
		return dsar.Invalid(map[string]string{"owner_ids": "name at least one owner"})
	}
	for _, id := range ownerIDs {
		if _, err := uuid.Parse(id); err != nil {
			return dsar.Invalid(map[string]string{"owner_ids": fmt.Sprintf("no user with id %q", id)})
		}
	}
	var found []string
	const q = `SELECT id FROM users WHERE id = ANY($1::uuid[]) AND disabled_at IS NULL AND role <> 'operator'`
	if err := tx.SelectContext(ctx, &found, q, pq.Array(ownerIDs)); err != nil {
		return fmt.Errorf("store: check owners: %w", err)
	}
	have := map[string]bool{}
	for _, id := range found {
		have[id] = true
	}
	for _, id := range ownerIDs {
		if !have[canonicalID(id)] {
			return dsar.Invalid(map[string]string{"owner_ids": fmt.Sprintf("no user with id %q (an active user who is not an operator)", id)})
		}
	}
	return nil
}

// setOwners replaces a data source's owners.
func setOwners(ctx context.Context, tx *sqlx.Tx, id string, ownerIDs []string) error {
	const del = `DELETE FROM data_source_owners WHERE data_source_id = $1`
	if _, err := tx.ExecContext(ctx, del, id); err != nil {
		return fmt.Errorf("store: set owners: %w", err)
	}
	const q = `INSERT INTO data_source_owners (data_source_id, user_id)
		SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, id, pq.Array(ownerIDs)); err != nil {
		return fmt.Errorf("store: set owners: %w", Translate(err))
	}
	return nil
}

// nameTaken translates an insert or update of a data source's name.
func nameTaken(err error) error {
	if dsar.ErrorCode(Translate(err)) == dsar.ECONFLICT {
		return &dsar.Error{Code: dsar.ECONFLICT, Message: "a data source with this name exists",
			Fields: map[string]string{"name": "is taken"}}
	}
	return fmt.Errorf("store: data source: %w", Translate(err))
}

// canonicalID is a UUID in Postgres's spelling (lower case, hyphenated), or
// s itself when it is no UUID.
func canonicalID(s string) string {
	if u, err := uuid.Parse(s); err == nil {
		return u.String()
	}
	return s
}
