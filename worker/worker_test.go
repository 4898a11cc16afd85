package worker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// eventually polls cond every 50ms until it holds or 20s have passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// insertRequest stores an accepted request with sealed PII and an identity
// document, as intake does, and returns its id.
func insertRequest(t *testing.T, db *store.DB, keys *crypto.Keyring, pii store.PII, submitted, deadline time.Time) string {
	t.Helper()
	id := uuid.NewString()
	s, err := store.NewSealedRequest(keys, id, pii, []byte("%PDF-1.4 id card"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at, deadline,
			original_deadline, deadline_rule, deadline_rule_name, email_hash, pii)
			VALUES ($1, true, 'pending_email_verification', 'deletion', 'customer', 'FR', $2, $3, $3, 'gdpr', 'GDPR', $4, $5)`,
			[]any{id, submitted, deadline, s.EmailHash, s.PII}},
		{`INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)`, []any{id, s.KeyID, s.WrappedKey}},
		{`INSERT INTO identity_documents (request_id, content_type, size, sealed) VALUES ($1, 'application/pdf', 16, $2)`, []any{id, s.Document}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// lifecycle is a running worker on the dev server with a fresh task queue.
type lifecycle struct {
	t      *testing.T
	ctx    context.Context
	app    *app.App
	addr   string
	outbox *mail.Outbox
}

func newLifecycle(t *testing.T) *lifecycle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	addr := testenv.TemporalAddress(t)
	cfg := testenv.Config(t, testenv.DatabaseURL(t), addr, map[string]any{"public_url": "https://privacy.example.org"})
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if err := a.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Prepare(ctx); err != nil { // idempotent: a second worker starting
		t.Fatalf("second Prepare: %v", err)
	}
	w := worker.New(a.Temporal, cfg.Temporal.TaskQueue, a.Activities())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &lifecycle{t: t, ctx: ctx, app: a, addr: addr, outbox: a.Outbox}
}

// orgOwner creates Olga, an org owner.
func (l *lifecycle) orgOwner() store.User {
	l.t.Helper()
	u, err := l.app.DB.CreateUser(l.ctx, store.User{Email: "owner@example.com", Name: "Olga Owner", Role: dsar.RoleOrgOwner, PasswordHash: "x"})
	if err != nil {
		l.t.Fatal(err)
	}
	return u
}

func (l *lifecycle) start(id string, in workflows.Input) client.WorkflowRun {
	l.t.Helper()
	run, err := l.app.Temporal.ExecuteWorkflow(l.ctx, client.StartWorkflowOptions{
		ID: workflows.WorkflowID(id), TaskQueue: l.app.Config.Temporal.TaskQueue,
	}, workflows.WorkflowName, in)
	if err != nil {
		l.t.Fatal(err)
	}
	return run
}

func (l *lifecycle) state(id string) workflows.State {
	l.t.Helper()
	v, err := l.app.Temporal.QueryWorkflow(l.ctx, workflows.WorkflowID(id), "", workflows.QueryState)
	if err != nil {
		l.t.Fatal(err)
	}
	var st workflows.State
	if err := v.Get(&st); err != nil {
		l.t.Fatal(err)
	}
	return st
}

// signal sends a signal the way the API does: after asking the state
// whether it is allowed.
func (l *lifecycle) signal(id, name string, payload any) {
	l.t.Helper()
	st := l.state(id)
	if err := st.Allows(name, payload); err != nil {
		l.t.Fatalf("%s not allowed in %s: %v", name, st.Status, err)
	}
	if err := l.app.Temporal.SignalWorkflow(l.ctx, workflows.WorkflowID(id), "", name, forRequest(payload, id)); err != nil {
		l.t.Fatal(err)
	}
}

// forRequest sets the RequestID of payload's Action (as the API does)
// when it is empty.
func forRequest(payload any, id string) any {
	v := reflect.New(reflect.TypeOf(payload)).Elem()
	v.Set(reflect.ValueOf(payload))
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("RequestID"); f.IsValid() && f.Kind() == reflect.String && f.String() == "" {
			f.SetString(id)
		}
	}
	return v.Interface()
}

func (l *lifecycle) waitStatus(id string, want dsar.Status) {
	l.t.Helper()
	eventually(l.t, "status "+string(want), func() bool { return l.state(id).Status == want })
}

func (l *lifecycle) mailsTo(to string) []mail.OutboxMail {
	ms, err := l.outbox.List(l.ctx, to, 100)
	if err != nil {
		l.t.Fatal(err)
	}
	return ms
}

func (l *lifecycle) hasMail(to, subject string) bool {
	for _, m := range l.mailsTo(to) {
		if strings.Contains(m.Subject, subject) {
			return true
		}
	}
	return false
}

func (l *lifecycle) input(id string, submitted, deadline time.Time) workflows.Input {
	return workflows.Input{
		RequestID: id, RequestType: dsar.RequestDeletion, RequestorType: dsar.RequestorCustomer, Country: "FR",
		SubmittedAt: submitted, Deadline: deadline, DeadlineRule: "gdpr", MaxExtension: dsar.Period{Months: 2},
		Periods: workflows.Periods{
			ReminderEvery: time.Second, StallAfter: time.Hour, DeadlineWarningBefore: time.Second, OverdueAlertEvery: time.Hour,
			VerificationReminderAfter: time.Second, VerificationExpiry: time.Hour, AssignmentAlertEvery: time.Hour,
		},
	}
}

// versionMarkers counts the version markers (GetVersion) in the history of
// the request's workflow.
func (l *lifecycle) versionMarkers(id string) int {
	l.t.Helper()
	it := l.app.Temporal.GetWorkflowHistory(l.ctx, workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			l.t.Fatal(err)
		}
		if ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version" {
			n++
		}
	}
	return n
}

// export writes the workflow's history to testdata/ for the replay test
// when DSAR_RECORD_HISTORIES is set.
func (l *lifecycle) export(id, name string) {
	if os.Getenv("DSAR_RECORD_HISTORIES") == "" {
		return
	}
	bin, err := testenv.TemporalBin()
	if err != nil {
		l.t.Fatal(err)
	}
	out, err := exec.Command(bin, "workflow", "show", "--address", l.addr, "--workflow-id", workflows.WorkflowID(id), "--output", "json").Output()
	if err != nil {
		l.t.Fatalf("temporal workflow show: %v", err)
	}
	if err := os.WriteFile(filepath.Join(testenv.Root(), "testdata", name), out, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func TestLifecycleOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	crmOwner, err := db.CreateUser(l.ctx, store.User{Email: "crm@example.com", Name: "Carl CRM", Role: dsar.RoleSourceOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	crm := uuid.NewString()
	if _, err := db.Exec(`INSERT INTO data_sources (id, name) VALUES ($1, 'CRM')`, crm); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO data_source_owners (data_source_id, user_id) VALUES ($1, $2)`, crm, crmOwner.ID); err != nil {
		t.Fatal(err)
	}
	requester := store.PII{FirstName: "Rita", LastName: "Requester", Email: "rita@example.net", Description: "delete me"}
	now := time.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(time.Hour)
	id := insertRequest(t, db, keys, requester, now, deadline)
	run := l.start(id, l.input(id, now, deadline))

	// The verification mail goes out at once, its reminder a second later.
	eventually(t, "the verification reminder", func() bool { return l.hasMail(requester.Email, "Reminder") })
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	eventually(t, "the portal invitation", func() bool { return l.hasMail(requester.Email, "Follow your privacy request") })
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: true, By: owner.ID})
	l.waitStatus(id, dsar.StatusIdentityVerified)
	// While unassigned, org owners are reminded every ReminderEvery.
	eventually(t, "an unassigned reminder", func() bool {
		alerts, err := db.RequestAlerts(l.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			if a.Kind == store.AlertUnassigned {
				return true
			}
		}
		return false
	})
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{crm}, By: owner.ID})
	l.waitStatus(id, dsar.StatusInProgress)
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: crm, Note: "deleted", By: crmOwner.ID})
	l.waitStatus(id, dsar.StatusReadyToClose)
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: owner.ID})

	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusCompleted {
		t.Fatalf("final status %s", final.Status)
	}

	// The queue shows it completed, the PII is gone, the audit chain holds.
	var row struct {
		Status   string     `db:"status"`
		Scrubbed *time.Time `db:"scrubbed_at"`
		PII      []byte     `db:"pii"`
	}
	if err := db.Get(&row, `SELECT status, scrubbed_at, pii FROM requests WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if row.Status != "completed" || row.Scrubbed == nil || row.PII != nil {
		t.Errorf("request row after close: status %s scrubbed %v pii %d bytes", row.Status, row.Scrubbed, len(row.PII))
	}
	var task string
	if err := db.Get(&task, `SELECT status FROM tasks WHERE request_id = $1 AND data_source_id = $2`, id, crm); err != nil || task != "completed" {
		t.Errorf("task row: %q, %v", task, err)
	}
	if !l.hasMail(requester.Email, "Your privacy request is complete") {
		t.Error("no completion mail")
	}
	if _, brk, err := db.VerifyAudit(l.ctx); err != nil || brk != nil {
		t.Errorf("audit chain: %v %v", brk, err)
	}

	// Operators find it by its search attributes.
	bin, err := testenv.TemporalBin()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the workflow in `temporal workflow list`", func() bool {
		out, err := exec.Command(bin, "workflow", "list", "--address", l.addr,
			"--query", "DsarStatus='completed' AND DsarCountry='FR'").CombinedOutput()
		if err != nil {
			t.Fatalf("temporal workflow list: %v\n%s", err, out)
		}
		return strings.Contains(string(out), workflows.WorkflowID(id))
	})

	// The daily digest, run now by its schedule, sends the owners what is due.
	if err := l.app.Temporal.ScheduleClient().GetHandle(l.ctx, workflows.DigestScheduleID).Trigger(l.ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the org owner's digest", func() bool { return len(l.mailsTo(owner.Email)) == 1 })
	eventually(t, "the crm owner's digest", func() bool { return len(l.mailsTo(crmOwner.Email)) == 1 })
	digest := l.mailsTo(owner.Email)[0]
	if !strings.Contains(digest.Text, "https://privacy.example.org/console/requests/"+id) ||
		!strings.Contains(digest.Text, store.AlertLabel(store.AlertNewRequest)) {
		t.Errorf("digest:\n%s", digest.Text)
	}
	// A new run records one version marker, the baseline that stands for
	// every change before it, and no marker of each change.
	if n := l.versionMarkers(id); n != 1 {
		t.Errorf("the history holds %d version markers, want 1 (the baseline)", n)
	}
	l.export(id, "dsar_baseline_completed.json")
}

func TestIdentityRefusedOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	owner, err := l.app.DB.CreateUser(l.ctx, store.User{Email: "owner@example.com", Name: "Olga", Role: dsar.RoleOrgOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	requester := store.PII{FirstName: "Sam", Email: "sam@example.net"}
	now := time.Now().UTC()
	id := insertRequest(t, l.app.DB, l.app.Keys, requester, now, now.Add(time.Hour))
	run := l.start(id, l.input(id, now, now.Add(time.Hour)))
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	// A signal the state does not allow is ignored (and audited).
	if err := l.app.Temporal.SignalWorkflow(l.ctx, workflows.WorkflowID(id), "", workflows.SignalTaskCompleted,
		workflows.TaskCompletion{Action: workflows.Action{RequestID: id}, DataSourceID: uuid.NewString(), By: owner.ID}); err != nil {
		t.Fatal(err)
	}
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: false, Note: "does not match", By: owner.ID})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusRejected || len(final.CloseReasons) != 1 || final.CloseReasons[0] != dsar.RejectIdentityNotVerified {
		t.Errorf("final: %s %v", final.Status, final.CloseReasons)
	}
	evs, err := l.app.DB.RequestAudit(l.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	if !strings.Contains(strings.Join(actions, " "), "signal.ignored") {
		t.Errorf("audit %v has no ignored signal", actions)
	}
	if _, err := l.app.DB.RequestIdentityDocument(l.ctx, l.app.Keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("identity document after the decision: %v", err)
	}
	if !l.hasMail(requester.Email, "About your privacy request") {
		t.Error("no rejection mail")
	}
	l.export(id, "dsar_baseline_refused.json")
}
