package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar/connector"
	"github.com/opendsar/dsar/workflows"
)

// connectorBench times a SQL connector's export and erasure of one subject
// with o.connectorRows orders (a second database on the same Postgres
// server), through the running service (uploads over HTTP, sealed into a
// task file), against the same work done by psql directly: the rows as
// the same JSON lines (COPY to its standard output), and the same batched
// erase statement repeated until it deletes nothing (a DO loop). Without
// psql the ceiling is the same query read over database/sql.
func (b *benchEnv) connectorBench(ctx context.Context, r *results) error {
	n := b.o.connectorRows
	reqID, sourceID, token, email, err := b.connectorTask(ctx)
	if err != nil {
		return err
	}
	ownerURL, drop, err := b.ownerDatabase(ctx, email, n)
	if err != nil {
		return err
	}
	defer drop()
	cfg, err := connector.Parse(fmt.Appendf(nil, `temporal:
  address: 127.0.0.1:1
  task_queue: bench
  payload_key: "bench:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
service:
  url: %s
sources:
  - id: %s
    kind: postgres
    dsn: %q
    token: %s
    statements:
      identify: SELECT id FROM customers WHERE email = $1
      export:
        - name: orders
          query: SELECT id, customer_id, sku, amount FROM orders WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3
          cursor: id
      count:
        - SELECT count(*) FROM orders WHERE customer_id = $1
      erase:
        - DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = $1 LIMIT $2)
      verify:
        - SELECT count(*) FROM orders WHERE customer_id = $1
`, b.base, sourceID, ownerURL, token))
	if err != nil {
		return err
	}
	acts := connector.New(cfg)
	defer acts.Close()
	step := func(name string) (workflows.StepResult, time.Duration, error) {
		t0 := time.Now()
		res, err := acts.Step(ctx, workflows.StepInput{RequestID: reqID, DataSourceID: sourceID, Step: name})
		return res, time.Since(t0), err
	}

	b.logf("connector: exporting %d rows", n)
	ex, exportTook, err := step(workflows.StepExport)
	if err != nil {
		return err
	}
	if ex.Rows != int64(n) {
		return fmt.Errorf("the export holds %d rows, want %d", ex.Rows, n)
	}
	exportLines := `COPY (SELECT json_build_object('table', 'orders', 'row', json_build_object('id', id, 'customer_id', customer_id,
		'sku', sku, 'amount', amount))::text FROM orders WHERE customer_id = 1 ORDER BY id) TO STDOUT`
	direct, how, err := b.direct(ctx, ownerURL, exportLines, `SELECT id, customer_id, sku, amount FROM orders WHERE customer_id = 1 ORDER BY id`)
	if err != nil {
		return err
	}
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	r.add(figure{Name: "connector export (postgres)", Value: rate(exportTook), Unit: "rows/s", Ceiling: rate(direct), Of: how,
		Note: fmt.Sprintf("%d rows, pages of %d, parts of %d MiB, into a sealed task file over HTTP (%.1f MB)",
			n, cfg.Sources[0].PageSize, cfg.Sources[0].PartSize>>20, float64(ex.Size)/1e6)})

	b.logf("connector: erasing %d rows", n)
	er, eraseTook, err := step(workflows.StepErase)
	if err != nil {
		return err
	}
	if er.Rows != int64(n) {
		return fmt.Errorf("the erasure touched %d rows, want %d", er.Rows, n)
	}
	eraseLoop := fmt.Sprintf(`DO $$ BEGIN LOOP
		DELETE FROM orders_direct WHERE id IN (SELECT id FROM orders_direct WHERE customer_id = 1 LIMIT %d);
		EXIT WHEN NOT FOUND; END LOOP; END $$`, cfg.Sources[0].BatchSize)
	directErase, how, err := b.direct(ctx, ownerURL, eraseLoop, eraseLoop)
	if err != nil {
		return err
	}
	r.add(figure{Name: "connector erase (postgres)", Value: rate(eraseTook), Unit: "rows/s", Ceiling: rate(directErase), Of: how,
		Note: fmt.Sprintf("batches of %d, each its own statement and transaction; psql runs them in one DO loop", cfg.Sources[0].BatchSize)})
	return nil
}

// direct times a statement run directly: by psql when it is installed
// (asPsql, its output thrown away), else over database/sql (asSQL, every
// row read).
func (b *benchEnv) direct(ctx context.Context, dbURL, asPsql, asSQL string) (time.Duration, string, error) {
	if bin, err := exec.LookPath("psql"); err == nil {
		cmd := exec.CommandContext(ctx, bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbURL, "-c", asPsql)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, "", fmt.Errorf("psql: %v: %s", err, stderr.String())
		}
		return time.Since(t0), "the same work in psql", nil
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, "", err
	}
	defer db.Close()
	t0 := time.Now()
	rows, err := db.QueryContext(ctx, asSQL)
	if err != nil {
		return 0, "", err
	}
	for rows.Next() {
	}
	rows.Close()
	return time.Since(t0), "the same statement over database/sql (no psql here)", rows.Err()
}

// connectorTask makes a data source with a connector token and a verified
// request with an open task of it, and returns them with the subject's
// email.
func (b *benchEnv) connectorTask(ctx context.Context) (reqID, sourceID, token, email string, err error) {
	ids, err := b.awaitingIdentity(ctx, 1)
	if err != nil {
		return
	}
	reqID = ids[0]
	var me struct{ User struct{ ID string } }
	if err = b.call(ctx, http.MethodGet, "/api/v1/sessions/current", b.token, nil, http.StatusOK, &me); err != nil {
		return
	}
	var ds struct{ ID string }
	if err = b.call(ctx, http.MethodPost, "/api/v1/data-sources", b.token, map[string]any{"name": "Shop database (bench)",
		"owner_ids": []string{me.User.ID}}, http.StatusCreated, &ds); err != nil {
		return
	}
	sourceID = ds.ID
	// Run by a connector; the request's child waits on a queue nobody
	// polls here: the bench runs the steps itself.
	if err = b.call(ctx, http.MethodPatch, "/api/v1/data-sources/"+sourceID, b.token, map[string]any{"mode": "postgres",
		"task_queue": "dsarbench-connector"}, http.StatusOK, nil); err != nil {
		return
	}
	var tok struct{ Token string }
	if err = b.call(ctx, http.MethodPost, "/api/v1/data-sources/"+sourceID+"/connector-token", b.token, map[string]any{},
		http.StatusCreated, &tok); err != nil {
		return
	}
	token = tok.Token
	if err = b.call(ctx, http.MethodPost, "/api/v1/requests/"+reqID+"/identity-verification", b.token,
		map[string]any{"verified": true}, http.StatusOK, nil); err != nil {
		return
	}
	if err = b.call(ctx, http.MethodPost, "/api/v1/requests/"+reqID+"/assignments", b.token,
		map[string]any{"data_source_ids": []string{sourceID}}, http.StatusOK, nil); err != nil {
		return
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var open bool
		if err = b.app.DB.GetContext(ctx, &open, `SELECT EXISTS (SELECT 1 FROM tasks WHERE request_id = $1 AND status = 'open')`, reqID); err != nil {
			return
		}
		if open {
			break
		}
		if time.Now().After(deadline) {
			err = errors.New("the task did not open within a minute")
			return
		}
	}
	pii, err := b.app.DB.RequestPII(ctx, b.app.Keys, reqID)
	return reqID, sourceID, token, pii.Email, err
}

// ownerDatabase makes the data owner's database beside the bench's: one
// customer (the subject) with n orders, and a copy of them for the direct
// erasure; drop removes it.
func (b *benchEnv) ownerDatabase(ctx context.Context, email string, n int) (string, func(), error) {
	name := b.dbName + "_owner"
	admin, err := sqlx.Open("postgres", b.o.dbURL)
	if err != nil {
		return "", nil, err
	}
	drop := func() {
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		admin.Close()
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		return "", nil, err
	}
	url, err := withDatabase(b.o.dbURL, name)
	if err != nil {
		drop()
		return "", nil, err
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		drop()
		return "", nil, err
	}
	defer db.Close()
	b.logf("connector: seeding %d orders", n)
	for _, q := range []string{
		`CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL)`,
		`CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), sku text NOT NULL, amount numeric(10,2) NOT NULL)`,
		`INSERT INTO customers VALUES (1, '` + strings.ReplaceAll(email, "'", "''") + `'), (2, 'someone.else@example.org')`,
		fmt.Sprintf(`INSERT INTO orders (customer_id, sku, amount) SELECT 1, 'SKU-' || i, (i %% 1000) / 10.0 FROM generate_series(1, %d) i`, n),
		`INSERT INTO orders (customer_id, sku, amount) SELECT 2, 'SKU-' || i, 1 FROM generate_series(1, 1000) i`,
		`CREATE INDEX orders_customer ON orders (customer_id, id)`,
		`CREATE TABLE orders_direct AS SELECT * FROM orders`,
		`ALTER TABLE orders_direct ADD PRIMARY KEY (id)`,
		`CREATE INDEX orders_direct_customer ON orders_direct (customer_id, id)`,
		`VACUUM ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			drop()
			return "", nil, fmt.Errorf("owner database: %w", err)
		}
	}
	return url, drop, nil
}
