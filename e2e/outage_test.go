package e2e_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/mail/resendtest"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/testenv/apptest"
	"github.com/opendsar/dsar/workflows"
)

// outage is how long Postgres stays away: beyond the 31 s of retries after
// which the old workflow gave up on a write and left PII behind for ever.
const outage = 45 * time.Second

// TestClosedJustBeforeAnOutageEndsErased is the operator's case: a request
// is completed, and right after the answer Postgres becomes unreachable
// for the API and the worker. Once it is back the request ends completed
// and erased, its close and erasure audited once, and the requester mailed
// once.
func TestClosedJustBeforeAnOutageEndsErased(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute-long outage")
	}
	t.Parallel()
	ctx := context.Background()
	direct := testenv.DatabaseURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	rs := resendtest.New(t, "re_test_key")
	// The access package is kept a little longer than the outage: the
	// workflow ends once it has erased that too.
	a, srv := apptest.StartOn(t, u.String(), map[string]any{"email.provider": "resend",
		"email.resend.api_key": "re_test_key", "email.resend.base_url": rs.URL, "fulfilment.package_ttl": "75s"})
	e := &env{t: t, app: a, srv: srv, resend: rs}
	db, err := store.Open(ctx, direct, 2) // the test's own view, not through the proxy
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.KeyAudit(a.Keys)

	c := e.crew()
	var cut time.Time
	id := e.complete(c, requester, func() { proxy.Cut(); cut = time.Now() })
	time.Sleep(outage / 2)
	var scrubbed *time.Time
	if err := db.Get(&scrubbed, `SELECT scrubbed_at FROM requests WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if scrubbed != nil {
		t.Fatal("the request was erased while Postgres was away: the test did not cut in time")
	}
	time.Sleep(time.Until(cut.Add(outage)))
	proxy.Restore()
	t.Logf("Postgres back after %v", time.Since(cut).Round(time.Second))

	// The workflow ends once it has erased, audited and projected, and
	// erased the access package when it expired.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		desc, err := a.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
		if err != nil {
			t.Fatal(err)
		}
		if desc.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			if st := desc.WorkflowExecutionInfo.Status; st != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				t.Fatalf("the workflow ended %s", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workflow never ended after the outage")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := db.Get(&scrubbed, `SELECT scrubbed_at FROM requests WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if scrubbed == nil {
		t.Fatal("the workflow ended without erasing the request")
	}
	t.Logf("erased %v after Postgres came back", scrubbed.Sub(cut.Add(outage)).Round(time.Second))
	var pkg string
	if err := db.Get(&pkg, `SELECT status FROM packages WHERE request_id = $1 AND wrapped_key IS NULL
		AND NOT EXISTS (SELECT 1 FROM package_chunks c WHERE c.package_id = packages.id)`, id); err != nil || pkg != "expired" {
		t.Fatalf("the access package after the workflow ended: %q, %v; want expired, its key and content gone", pkg, err)
	}

	var d struct {
		Status    string
		PIIErased bool `json:"pii_erased"`
		Email     string
	}
	e.want(e.get("/api/v1/requests/"+id, c.owner), http.StatusOK, "detail").json(t, &d)
	if d.Status != string(dsar.StatusCompleted) || !d.PIIErased || strings.Contains(d.Email, "@") {
		t.Errorf("the detail after the outage: %+v", d)
	}
	evs, err := db.RequestAudit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, ev := range evs {
		counts[ev.Action]++
		if ev.Action == dsar.AuditMailSent && strings.Contains(string(ev.Detail), "request_completed") {
			counts["completion mail"]++
		}
	}
	for _, want := range []string{dsar.AuditCompleted, dsar.AuditPIIScrubbed, "completion mail"} {
		if counts[want] != 1 {
			t.Errorf("%s audited %d times, want once (%v)", want, counts[want], counts)
		}
	}
	mailed := 0
	for _, m := range rs.Emails() {
		if m.Subject == "Your privacy request is complete" {
			mailed++
		}
	}
	if mailed != 1 || len(rs.Reused()) != 0 {
		t.Errorf("completion mailed %d times (keys reused with another body: %v)", mailed, rs.Reused())
	}
	if n, brk, err := db.VerifyAudit(ctx); err != nil || brk != nil {
		t.Errorf("audit chain of %d rows: %v %+v", n, err, brk)
	}
}
