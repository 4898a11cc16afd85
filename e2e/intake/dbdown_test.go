package intake_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/opendsar/dsar/server"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// TestDatabaseUnreachableAnswers503 cuts the API's database connection: a
// submission through the API and through the form page are answered 503
// ("try again later", not an internal error), nothing is stored, and the
// same submission succeeds once the database is back.
func TestDatabaseUnreachableAnswers503(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	u, err := url.Parse(e.app.Config.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	db, err := store.Open(context.Background(), u.String(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.KeyAudit(e.app.Keys)
	s, err := server.New(server.Deps{Config: e.app.Config, DB: db, Temporal: e.app.Temporal, Keys: e.app.Keys,
		Mailer: e.app.Mailer, Templates: e.app.Templates, Outbox: e.app.Outbox, Log: e.app.Log, Metrics: e.app.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	via := &env{t: t, app: e.app, srv: srv}

	if a := via.submit(validForm(e.captcha(), pngWithText(t, "x")).with("email", "first@example.org"), ""); a.status != http.StatusAccepted {
		t.Fatalf("submit through the proxy = %d: %s", a.status, a.body)
	}
	before := e.counts()

	proxy.Cut()
	f := validForm(e.captcha(), pngWithText(t, "x"))
	a := via.submit(f, "while-the-database-is-down")
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("API submit with the database down = %d, want 503: %s", a.status, a.body)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	a.json(t, &body)
	if body.Error.Code != "unavailable" || !strings.Contains(body.Error.Message, "try again") {
		t.Errorf("API error with the database down: %+v", body.Error)
	}
	page := via.postForm("/", validForm(e.captcha(), pngWithText(t, "x")))
	if page.status != http.StatusServiceUnavailable || !strings.Contains(string(page.body), "try again") {
		t.Errorf("form page with the database down = %d, want 503 asking to try again:\n%.600s", page.status, page.body)
	}
	if after := e.counts(); after != before {
		t.Errorf("rows changed while the database was down: %+v, then %+v", before, after)
	}

	proxy.Restore()
	if a := via.submit(f, "while-the-database-is-down"); a.status != http.StatusAccepted {
		t.Fatalf("the same submission once the database is back = %d: %s", a.status, a.body)
	}
	if c := e.counts(); c.requests != before.requests+1 || c.accepted != before.accepted+1 {
		t.Errorf("rows after the retry: %+v (before: %+v)", c, before)
	}
}
