package server

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// row stores an accepted request straight in the projection, with no
// workflow: enough for the queue, which reads only the projection.
func (e *staffEnv) row(st dsar.Status, typ dsar.RequestType, who dsar.RequestorType, country string, submitted time.Time, overdue bool) string {
	e.t.Helper()
	id := uuid.NewString()
	sealed, err := store.NewSealedRequest(e.keys, id, store.PII{FirstName: "Ada", Email: id + "@example.org"}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	const q = `INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at, deadline,
			original_deadline, deadline_rule, deadline_rule_name, email_hash, pii, overdue)
		VALUES ($1, true, $2, $3, $4, $5, $6, $7, $7, 'gdpr', 'GDPR', $8, $9, $10)`
	if _, err := e.db.Exec(q, id, st, typ, who, country, submitted, submitted.AddDate(0, 1, 0), sealed.EmailHash, sealed.PII, overdue); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Exec(`INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)`, id, sealed.KeyID, sealed.WrappedKey); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// task stores a task of a request (as the workflow's projection would).
func (e *staffEnv) task(requestID, dataSourceID, status string) {
	e.t.Helper()
	const q = `INSERT INTO tasks (request_id, data_source_id, status, assigned_at, last_activity_at) VALUES ($1, $2, $3, now(), now())`
	if _, err := e.db.Exec(q, requestID, dataSourceID, status); err != nil {
		e.t.Fatal(err)
	}
}

// ids lists the ids of a list answer's items, in order.
func ids(t *testing.T, a answer, key string) []string {
	t.Helper()
	var out []string
	for _, it := range a.JSON(t)["items"].([]any) {
		out = append(out, it.(map[string]any)[key].(string))
	}
	return out
}

func TestQueueFiltersPagesAndCounts(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	owner, ownerTok := e.user(dsar.RoleSourceOwner)
	other, _ := e.user(dsar.RoleSourceOwner)
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := e.db.CreateDataSource(e.ctx, "Mailer", "", []string{other.ID})
	if err != nil {
		t.Fatal(err)
	}

	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return base.AddDate(0, 0, n) }
	a := e.row(dsar.StatusAwaitingIdentity, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(0), false)
	b := e.row(dsar.StatusInProgress, dsar.RequestDeletion, dsar.RequestorEmployee, "FR", day(1), true)
	c := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(2), false)
	d := e.row(dsar.StatusCompleted, dsar.RequestOptOut, dsar.RequestorOther, "US", day(3), false)
	hidden := e.row(dsar.StatusPendingEmailVerification, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(4), false)
	if _, err := e.db.Exec(`UPDATE requests SET accepted = false WHERE id = $1`, hidden); err != nil {
		t.Fatal(err)
	}
	e.task(b, crm.ID, "open")
	e.task(c, mailer.ID, "open")

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{d, c, b, a}},
		{"status=in_progress", []string{c, b}},
		{"status=in_progress,completed", []string{d, c, b}},
		{"request_type=info", []string{c, a}},
		{"requestor_type=employee", []string{b}},
		{"country=de", []string{c, a}},
		{"submitted_from=2026-03-02&submitted_to=2026-03-03", []string{c, b}},
		{"submitted_from=2026-03-02T12:00:00Z", []string{d, c, b}},
		{"overdue=true", []string{b}},
		{"overdue=false&country=DE", []string{c, a}},
		{"data_source_id=" + crm.ID, []string{b}},
		{"data_source_id=" + mailer.ID + "&status=completed", nil},
	} {
		got := ids(t, e.want(e.do("GET", "/api/v1/requests?"+tc.query, admin, nil), http.StatusOK, tc.query), "id")
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("?%s = %v, want %v", tc.query, got, tc.want)
		}
	}

	// Bad filters are named.
	for _, q := range []string{"status=done", "request_type=x", "requestor_type=x", "country=Germany", "submitted_from=yesterday",
		"overdue=maybe", "data_source_id=42", "limit=0", "limit=201", "cursor=abc"} {
		a := e.want(e.do("GET", "/api/v1/requests?"+q, admin, nil), http.StatusUnprocessableEntity, q).JSON(t)
		name, _ := url.ParseQuery(q)
		for k := range name {
			if a["error"].(map[string]any)["fields"].(map[string]any)[k] == nil {
				t.Errorf("?%s: the error does not name %s", q, k)
			}
		}
	}

	// Keyset pages: two at a time, newest first, no repeats.
	if pages := e.queueIDs("limit=2", admin); fmt.Sprint(pages) != fmt.Sprint([]string{d, c, b, a}) {
		t.Fatalf("pages = %v", pages)
	}

	// A source owner sees only the requests with a task of theirs.
	if got := ids(t, e.want(e.do("GET", "/api/v1/requests", ownerTok, nil), http.StatusOK, "owner's queue"), "id"); fmt.Sprint(got) != fmt.Sprint([]string{b}) {
		t.Fatalf("owner's queue = %v", got)
	}
	e.want(e.do("GET", "/api/v1/requests/"+c, ownerTok, nil), http.StatusNotFound, "someone else's request")
	e.want(e.do("GET", "/api/v1/requests/"+hidden, admin, nil), http.StatusNotFound, "an unaccepted request")

	// Counts for the dashboard.
	counts := e.want(e.do("GET", "/api/v1/requests/counts", admin, nil), http.StatusOK, "counts").JSON(t)
	by := counts["by_status"].(map[string]any)
	if by["in_progress"] != 2.0 || by["completed"] != 1.0 || by["awaiting_identity"] != 1.0 || by["rejected"] != 0.0 ||
		counts["total"] != 4.0 || counts["open"] != 3.0 || counts["unassigned"] != 1.0 || counts["overdue"] != 1.0 {
		t.Fatalf("counts = %v", counts)
	}
	mine := e.want(e.do("GET", "/api/v1/requests/counts", ownerTok, nil), http.StatusOK, "owner's counts").JSON(t)
	if mine["total"] != 1.0 {
		t.Fatalf("owner's counts = %v", mine)
	}

	// Tasks: the owner's own; an admin's all.
	if got := ids(t, e.want(e.do("GET", "/api/v1/tasks", ownerTok, nil), http.StatusOK, "owner's tasks"), "request_id"); fmt.Sprint(got) != fmt.Sprint([]string{b}) {
		t.Fatalf("owner's tasks = %v", got)
	}
	if got := ids(t, e.want(e.do("GET", "/api/v1/tasks?status=open", admin, nil), http.StatusOK, "all tasks"), "request_id"); len(got) != 2 {
		t.Fatalf("all open tasks = %v", got)
	}
	e.want(e.do("GET", "/api/v1/tasks?status=done", admin, nil), http.StatusUnprocessableEntity, "bad task status")

	// The detail of a closed request comes from the projection, its PII
	// decrypted and the read audited.
	det := e.want(e.do("GET", "/api/v1/requests/"+d, admin, nil), http.StatusOK, "detail").JSON(t)
	if det["source"] != "projection" || det["first_name"] != "Ada" || det["pii_erased"] != false {
		t.Fatalf("detail = %v", det)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE request_id = $1 AND action = 'request.pii_viewed'`, d); err != nil || n != 1 {
		t.Fatalf("PII reads audited: %d (%v)", n, err)
	}
	if err := e.db.ScrubRequest(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	det = e.want(e.do("GET", "/api/v1/requests/"+d, admin, nil), http.StatusOK, "detail after scrubbing").JSON(t)
	if det["pii_erased"] != true || det["first_name"] != "" {
		t.Fatalf("scrubbed detail = %v", det)
	}
	e.want(e.do("GET", "/api/v1/requests/"+d+"/identity-document", admin, nil), http.StatusGone, "document after scrubbing")
}

func TestDataSources(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	_, manager := e.user(dsar.RoleManager)
	owner, ownerTok := e.user(dsar.RoleSourceOwner)
	second, _ := e.user(dsar.RoleSourceOwner)

	body := map[string]any{"name": "  CRM  ", "description": "Customers", "owner_ids": []string{owner.ID}}
	e.want(e.do("POST", "/api/v1/data-sources", manager, body), http.StatusForbidden, "a manager creates a source")
	e.want(e.do("POST", "/api/v1/data-sources", ownerTok, body), http.StatusForbidden, "a source owner creates a source")
	ds := e.want(e.do("POST", "/api/v1/data-sources", admin, body), http.StatusCreated, "create").JSON(t)
	id := ds["id"].(string)
	if ds["name"] != "CRM" {
		t.Fatalf("created = %v", ds)
	}
	e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "crm", "owner_ids": []string{owner.ID}}),
		http.StatusConflict, "the same name")
	bad := e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "", "owner_ids": []string{}}),
		http.StatusUnprocessableEntity, "no name, no owner").JSON(t)
	if f := bad["error"].(map[string]any)["fields"].(map[string]any); f["name"] == nil || f["owner_ids"] == nil {
		t.Fatalf("fields = %v", f)
	}
	e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "X", "owner_ids": []string{owner.ID}, "colour": "red"}),
		http.StatusUnprocessableEntity, "an unknown field")

	// The manager reads, cannot change.
	e.want(e.do("GET", "/api/v1/data-sources/"+id, manager, nil), http.StatusOK, "manager reads")
	e.want(e.do("PATCH", "/api/v1/data-sources/"+id, manager, map[string]any{"name": "Y"}), http.StatusForbidden, "manager edits")
	e.want(e.do("DELETE", "/api/v1/data-sources/"+id, manager, nil), http.StatusForbidden, "manager deletes")

	up := e.want(e.do("PATCH", "/api/v1/data-sources/"+id, admin, map[string]any{"owner_ids": []string{owner.ID, second.ID}}),
		http.StatusOK, "add an owner").JSON(t)
	if up["name"] != "CRM" || up["description"] != "Customers" || len(up["owners"].([]any)) != 2 {
		t.Fatalf("updated = %v", up)
	}
	e.want(e.do("PATCH", "/api/v1/data-sources/"+id, admin, map[string]any{"owner_ids": []string{uuid.NewString()}}),
		http.StatusUnprocessableEntity, "a non-user owner")
	e.want(e.do("PATCH", "/api/v1/data-sources/"+uuid.NewString(), admin, map[string]any{"name": "Z"}), http.StatusNotFound, "no such source")

	// Open tasks block the delete; completed ones do not.
	r := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", time.Now(), false)
	e.task(r, id, "open")
	e.want(e.do("DELETE", "/api/v1/data-sources/"+id, admin, nil), http.StatusConflict, "delete with an open task")
	if _, err := e.db.Exec(`UPDATE tasks SET status = 'completed', completed_at = now()`); err != nil {
		t.Fatal(err)
	}
	e.want(e.do("DELETE", "/api/v1/data-sources/"+id, admin, nil), http.StatusNoContent, "delete")
	e.want(e.do("GET", "/api/v1/data-sources/"+id, admin, nil), http.StatusNotFound, "a deleted source")
	if got := ids(t, e.want(e.do("GET", "/api/v1/data-sources", admin, nil), http.StatusOK, "list"), "id"); len(got) != 0 {
		t.Fatalf("list after delete = %v", got)
	}
	// The request's history keeps the name; the name is free again.
	det := e.want(e.do("GET", "/api/v1/requests/"+r, admin, nil), http.StatusOK, "detail").JSON(t)
	if tasks := det["tasks"].([]any); len(tasks) != 1 || tasks[0].(map[string]any)["name"] != "CRM" {
		t.Fatalf("tasks = %v", det["tasks"])
	}
	e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "CRM", "owner_ids": []string{owner.ID}}),
		http.StatusCreated, "the name again")
}
