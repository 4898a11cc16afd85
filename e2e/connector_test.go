package e2e_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/connector"
	"github.com/opendsar/dsar/workflows"
)

// The data owner's databases, as a connector meets them: a customers table
// and each customer's orders, in a second Postgres database and in MariaDB.

// customer is one person in the owner's database, with their orders.
type customer struct {
	id     int64
	email  string
	name   string
	orders int
}

// ownerDB is a data owner's database made for one test.
type ownerDB struct {
	kind      string // postgres or mysql
	dsn       string
	db        *sql.DB
	customers string // the tables' names
	orders    string
	stmts     string // the connector config's statements, YAML
}

// customersOf are the people in an owner database of these tests; tag
// keeps their addresses apart from another database's in the same test.
func customersOf(tag string) []customer {
	return []customer{
		{1, "ada.access." + tag + "@example.org", "Ada Access", 3},
		{2, "dora.deletion." + tag + "@example.org", "Dora Deletion", 4},
		{3, "otto.other." + tag + "@example.org", "Otto Other", 2},
		{4, "nina.nobody." + tag + "@example.org", "Nina Nobody", 5},
	}
}

// ownerPostgres makes a second Postgres database (beside the service's)
// holding people and their orders, dropped when the test ends.
func ownerPostgres(t *testing.T, people []customer, extraOrders int64) *ownerDB {
	t.Helper()
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "owner_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	for _, q := range []string{
		`CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL)`,
		`CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), sku text NOT NULL, amount numeric(10,2) NOT NULL)`,
		`CREATE INDEX orders_customer ON orders (customer_id, id)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	o := &ownerDB{kind: connector.KindPostgres, dsn: u.String(), db: db, customers: "customers", orders: "orders"}
	o.seed(t, people, extraOrders)
	o.stmts = `
      identify: SELECT id FROM customers WHERE lower(email) = lower($1)
      export:
        - name: customers
          query: SELECT id, email, name FROM customers WHERE id = $1 AND id > $2 ORDER BY id LIMIT $3
          cursor: id
        - name: orders
          query: SELECT id, customer_id, sku, amount FROM orders WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3
          cursor: id
      count:
        - SELECT count(*) FROM orders WHERE customer_id = $1
        - SELECT count(*) FROM customers WHERE id = $1
      erase:
        - DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = $1 LIMIT $2)
        - DELETE FROM customers WHERE id = $1 AND $2 > 0
      verify:
        - SELECT count(*) FROM orders WHERE customer_id = $1
        - SELECT count(*) FROM customers WHERE id = $1`
	return o
}

// ownerMariaDB makes tables of names unique to the test in MariaDB's test
// database, dropped when the test ends.
func ownerMariaDB(t *testing.T, people []customer, extraOrders int64) *ownerDB {
	t.Helper()
	dsn := "root@tcp(127.0.0.1:3306)/test"
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("MariaDB at 127.0.0.1:3306: %v", err)
	}
	suffix := strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	o := &ownerDB{kind: connector.KindMySQL, dsn: dsn, db: db, customers: "customers_" + suffix, orders: "orders_" + suffix}
	t.Cleanup(func() {
		_, _ = db.Exec(`DROP TABLE IF EXISTS ` + o.orders)
		_, _ = db.Exec(`DROP TABLE IF EXISTS ` + o.customers)
		db.Close()
	})
	for _, q := range []string{
		`CREATE TABLE ` + o.customers + ` (id bigint PRIMARY KEY, email varchar(200) NOT NULL, name varchar(200) NOT NULL) ENGINE=InnoDB`,
		`CREATE TABLE ` + o.orders + ` (id bigint AUTO_INCREMENT PRIMARY KEY, customer_id bigint NOT NULL, sku varchar(50) NOT NULL,
			amount decimal(10,2) NOT NULL, INDEX (customer_id, id), FOREIGN KEY (customer_id) REFERENCES ` + o.customers + ` (id)) ENGINE=InnoDB`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	o.seed(t, people, extraOrders)
	o.stmts = strings.NewReplacer("FROM customers", "FROM "+o.customers, "FROM orders", "FROM "+o.orders).Replace(`
      identify: SELECT id FROM customers WHERE email = ?
      export:
        - name: customers
          query: SELECT id, email, name FROM customers WHERE id = ? AND id > ? ORDER BY id LIMIT ?
          cursor: id
        - name: orders
          query: SELECT id, customer_id, sku, amount FROM orders WHERE customer_id = ? AND id > ? ORDER BY id LIMIT ?
          cursor: id
      count:
        - SELECT count(*) FROM orders WHERE customer_id = ?
        - SELECT count(*) FROM customers WHERE id = ?
      erase:
        - DELETE FROM orders WHERE customer_id = ? LIMIT ?
        - DELETE FROM customers WHERE id = ? LIMIT ?
      verify:
        - SELECT count(*) FROM orders WHERE customer_id = ?
        - SELECT count(*) FROM customers WHERE id = ?`)
	return o
}

// seed inserts the people and their orders, and extra orders for the first
// person (many rows, for a long export).
func (o *ownerDB) seed(t *testing.T, people []customer, extra int64) {
	t.Helper()
	p := func(i int) string {
		if o.kind == connector.KindMySQL {
			return "?"
		}
		return "$" + strconv.Itoa(i)
	}
	for _, c := range people {
		if _, err := o.db.Exec(`INSERT INTO `+o.customers+` (id, email, name) VALUES (`+p(1)+`, `+p(2)+`, `+p(3)+`)`, c.id, c.email, c.name); err != nil {
			t.Fatal(err)
		}
		for i := range c.orders {
			if _, err := o.db.Exec(`INSERT INTO `+o.orders+` (customer_id, sku, amount) VALUES (`+p(1)+`, `+p(2)+`, `+p(3)+`)`,
				c.id, fmt.Sprintf("SKU-%d-%d", c.id, i), fmt.Sprintf("%d.%02d", 10+i, c.id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if extra > 0 {
		var q string
		if o.kind == connector.KindMySQL {
			q = `INSERT INTO ` + o.orders + ` (customer_id, sku, amount)
				WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				SELECT ?, concat('BULK-', i), 1.00 FROM n`
			if _, err := o.db.Exec(`SET SESSION cte_max_recursion_depth = 100000000`); err != nil {
				t.Fatal(err)
			}
		} else {
			q = `INSERT INTO orders (customer_id, sku, amount) SELECT $2, 'BULK-' || i, 1.00 FROM generate_series(1, $1) i`
		}
		if _, err := o.db.Exec(q, extra, people[0].id); err != nil {
			t.Fatal(err)
		}
	}
}

// count is the rows of table for one customer.
func (o *ownerDB) count(t *testing.T, table, column string, id int64) int {
	t.Helper()
	p := "$1"
	if o.kind == connector.KindMySQL {
		p = "?"
	}
	var n int
	if err := o.db.QueryRow(`SELECT count(*) FROM `+table+` WHERE `+column+` = `+p, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// connectorConfig is a connector's config for one source of this service.
func connectorConfig(e *env, queue, sourceID, token string, o *ownerDB, dsn string, pageSize, partSize int) string {
	return fmt.Sprintf(`temporal:
  address: %s
  namespace: default
  task_queue: %s
  payload_key: %q
service:
  url: %s
sources:
  - id: %s
    kind: %s
    dsn: %q
    token: %s
    page_size: %d
    part_size: %d
    batch_size: 3
    statements:%s
`, e.app.Config.Temporal.Address, queue, codec.PayloadKey(e.app.Keys), e.srv.URL, sourceID, o.kind, dsn, token, pageSize, partSize, o.stmts)
}

// connectorToken makes the source's connector token, as an org owner does.
func (e *env) connectorToken(owner, sourceID string) string {
	e.t.Helper()
	var tok struct{ Token string }
	e.want(e.postJSON("/api/v1/data-sources/"+sourceID+"/connector-token", owner, map[string]any{}), http.StatusCreated, "connector token").json(e.t, &tok)
	return tok.Token
}

// automate switches a data source to a SQL connector on task queue queue,
// as an admin does.
func (e *env) automate(owner, sourceID, kind, queue string) {
	e.t.Helper()
	e.want(e.do(jsonCall(http.MethodPatch, "/api/v1/data-sources/"+sourceID, owner, map[string]any{"mode": kind, "task_queue": queue})),
		http.StatusOK, "the source's mode")
}

// assignedRequest takes a request of p of type kind to an open task of
// source, as its people would.
func (e *env) assignedRequest(c crew, p person, kind, source string) string {
	e.t.Helper()
	id := e.submit(validForm(p, e.captcha(), photo(e.t)).with("request_type", kind))
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": e.mailToken(p.email, "confirm your email")}),
		http.StatusOK, "verify")
	path := "/api/v1/requests/" + id
	e.act(path+"/identity-verification", c.owner, map[string]any{"verified": true})
	e.act(path+"/assignments", c.owner, map[string]any{"data_source_ids": []string{source}})
	e.eventually("the task is open", func() bool {
		var d struct {
			Tasks []struct{ DataSourceID, Status string }
		}
		a := e.get(path, c.owner)
		if a.status != http.StatusOK {
			return false
		}
		a.json(e.t, &d)
		return len(d.Tasks) == 1 && d.Tasks[0].Status == "open"
	})
	return id
}

// step runs the connector's activity once, in this process, as a worker
// would.
func step(t *testing.T, cfgYAML, requestID, sourceID, name string) (workflows.StepResult, error) {
	t.Helper()
	cfg, err := connector.Parse([]byte(cfgYAML))
	if err != nil {
		t.Fatalf("the connector's config: %v", err)
	}
	acts := connector.New(cfg)
	defer acts.Close()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(acts.Step, activity.RegisterOptions{Name: connector.ActivityStep})
	v, err := env.ExecuteActivity(connector.ActivityStep, workflows.StepInput{RequestID: requestID, DataSourceID: sourceID, Step: name})
	if err != nil {
		return workflows.StepResult{}, err
	}
	var res workflows.StepResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

// exportLine is one line of a connector's export.
type exportLine struct {
	Table string
	Row   map[string]any
}

// readExport downloads a task file and reads its JSON lines.
func (e *env) readExport(token, requestID, sourceID, fileID string) []exportLine {
	e.t.Helper()
	a := e.want(e.get("/api/v1/requests/"+requestID+"/tasks/"+sourceID+"/files/"+fileID, token), http.StatusOK, "download the export")
	var lines []exportLine
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l exportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			e.t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestConnectorStepsOnOwnerDatabases runs each step of the connector
// against a second Postgres database and MariaDB as a data owner has them:
// the access export holds exactly the subject's customer row and orders as
// JSON lines, in a task file of the task; the dry run counts what the
// erasure touches; the erasure removes the subject's rows in batches and
// nobody else's; verify then finds nothing left.
func TestConnectorStepsOnOwnerDatabases(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.crew()
	token := e.connectorToken(c.owner, c.source)
	for _, kind := range []string{connector.KindPostgres, connector.KindMySQL} {
		t.Run(kind, func(t *testing.T) {
			people := customersOf(kind)
			ada, dora := people[0], people[1]
			var o *ownerDB
			if kind == connector.KindPostgres {
				o = ownerPostgres(t, people, 0)
			} else {
				o = ownerMariaDB(t, people, 0)
			}
			// The source runs through a connector; its child waits on a
			// queue no connector polls here: the steps run in this test.
			e.automate(c.owner, c.source, kind, "dsar-steps-"+kind+"-"+c.source[:8])
			cfg := connectorConfig(e, "unused", c.source, token, o, o.dsn, 2, 64)

			// Access: exactly Ada's rows.
			reqID := e.assignedRequest(c, person{"Ada", "Access", ada.email, "All you hold on me."}, "info", c.source)
			id, err := step(t, cfg, reqID, c.source, workflows.StepIdentify)
			if err != nil || id.Subjects != 1 {
				t.Fatalf("identify: %+v, %v", id, err)
			}
			ex, err := step(t, cfg, reqID, c.source, workflows.StepExport)
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			if ex.Rows != int64(1+ada.orders) || ex.FileID == "" || len(ex.SHA256) != 64 {
				t.Fatalf("export: %+v, want %d rows in a file", ex, 1+ada.orders)
			}
			lines := e.readExport(c.owner, reqID, c.source, ex.FileID)
			var skus []string
			for _, l := range lines {
				switch l.Table {
				case "customers":
					if l.Row["email"] != ada.email || l.Row["name"] != ada.name {
						t.Errorf("customer row %v is not Ada's", l.Row)
					}
				case "orders":
					if fmt.Sprint(l.Row["customer_id"]) != "1" {
						t.Errorf("order %v is not Ada's", l.Row)
					}
					skus = append(skus, l.Row["sku"].(string))
				default:
					t.Errorf("line of table %q", l.Table)
				}
			}
			if want := []string{"SKU-1-0", "SKU-1-1", "SKU-1-2"}; len(lines) != 1+ada.orders || !slices.Equal(skus, want) {
				t.Fatalf("the export holds %d lines, orders %v; want Ada's row and orders %v", len(lines), skus, want)
			}
			type event struct {
				Action  string
				ActorID string `json:"actor_id"`
			}
			var audit struct{ Items []event }
			e.want(e.get("/api/v1/requests/"+reqID+"/audit", c.owner), http.StatusOK, "audit").json(t, &audit)
			if !slices.ContainsFunc(audit.Items, func(a event) bool {
				return a.Action == "connector.subject_read" && strings.Contains(a.ActorID, c.source)
			}) {
				t.Errorf("the audit trail does not show the connector reading the subject: %+v", audit.Items)
			}

			// Deletion: Dora's rows go, in batches of 3; nobody else's.
			reqID = e.assignedRequest(c, person{"Dora", "Deletion", dora.email, "Erase me."}, "deletion", c.source)
			n, err := step(t, cfg, reqID, c.source, workflows.StepCount)
			if err != nil || n.Rows != int64(1+dora.orders) {
				t.Fatalf("dry run count: %+v, %v; want %d", n, err, 1+dora.orders)
			}
			if got := o.count(t, o.orders, "customer_id", dora.id); got != dora.orders {
				t.Fatalf("the dry run touched Dora's orders: %d left", got)
			}
			er, err := step(t, cfg, reqID, c.source, workflows.StepErase)
			if err != nil || er.Rows != int64(1+dora.orders) {
				t.Fatalf("erase: %+v, %v; want %d rows", er, err, 1+dora.orders)
			}
			v, err := step(t, cfg, reqID, c.source, workflows.StepVerify)
			if err != nil || v.Remaining != 0 {
				t.Fatalf("verify: %+v, %v", v, err)
			}
			if o.count(t, o.orders, "customer_id", dora.id) != 0 || o.count(t, o.customers, "id", dora.id) != 0 {
				t.Fatal("Dora's rows are still there")
			}
			for _, other := range []customer{ada, people[2], people[3]} {
				if got := o.count(t, o.orders, "customer_id", other.id); got != other.orders || o.count(t, o.customers, "id", other.id) != 1 {
					t.Errorf("%s lost rows: %d orders left of %d", other.name, got, other.orders)
				}
			}
			again, err := step(t, cfg, reqID, c.source, workflows.StepErase)
			if err != nil || again.Rows != 0 {
				t.Fatalf("erasing again: %+v, %v; want nothing touched", again, err)
			}
		})
	}
}

// TestConnectorFailuresThatNeedAPerson checks the failures no retry can
// fix: a wrong password is ConnectorAuth, a missing table ConnectorSchema,
// both non-retryable, on both databases; a database that is not there is
// retried.
func TestConnectorFailuresThatNeedAPerson(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.crew()
	token := e.connectorToken(c.owner, c.source)
	people := customersOf("failures")
	p := people[2]
	e.automate(c.owner, c.source, connector.KindPostgres, "dsar-failures-"+c.source[:8])
	reqID := e.assignedRequest(c, person{"Otto", "Other", p.email, "What do you have?"}, "info", c.source)
	pg, my := ownerPostgres(t, people, 0), ownerMariaDB(t, people, 0)
	// A role with a password, and one without the right to read the
	// tables. (A server that trusts local connections takes any password:
	// there, an unknown role is what a wrong login looks like, 28000.)
	role := "connector_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := pg.db.Exec(`CREATE ROLE ` + role + ` LOGIN PASSWORD 'right'`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pg.db.Exec(`DROP ROLE IF EXISTS ` + role) })
	pgURL, _ := url.Parse(pg.dsn)
	pgURL.User = url.UserPassword(role, "wrong")
	wrongPG := pgURL.String()
	if trusted(t, wrongPG) {
		pgURL.User = url.UserPassword(role+"_nobody", "wrong")
		wrongPG = pgURL.String()
	}
	pgURL.User = url.User(role)
	unprivileged := pgURL.String()
	wrongMy := "root:wrong@tcp(127.0.0.1:3306)/test"
	for _, tc := range []struct {
		name    string
		o       *ownerDB
		dsn     string
		breakIt func(string) string
		want    string
		step    string // identify unless said
	}{
		{"postgres wrong password", pg, wrongPG, nil, workflows.ErrConnectorAuth, ""},
		{"mysql wrong password", my, wrongMy, nil, workflows.ErrConnectorAuth, ""},
		{"postgres role without the right", pg, unprivileged, nil, workflows.ErrConnectorAuth, ""},
		{"postgres missing table", pg, pg.dsn, func(s string) string { return strings.ReplaceAll(s, "FROM customers", "FROM clients") }, workflows.ErrConnectorSchema, ""},
		{"mysql missing column", my, my.dsn, func(s string) string { return strings.ReplaceAll(s, "WHERE email", "WHERE mail") }, workflows.ErrConnectorSchema, ""},
		// The database's message quotes the email it could not read as a
		// number: the error must not.
		{"postgres email given to a number", pg, pg.dsn, func(s string) string {
			return strings.ReplaceAll(s, "WHERE lower(email) = lower($1)", "WHERE id = $1")
		}, workflows.ErrConnectorConfig, ""},
		// The customer before their orders: a foreign key refuses it, every
		// time; a person must put the statements in order.
		{"postgres erasure against a foreign key", pg, pg.dsn, eraseCustomerFirst, workflows.ErrConnectorSchema, workflows.StepErase},
		{"mysql erasure against a foreign key", my, my.dsn, eraseCustomerFirst, workflows.ErrConnectorSchema, workflows.StepErase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := connectorConfig(e, "unused", c.source, token, tc.o, tc.dsn, 10, 1024)
			if tc.breakIt != nil {
				cfg = tc.breakIt(cfg)
			}
			name := tc.step
			if name == "" {
				name = workflows.StepIdentify
			}
			_, err := step(t, cfg, reqID, c.source, name)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != tc.want || !app.NonRetryable() {
				t.Fatalf("got %v, want a non-retryable %s", err, tc.want)
			}
			if strings.Contains(app.Error(), "wrong") || strings.Contains(app.Error(), p.email) {
				t.Errorf("the error shows a secret or the subject: %s", app.Error())
			}
		})
	}
	t.Run("database away", func(t *testing.T) {
		cfg := connectorConfig(e, "unused", c.source, token, pg, "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2", 10, 1024)
		_, err := step(t, cfg, reqID, c.source, workflows.StepIdentify)
		var app *temporal.ApplicationError
		if err == nil || (errors.As(err, &app) && app.NonRetryable()) {
			t.Fatalf("got %v, want a failure to retry", err)
		}
	})
}

// eraseCustomerFirst puts a config's customer erasure before the orders'
// that reference the customer.
func eraseCustomerFirst(cfg string) string {
	lines := strings.Split(cfg, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "erase:" {
			lines[i+1], lines[i+2] = lines[i+2], lines[i+1]
			return strings.Join(lines, "\n")
		}
	}
	panic("the config has no erase statements")
}

// trusted reports whether the Postgres server lets dsn in whatever its
// password.
func trusted(t *testing.T, dsn string) bool {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Ping() == nil
}

// TestConnectorAPI is the connector's side of the service as a connector
// (or someone holding an old or another source's token) meets it: tokens
// scoped to their source and voided by a new one, the subject only while
// the source has an open task on the request, parts sealed as they
// arrive and replaced when sent again, a completion that names a missing
// part, refuses too much, and answers the same file when repeated; the
// file is the task's, with the content of the parts in order.
func TestConnectorAPI(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{"fulfilment.max_file_size": 20 << 20})
	c := e.crew()
	e.want(e.postJSON("/api/v1/data-sources/"+c.source+"/connector-token", c.sam, map[string]any{}), http.StatusForbidden,
		"a source owner makes a connector token")
	old := e.connectorToken(c.owner, c.source)
	token := e.connectorToken(c.owner, c.source)
	var me struct{ User struct{ ID string } }
	e.want(e.get("/api/v1/sessions/current", c.sam), http.StatusOK, "who sam is").json(t, &me)
	var other struct{ ID string }
	e.want(e.postJSON("/api/v1/data-sources", c.owner, map[string]any{"name": "Other shop", "owner_ids": []string{me.User.ID}}),
		http.StatusCreated, "another source").json(t, &other)
	otherToken := e.connectorToken(c.owner, other.ID)

	p := person{"Cora", "Connector", "cora.connector@example.org", "Everything, please."}
	manual := e.assignedRequest(c, person{"Mona", "Manual", "mona.manual@example.org", "All of it."}, "info", c.source)
	e.want(e.get("/api/v1/connector/requests/"+manual+"/subject", token), http.StatusNotFound, "the subject of a manual task")
	e.automate(c.owner, c.source, connector.KindMySQL, "dsar-api-"+c.source[:8])
	reqID := e.assignedRequest(c, p, "info", c.source)
	subject := "/api/v1/connector/requests/" + reqID + "/subject"
	e.want(e.get(subject, old), http.StatusUnauthorized, "the voided token")
	e.want(e.get(subject, c.owner), http.StatusUnauthorized, "a staff session")
	e.want(e.get(subject, otherToken), http.StatusNotFound, "another source's connector")
	var who struct{ Email string }
	e.want(e.get(subject, token), http.StatusOK, "the subject").json(t, &who)
	if who.Email != p.email {
		t.Fatalf("subject %q, want %q", who.Email, p.email)
	}

	put := func(id string, n int, tok string, body []byte) answer {
		return e.do(call{method: http.MethodPut, path: "/api/v1/connector/uploads/" + id + "/parts/" + strconv.Itoa(n), bearer: tok,
			ctype: "application/octet-stream", body: body})
	}
	e.want(e.postJSON("/api/v1/connector/uploads", token, map[string]any{"request_id": reqID, "name": "page.html"}),
		http.StatusUnprocessableEntity, "an upload named as a web page")
	e.want(e.postJSON("/api/v1/connector/uploads", otherToken, map[string]any{"request_id": reqID, "name": "x.jsonl"}),
		http.StatusNotFound, "an upload for another source's task")
	var up struct {
		UploadID string `json:"upload_id"`
	}
	e.want(e.postJSON("/api/v1/connector/uploads", token, map[string]any{"request_id": reqID, "name": "crm.jsonl"}),
		http.StatusCreated, "an upload").json(t, &up)
	const marker = "cora-marker-LK77"
	e.want(put(up.UploadID, 2, token, []byte(`{"n":2}`+"\n")), http.StatusNoContent, "part 2 first")
	e.want(put(up.UploadID, 1, token, []byte(`{"n":"stale"}`+"\n")), http.StatusNoContent, "part 1")
	e.want(put(up.UploadID, 1, token, []byte(`{"n":1,"m":"`+marker+`"}`+"\n")), http.StatusNoContent, "part 1 again")
	e.want(put(up.UploadID, 1, otherToken, []byte("x")), http.StatusNotFound, "another source's part")
	e.want(put(up.UploadID, 0, token, []byte("x")), http.StatusUnprocessableEntity, "part 0")
	e.want(put(up.UploadID, 3, token, bytes.Repeat([]byte("x"), 16<<20+1)), http.StatusRequestEntityTooLarge, "a part too large")
	var sealedParts []byte
	if err := e.app.DB.Get(&sealedParts, `SELECT string_agg(sealed, ''::bytea) FROM connector_upload_parts`); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealedParts, []byte(marker)) {
		t.Fatal("a part is stored in plaintext")
	}
	done := "/api/v1/connector/uploads/" + up.UploadID + "/completion"
	a := e.want(e.postJSON(done, token, map[string]any{"parts": 3}), http.StatusConflict, "completion with a part missing")
	if !strings.Contains(string(a.body), "part 3") {
		t.Errorf("the refusal does not name the missing part: %s", a.body)
	}
	var file struct {
		FileID string `json:"file_id"`
		SHA256 string
		Size   int64
	}
	e.want(e.postJSON(done, token, map[string]any{"parts": 2}), http.StatusOK, "completion").json(t, &file)
	var again struct {
		FileID string `json:"file_id"`
	}
	e.want(e.postJSON(done, token, map[string]any{"parts": 2}), http.StatusOK, "completion again").json(t, &again)
	if again.FileID != file.FileID {
		t.Fatalf("completing again made file %s, then %s", file.FileID, again.FileID)
	}
	e.want(put(up.UploadID, 3, token, []byte("late")), http.StatusConflict, "a part after the completion")
	got := e.want(e.get("/api/v1/requests/"+reqID+"/tasks/"+c.source+"/files/"+file.FileID, c.sam), http.StatusOK, "the task file")
	want := `{"n":1,"m":"` + marker + `"}` + "\n" + `{"n":2}` + "\n"
	if string(got.body) != want || file.Size != int64(len(want)) {
		t.Fatalf("the task file holds %q (%d bytes), want %q", got.body, file.Size, want)
	}
	var n int
	if err := e.app.DB.Get(&n, `SELECT count(*) FROM connector_upload_parts`); err != nil || n != 0 {
		t.Fatalf("%d parts left after the completion (%v)", n, err)
	}

	// Once staff switch the task to manual, the connector learns nothing
	// more, and an export it had under way does not reach the task.
	var late struct {
		UploadID string `json:"upload_id"`
	}
	e.want(e.postJSON("/api/v1/connector/uploads", token, map[string]any{"request_id": reqID, "name": "late.jsonl"}),
		http.StatusCreated, "an upload before the switch").json(t, &late)
	e.want(put(late.UploadID, 1, token, []byte(`{"n":1}`+"\n")), http.StatusNoContent, "its part 1")
	e.act("/api/v1/requests/"+reqID+"/tasks/"+c.source+"/automation/manual", c.owner, map[string]any{"reason": "the shop's database moves"})
	e.eventually("the task is manual", func() bool { return e.get(subject, token).status == http.StatusNotFound })
	e.want(e.postJSON("/api/v1/connector/uploads", token, map[string]any{"request_id": reqID, "name": "more.jsonl"}),
		http.StatusNotFound, "an upload for a task switched to manual")
	e.want(put(late.UploadID, 2, token, []byte(`{"n":2}`+"\n")), http.StatusNotFound, "a part for a task switched to manual")
	e.want(e.postJSON("/api/v1/connector/uploads/"+late.UploadID+"/completion", token, map[string]any{"parts": 1}),
		http.StatusNotFound, "a completion for a task switched to manual")
	var files int
	if err := e.app.DB.Get(&files, `SELECT count(*) FROM task_files WHERE request_id = $1`, reqID); err != nil || files != 1 {
		t.Errorf("%d task files after the switch (%v), want the one completed before", files, err)
	}
}
