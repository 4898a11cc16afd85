// Package connector is the connector worker of automated data sources: it
// runs inside the data owner's network (`dsar connector`), polls only its
// source's Temporal task queue, holds the database credentials and the
// statements of each step, and runs them as the ConnectorStep activity for
// the source's child workflow. The subject's email comes from the service
// over HTTPS, never through Temporal; exports go back to the service as
// resumable uploads that become the task's sealed files.
package connector

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sync"

	_ "github.com/go-sql-driver/mysql" // the mysql driver
	_ "github.com/lib/pq"              // the postgres driver
	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opendsar/dsar/workflows"
)

// ActivityStep is the activity's registered name.
const ActivityStep = workflows.ActivityConnectorStep

// Activities runs the steps of the sources of one config.
type Activities struct {
	cfg *Config
	hc  *http.Client

	mu  sync.Mutex
	dbs map[string]*sql.DB
}

// New returns the activities of cfg. Databases are opened at their first
// step.
func New(cfg *Config) *Activities {
	return &Activities{cfg: cfg, hc: newHTTPClient(), dbs: map[string]*sql.DB{}}
}

// Register registers the step activity under its name.
func (a *Activities) Register(r sdkworker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.Step, activity.RegisterOptions{Name: ActivityStep})
}

// Close closes the databases.
func (a *Activities) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, db := range a.dbs {
		db.Close()
		delete(a.dbs, id)
	}
}

func (a *Activities) db(src Source) (*sql.DB, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if db, ok := a.dbs[src.ID]; ok {
		return db, nil
	}
	driver := map[string]string{KindPostgres: "postgres", KindMySQL: "mysql"}[src.Kind]
	db, err := sql.Open(driver, src.DSN)
	if err != nil { // only a DSN the driver cannot parse
		return nil, nonRetryable(workflows.ErrConnectorConfig, "source %s: the dsn cannot be read by the %s driver", src.ID, src.Kind)
	}
	db.SetMaxOpenConns(4)
	a.dbs[src.ID] = db
	return db, nil
}

// Step runs one step of a source's task: identify, export, count, erase
// or verify.
func (a *Activities) Step(ctx context.Context, in workflows.StepInput) (workflows.StepResult, error) {
	src, ok := a.cfg.Source(in.DataSourceID)
	if !ok {
		return workflows.StepResult{}, nonRetryable(workflows.ErrConnectorConfig, "the connector's config has no source %s (on task queue %s)",
			in.DataSourceID, a.cfg.Temporal.TaskQueue)
	}
	db, err := a.db(src)
	if err != nil {
		return workflows.StepResult{}, err
	}
	r := &run{src: src, db: db, requestID: in.RequestID,
		svc: &service{base: a.cfg.Service.URL, token: src.Token, source: src.ID, hc: a.hc}}
	keys, err := r.identify(ctx)
	if err != nil {
		return workflows.StepResult{}, err
	}
	out := workflows.StepResult{Step: in.Step, Subjects: len(keys)}
	switch in.Step {
	case workflows.StepIdentify:
	case workflows.StepExport:
		err = r.export(ctx, keys, &out)
	case workflows.StepCount:
		out.Rows, err = r.sum(ctx, keys, "count", src.Statements.Count)
	case workflows.StepErase:
		out.Rows, err = r.erase(ctx, keys)
	case workflows.StepVerify:
		out.Remaining, err = r.sum(ctx, keys, "verify", src.Statements.Verify)
	default:
		err = nonRetryable(workflows.ErrConnectorConfig, "this connector does not know the step %q", in.Step)
	}
	if err != nil {
		return workflows.StepResult{}, err
	}
	return out, nil
}

// run is one step of one source for one request.
type run struct {
	src       Source
	db        *sql.DB
	svc       *service
	requestID string
}

// identify fetches the subject's email from the service and finds their
// keys: distinct, sorted, so every step sees them in the same order.
func (r *run) identify(ctx context.Context) ([]string, error) {
	email, err := r.svc.subject(ctx, r.requestID)
	if err != nil {
		return nil, err
	}
	rows, err := r.db.QueryContext(ctx, r.src.Statements.Identify, email)
	if err != nil {
		return nil, classify(r.src.ID, "identify", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var keys []string
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, nonRetryable(workflows.ErrConnectorConfig, "source %s, identify: the statement must return one column, the subject's key", r.src.ID)
		}
		k := text(v)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(r.src.ID, "identify", err)
	}
	sortKeys(keys)
	return keys, nil
}

// sum runs count-like statements (one row, one number) for every key and
// adds them up.
func (r *run) sum(ctx context.Context, keys []string, step string, stmts []string) (int64, error) {
	var total int64
	for _, k := range keys {
		for i, q := range stmts {
			var n sql.NullInt64
			if err := r.db.QueryRowContext(ctx, q, k).Scan(&n); err != nil {
				if err == sql.ErrNoRows {
					return 0, nonRetryable(workflows.ErrConnectorConfig, "source %s, %s[%d]: the statement must return one row, one number", r.src.ID, step, i)
				}
				return 0, classify(r.src.ID, fmt.Sprintf("%s[%d]", step, i), err)
			}
			total += n.Int64
		}
	}
	return total, nil
}

// erase runs each erase statement for each key until it touches no row
// (each batch is its own statement: a killed connector resumes by running
// them again), and reports the rows touched, heartbeating as it goes.
func (r *run) erase(ctx context.Context, keys []string) (int64, error) {
	var total int64
	for _, k := range keys {
		for i, q := range r.src.Statements.Erase {
			for {
				res, err := r.db.ExecContext(ctx, q, k, r.src.BatchSize)
				if err != nil {
					return total, classify(r.src.ID, fmt.Sprintf("erase[%d]", i), err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return total, classify(r.src.ID, fmt.Sprintf("erase[%d]", i), err)
				}
				total += n
				heartbeat(ctx, total)
				if n == 0 {
					break
				}
			}
		}
	}
	return total, nil
}

// heartbeat records details when running as an activity.
func heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}
