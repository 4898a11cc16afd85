package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opendsar/dsar/connector"
)

// taskView is a task as the request's detail shows it.
type taskView struct {
	DataSourceID string `json:"data_source_id"`
	Status       string
	Outcome      string
	RecordCount  *int64 `json:"record_count"`
	Mode         string
	Automation   *struct {
		Step, State, Error string
		ErrorType          string `json:"error_type"`
	}
}

// task reads the request's only task.
func (e *env) task(token, reqID string) taskView {
	e.t.Helper()
	var d struct{ Tasks []taskView }
	e.want(e.get("/api/v1/requests/"+reqID, token), http.StatusOK, "the request").json(e.t, &d)
	if len(d.Tasks) != 1 {
		e.t.Fatalf("the request has %d tasks", len(d.Tasks))
	}
	return d.Tasks[0]
}

// TestConnectorEndToEnd is a MariaDB source run by `dsar connector` as its
// owner would run it, with the service and its worker: the connector
// starts with a wrong password, so the access request's task needs
// attention with the reason; the owner fixes the config and restarts the
// connector, staff press retry, and the export completes the task and is
// in the access package, holding exactly the subject's rows. A deletion
// request then erases the subject's rows (verified: none left) and nobody
// else's, and the task is completed as erased.
func TestConnectorEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the connector")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := buildDSAR(t, dir)
	e := start(t, nil)
	c := e.crew()
	token := e.connectorToken(c.owner, c.source)
	people := customersOf("flow")
	ada, dora := people[0], people[1]
	o := ownerMariaDB(t, people, 0)
	queue := "dsar-source-flow-" + c.source[:8]
	e.automate(c.owner, c.source, connector.KindMySQL, queue)
	cfgPath, logPath := filepath.Join(dir, "connector.yaml"), filepath.Join(dir, "connector.log")
	write := func(dsn string) {
		if err := os.WriteFile(cfgPath, []byte(connectorConfig(e, queue, c.source, token, o, dsn, 2, 64)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("root:wrong@tcp(127.0.0.1:3306)/test")
	conn := startConnector(t, bin, cfgPath, logPath)

	reqID := e.assignedRequest(c, person{"Ada", "Access", ada.email, "Send me my data."}, "info", c.source)
	e.eventually("the task needs attention", func() bool {
		a := e.task(c.owner, reqID).Automation
		return a != nil && a.State == "needs_attention"
	})
	if a := e.task(c.owner, reqID).Automation; a.ErrorType != "ConnectorAuth" || !strings.Contains(a.Error, "credentials") {
		t.Fatalf("the task's automation: %+v, want the database's refusal of the credentials", a)
	}

	// The owner fixes the password; staff retry.
	conn.kill()
	write(o.dsn)
	startConnector(t, bin, cfgPath, logPath)
	e.act("/api/v1/requests/"+reqID+"/tasks/"+c.source+"/automation/retry", c.owner, map[string]any{})
	e.eventually("the task is completed by the connector", func() bool { return e.task(c.owner, reqID).Status == "completed" })
	tk := e.task(c.owner, reqID)
	if tk.Outcome != "data_provided" || tk.RecordCount == nil || *tk.RecordCount != int64(1+ada.orders) {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("the task: %+v; the connector says:\n%s", tk, log)
	}
	type file struct {
		ID, Name string
		Included bool
	}
	var pkg struct {
		Status string
		Files  []file
	}
	e.eventually("the access package is built", func() bool {
		a := e.get("/api/v1/requests/"+reqID+"/package", c.owner)
		if a.status == http.StatusOK {
			a.json(t, &pkg)
		}
		return pkg.Status == "ready"
	})
	if len(pkg.Files) != 1 || !pkg.Files[0].Included || pkg.Files[0].Name != "export.jsonl" {
		t.Fatalf("the package: %+v, want the export", pkg)
	}
	lines := e.readExport(c.owner, reqID, c.source, pkg.Files[0].ID)
	if len(lines) != 1+ada.orders {
		t.Fatalf("the export holds %d rows, want %d", len(lines), 1+ada.orders)
	}
	for _, l := range lines {
		if (l.Table == "customers" && l.Row["email"] != ada.email) || (l.Table == "orders" && l.Row["customer_id"] != float64(ada.id)) {
			t.Fatalf("a row that is not Ada's: %+v", l)
		}
	}

	// Deletion.
	reqID = e.assignedRequest(c, person{"Dora", "Deletion", dora.email, "Delete everything."}, "deletion", c.source)
	e.eventually("the erasure completes the task", func() bool { return e.task(c.owner, reqID).Status == "completed" })
	tk = e.task(c.owner, reqID)
	if tk.Outcome != "erased" || tk.RecordCount == nil || *tk.RecordCount != int64(1+dora.orders) {
		t.Fatalf("the deletion's task: %+v", tk)
	}
	if o.count(t, o.orders, "customer_id", dora.id) != 0 || o.count(t, o.customers, "id", dora.id) != 0 {
		t.Fatal("Dora's rows are still there")
	}
	for _, other := range []customer{ada, people[2], people[3]} {
		if got := o.count(t, o.orders, "customer_id", other.id); got != other.orders {
			t.Errorf("%s has %d orders, want %d", other.name, got, other.orders)
		}
	}
	var audit struct {
		Items []struct {
			Action string
			Detail map[string]any
		}
	}
	e.want(e.get("/api/v1/requests/"+reqID+"/audit", c.owner), http.StatusOK, "audit").json(t, &audit)
	var steps []string
	for _, a := range audit.Items {
		if a.Action == "connector.step" {
			steps = append(steps, a.Detail["step"].(string))
			if a.Detail["step"] == "verify" && a.Detail["remaining"] != float64(0) {
				t.Errorf("verify recorded %v rows left", a.Detail["remaining"])
			}
		}
	}
	if !slices.Equal(steps, []string{"identify", "erase", "verify"}) {
		t.Fatalf("the audit trail records the steps %v", steps)
	}
}
