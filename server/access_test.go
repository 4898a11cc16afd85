package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// TestAccessMatrix walks every route of the router × every role (and no
// session) and checks the answer against the access table: no session on a
// staff route is 401, a role the table does not name gets the table's
// denial (403, or 404 where existence is private), a role it names gets
// past the guards. A route missing from the table fails the test.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	users := map[dsar.Role]string{}
	var sourceOwnerID, anyUserID string
	for _, r := range dsar.Roles {
		u, _ := e.user(r)
		users[r] = u.ID
		anyUserID = u.ID
		if r == dsar.RoleSourceOwner {
			sourceOwnerID = u.ID
		}
	}
	// A request with a task of the source owner's data source, so that the
	// object-level rules let them see it.
	ds, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{sourceOwnerID})
	if err != nil {
		t.Fatal(err)
	}
	reqID := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", time.Now(), false)
	e.task(reqID, ds.ID, "open")

	// concrete fills in a route's parameters with real objects where there
	// are some; real reports whether every one is real.
	concrete := func(path string) (string, bool) {
		real := true
		parts := strings.Split(path, "/")
		for i, p := range parts {
			switch {
			case p == ":id" && strings.HasPrefix(path, "/api/v1/requests/"):
				parts[i] = reqID
			case p == ":id" && strings.HasPrefix(path, "/api/v1/data-sources/"):
				parts[i] = ds.ID
			case p == ":id" && strings.HasPrefix(path, "/api/v1/users/"):
				parts[i] = anyUserID
			case p == ":data_source_id":
				parts[i] = ds.ID
			case p == ":op":
				parts[i] = "encode"
			case p == "*path":
				parts[i] = "app.css"
			case strings.HasPrefix(p, ":"):
				parts[i] = uuid.NewString()
				real = false
			}
		}
		return strings.Join(parts, "/"), real
	}

	actors := append([]dsar.Role{""}, dsar.Roles...)
	for _, route := range e.server.Engine().Routes() {
		rule, ok := accessRule(route.Method, route.Path)
		if !ok {
			t.Errorf("%s %s is not in the access table", route.Method, route.Path)
			continue
		}
		path, real := concrete(route.Path)
		for _, who := range actors {
			name := fmt.Sprintf("%s %s as %s", route.Method, route.Path, who)
			if who == "" {
				name = fmt.Sprintf("%s %s with no session", route.Method, route.Path)
			}
			token := ""
			if who != "" {
				token = e.session(mustUser(t, e, users[who]))
			}
			var body any
			if route.Method == http.MethodPost || route.Method == http.MethodPatch {
				body = "{}"
			}
			got := e.do(route.Method, path, token, body).Status
			switch rule.Who {
			case public:
				if got == http.StatusUnauthorized || got == http.StatusForbidden {
					t.Errorf("%s: %d on a public route", name, got)
				}
			case portal:
				if got != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401 (no portal session)", name, got)
				}
			case connector:
				if got != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401 (no connector token)", name, got)
				}
			case page:
				if got != http.StatusSeeOther {
					t.Errorf("%s: %d, want a redirect to the portal login", name, got)
				}
			case staff:
				allowed := slices.Contains(rule.Roles, who)
				switch {
				case who == "" && got != http.StatusUnauthorized:
					t.Errorf("%s: %d, want 401", name, got)
				case who != "" && !allowed && got != rule.Denied:
					t.Errorf("%s: %d, want %d", name, got, rule.Denied)
				case allowed && (got == http.StatusUnauthorized || got == http.StatusForbidden):
					t.Errorf("%s: %d, but the table lets %s in", name, got, who)
				case allowed && real && rule.Denied == http.StatusNotFound && got == http.StatusNotFound:
					t.Errorf("%s: 404 on a real object, but the table lets %s in", name, who)
				}
			default:
				t.Errorf("%s %s: unknown kind %q in the access table", route.Method, route.Path, rule.Who)
			}
		}
	}

	// Every row of the table is a route (no stale rows). The dev mailbox
	// exists only with the outbox mailer, which this server has.
	have := map[string]bool{}
	for _, r := range e.server.Engine().Routes() {
		have[r.Method+" "+r.Path] = true
	}
	for _, r := range accessTable() {
		if !have[r.Method+" "+r.Path] {
			t.Errorf("the access table has %s %s, which the router does not", r.Method, r.Path)
		}
	}
}

// TestSourceOwnersSeeOnlyTheirOwn checks the object-level rules: another
// owner's request and task are 404, and a source owner sees only their own
// tasks on a request with several.
func TestSourceOwnersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	olivia, oliviaTok := e.user(dsar.RoleSourceOwner)
	oscar, oscarTok := e.user(dsar.RoleSourceOwner)
	crm, _ := e.db.CreateDataSource(e.ctx, "CRM", "", []string{olivia.ID})
	mail, _ := e.db.CreateDataSource(e.ctx, "Mail", "", []string{oscar.ID})
	both := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", time.Now(), false)
	e.task(both, crm.ID, "open")
	e.task(both, mail.ID, "open")
	onlyMail := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", time.Now(), false)
	e.task(onlyMail, mail.ID, "open")

	d := e.want(e.do("GET", "/api/v1/requests/"+both, oliviaTok, nil), http.StatusOK, "olivia's request").JSON(t)
	if tasks := d["tasks"].([]any); len(tasks) != 1 || tasks[0].(map[string]any)["name"] != "CRM" {
		t.Fatalf("olivia sees tasks %v", tasks)
	}
	if tl := d["timeline"].([]any); len(tl) != 0 {
		t.Fatalf("olivia sees the timeline %v", tl)
	}
	if d := e.want(e.do("GET", "/api/v1/requests/"+both, admin, nil), http.StatusOK, "admin").JSON(t); len(d["tasks"].([]any)) != 2 {
		t.Fatalf("the admin sees tasks %v", d["tasks"])
	}
	e.want(e.do("GET", "/api/v1/requests/"+onlyMail, oliviaTok, nil), http.StatusNotFound, "oscar's request as olivia")
	e.want(e.do("POST", fmt.Sprintf("/api/v1/requests/%s/tasks/%s/completion", both, mail.ID), oliviaTok, nil),
		http.StatusNotFound, "oscar's task as olivia")
	e.want(e.do("POST", fmt.Sprintf("/api/v1/requests/%s/tasks/%s/completion", onlyMail, crm.ID), oliviaTok, nil),
		http.StatusNotFound, "her source on a request without its task")
	for _, path := range []string{"/api/v1/requests/" + both + "/identity-document", "/api/v1/requests/" + both + "/audit"} {
		e.want(e.do("GET", path, oscarTok, nil), http.StatusForbidden, path+" as a source owner")
	}
}

func mustUser(t *testing.T, e *staffEnv, id string) store.User {
	t.Helper()
	u, err := e.db.User(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
