package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// verdict gathers the violations of a run, each naming its request.
type verdict struct{ fails []string }

func (v *verdict) failf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	v.fails = append(v.fails, msg)
	fmt.Println("FAIL: " + msg)
}

// findings are the figures of the checks, for the report.
type findings struct {
	inState            int   // scenarios whose request ended as expected
	requests           int   // accepted request rows
	closed             int   // of which closed
	erased             int   // closed and erased everywhere
	projectionsEqual   int   // rows equal to their workflow's state
	workflowsCompleted int   // closed requests whose workflow is Completed
	running            int64 // request workflows still running
	auditRows          int64
	auditKeyed         int64
	auditChain         string
	auditTwice         int // duplicated (request, action) of once-only actions, and duplicated keys
	actions            string
	deadlines          int // deadline scenarios whose deadline passed before their close
	deadlinesInOutage  int // of which the deadline fell inside the Postgres outage
	mails, mailKeys    int
	resent             int // keys the service sent more than once (delivered once)
	reused             int // keys sent again with another payload (refused by the provider)
	mailTwice          int // a requester getting one kind of mail twice
}

// projected is a request row as the checks read it.
type projected struct {
	ID           string         `db:"id"`
	Status       string         `db:"status"`
	Deadline     time.Time      `db:"deadline"`
	Overdue      bool           `db:"overdue"`
	ClosedAt     *time.Time     `db:"closed_at"`
	ScrubbedAt   *time.Time     `db:"scrubbed_at"`
	PIIGone      bool           `db:"pii_gone"`
	HasKey       bool           `db:"has_key"`
	HasDocument  bool           `db:"has_document"`
	CloseReasons pq.StringArray `db:"close_reasons"`
	Attention    string         `db:"attention"`
	Timeline     []byte         `db:"timeline"` // JSON; "[]" before the column
}

// onceOnly are the audit actions that happen at most once per request (per
// request and data source for task.completed, per request and kind of mail
// for mail.sent: the scenarios extend no deadline): a second row is an
// event written twice, whatever its key says.
var onceOnly = []string{dsar.AuditRequestSubmitted, dsar.AuditEmailVerified, dsar.AuditIdentityVerified, dsar.AuditIdentityRefused,
	dsar.AuditCompleted, dsar.AuditRejected, dsar.AuditExpired, dsar.AuditPIIScrubbed, dsar.AuditOverdue, dsar.AuditTaskCompleted,
	dsar.AuditMailSent}

// closeAudit is the audit action of closing a request in each closed status.
var closeAudit = map[dsar.Status]string{
	dsar.StatusCompleted: dsar.AuditCompleted, dsar.StatusRejected: dsar.AuditRejected, dsar.StatusExpired: dsar.AuditExpired,
}

// waitEnded waits, up to d, until no request workflow runs and every closed
// request is scrubbed: a close made while the mail provider failed joins
// its mail, retried with backoff, before the erasure.
func (c *chaos) waitEnded(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		running, err := c.runningWorkflows(ctx)
		var unscrubbed int
		qerr := c.db.GetContext(ctx, &unscrubbed, `SELECT count(*) FROM requests WHERE closed_at IS NOT NULL AND scrubbed_at IS NULL`)
		if err == nil && qerr == nil && running == 0 && unscrubbed == 0 {
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// runningWorkflows counts the request workflows still running.
func (c *chaos) runningWorkflows(ctx context.Context) (int64, error) {
	q := "TaskQueue = '" + c.queue + "' AND ExecutionStatus = 'Running' AND WorkflowType = '" + workflows.WorkflowName + "'"
	res, err := c.app.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
	if err != nil {
		return 0, err
	}
	return res.Count, nil
}

// hasColumn reports whether table has column (columns that later
// migrations add: the checks use them when they are there).
func (c *chaos) hasColumn(ctx context.Context, table, column string) bool {
	var n int
	err := c.db.GetContext(ctx, &n, `SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`, table, column)
	return err == nil && n > 0
}

// check runs every check on the calm system and prints each violation.
func (c *chaos) check(ctx context.Context, all []*scenario) (findings, verdict, error) {
	var f findings
	var v verdict
	byID := map[string]*scenario{}
	for _, s := range all {
		if s.id == "" {
			v.failf("%s scenario %d: no request acknowledged (%v)", s.kind, s.n, s.err)
			continue
		}
		byID[s.id] = s
		status, err := c.settledStatus(ctx, s.id, string(s.expected()))
		if err == nil && status == string(s.expected()) {
			f.inState++
		} else {
			v.failf("request %s (%s scenario %d) is %s, want %s (%v; scenario error: %v)", s.id, s.kind, s.n, status, s.expected(), err, s.err)
		}
	}

	attention, timeline := `''`, `'[]'`
	if c.hasColumn(ctx, "requests", "attention") {
		attention, timeline = "attention", "timeline"
	}
	var rows []projected
	if err := c.db.SelectContext(ctx, &rows, `SELECT id, status, deadline, overdue, closed_at, scrubbed_at, pii IS NULL AS pii_gone,
		EXISTS (SELECT 1 FROM request_keys k WHERE k.request_id = r.id) AS has_key,
		EXISTS (SELECT 1 FROM identity_documents d WHERE d.request_id = r.id) AS has_document,
		close_reasons, `+attention+` AS attention, `+timeline+`::text AS timeline
		FROM requests r WHERE accepted ORDER BY submitted_at`); err != nil {
		return f, v, fmt.Errorf("read requests: %w", err)
	}
	var taskRows []struct {
		RequestID    string `db:"request_id"`
		DataSourceID string `db:"data_source_id"`
		Status       string `db:"status"`
	}
	if err := c.db.SelectContext(ctx, &taskRows, `SELECT request_id, data_source_id, status FROM tasks`); err != nil {
		return f, v, fmt.Errorf("read tasks: %w", err)
	}
	tasks := map[string]map[string]string{}
	for _, t := range taskRows {
		if tasks[t.RequestID] == nil {
			tasks[t.RequestID] = map[string]string{}
		}
		tasks[t.RequestID][t.DataSourceID] = t.Status
	}
	audit, err := c.auditCounts(ctx)
	if err != nil {
		return f, v, err
	}

	f.requests = len(rows)
	for _, r := range rows {
		s := byID[r.ID]
		name := "request " + r.ID
		if s != nil {
			name = fmt.Sprintf("request %s (%s scenario %d)", r.ID, s.kind, s.n)
		}
		closed := dsar.Status(r.Status).Closed()
		if closed {
			f.closed++
		}
		if r.Attention != "" {
			v.failf("%s needs attention: %s", name, r.Attention)
		}
		if n := audit[r.ID][dsar.AuditMailFailed]; n > 0 {
			v.failf("%s: %d requester mail(s) audited as failed", name, n)
		}

		// The workflow: ended if the request is closed, and its state
		// equal to the projection.
		st, wstatus, err := c.finalState(ctx, r.ID)
		switch {
		case err != nil:
			v.failf("%s: no workflow state: %v", name, err)
		case closed && wstatus != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			v.failf("%s is %s but its workflow is %s", name, r.Status, wstatus)
		case closed:
			f.workflowsCompleted++
		}
		if err == nil {
			if diff := compare(r, tasks[r.ID], st); len(diff) > 0 {
				v.failf("%s: projection differs from the workflow's state: %s", name, strings.Join(diff, "; "))
			} else {
				f.projectionsEqual++
			}
			for _, e := range st.Timeline {
				if e.Event == workflows.EventRequesterMailFailed {
					v.failf("%s: a requester mail failed (%s at %s)", name, e.Detail, e.At.Format(time.TimeOnly))
				}
			}
		}

		// Erased: sealed PII, the data key and the identity document
		// gone from Postgres, and nothing of the requester in the API.
		if closed {
			var left []string
			if r.ScrubbedAt == nil {
				left = append(left, "scrubbed_at is empty")
			}
			if !r.PIIGone {
				left = append(left, "sealed PII")
			}
			if r.HasKey {
				left = append(left, "its data key")
			}
			if r.HasDocument {
				left = append(left, "its identity document")
			}
			if s != nil {
				left = append(left, c.shownPII(ctx, s)...)
			}
			if len(left) > 0 {
				v.failf("%s is %s but not erased: %s", name, r.Status, strings.Join(left, ", "))
			} else {
				f.erased++
			}
			// Audited once: its close and its erasure, each exactly once.
			for _, action := range []string{closeAudit[dsar.Status(r.Status)], dsar.AuditPIIScrubbed} {
				if n := audit[r.ID][action]; n != 1 {
					v.failf("%s: audit event %s written %d times, want once", name, action, n)
				}
			}
		}

		// A deadline that passed while the request was open: warned,
		// marked overdue and alerted, however long Postgres was away.
		if s != nil && s.kind == kindDeadline && r.ClosedAt != nil && r.Deadline.Before(*r.ClosedAt) {
			f.deadlines++
			if !c.outageFrom.IsZero() && r.Deadline.After(c.outageFrom) && r.Deadline.Before(c.outageTo) {
				f.deadlinesInOutage++
			}
			if !r.Overdue {
				v.failf("%s: its deadline %s passed before its close but it is not overdue", name, r.Deadline.Format(time.TimeOnly))
			}
			if n := audit[r.ID][dsar.AuditOverdue]; n != 1 {
				v.failf("%s: audit event request.overdue written %d times, want once", name, n)
			}
			for _, kind := range []string{store.AlertDeadlineWarning, store.AlertOverdue} {
				var n int
				if err := c.db.GetContext(ctx, &n, `SELECT count(*) FROM alerts WHERE request_id = $1 AND kind = $2`, r.ID, kind); err != nil || n == 0 {
					v.failf("%s: no %s alert recorded (%v)", name, kind, err)
				}
			}
		}
	}

	// No audit event written twice: no (request, action) twice for the
	// actions that happen once, and no key twice.
	var twice []struct {
		RequestID string `db:"request_id"`
		Action    string `db:"action"`
		Source    string `db:"source"`
		N         int    `db:"n"`
	}
	if err := c.db.SelectContext(ctx, &twice, `SELECT coalesce(request_id::text, '') AS request_id, action,
		coalesce(detail->>'data_source_id', detail->>'kind', '') AS source, count(*) AS n
		FROM audit_events WHERE action = ANY($1) GROUP BY 1, 2, 3 HAVING count(*) > 1`, pq.StringArray(onceOnly)); err != nil {
		return f, v, fmt.Errorf("audit twice: %w", err)
	}
	for _, t := range twice {
		f.auditTwice++
		of := ""
		if t.Source != "" {
			of = " for " + t.Source
		}
		v.failf("request %s: audit event %s written %d times%s", t.RequestID, t.Action, t.N, of)
	}
	if c.hasColumn(ctx, "audit_events", "key") {
		var keyed []struct {
			RequestID string `db:"request_id"`
			Action    string `db:"action"`
			Key       string `db:"key"`
			N         int    `db:"n"`
		}
		if err := c.db.SelectContext(ctx, &keyed, `SELECT coalesce(request_id::text, '') AS request_id, action, key, count(*) AS n
			FROM audit_events WHERE key IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1`); err != nil {
			return f, v, fmt.Errorf("audit keys: %w", err)
		}
		for _, k := range keyed {
			f.auditTwice++
			v.failf("request %s: audit event %s with key %s written %d times", k.RequestID, k.Action, k.Key, k.N)
		}
		_ = c.db.GetContext(ctx, &f.auditKeyed, `SELECT count(*) FROM audit_events WHERE key IS NOT NULL`)
	}
	n, brk, err := c.app.DB.VerifyAudit(ctx)
	f.auditRows = n
	switch {
	case err != nil:
		v.failf("audit chain: %v", err)
	case brk != nil:
		v.failf("audit chain breaks at row %d: %s", brk.Seq, brk.Reason)
		f.auditChain = "broken"
	default:
		f.auditChain = "verifies"
	}
	if c.hasColumn(ctx, "request_actions", "applied") {
		f.actions = c.actionLags(ctx)
	}

	c.checkMail(&f, &v, all)

	// No workflow left running: every scenario closes its request.
	running, err := c.runningWorkflows(ctx)
	if err != nil {
		return f, v, err
	}
	f.running = running
	if running > 0 {
		v.failf("%d request workflow(s) still running", running)
	}
	return f, v, nil
}

// auditCounts counts the audit events per request and action.
func (c *chaos) auditCounts(ctx context.Context) (map[string]map[string]int, error) {
	var rows []struct {
		RequestID string `db:"request_id"`
		Action    string `db:"action"`
		N         int    `db:"n"`
	}
	if err := c.db.SelectContext(ctx, &rows, `SELECT request_id::text AS request_id, action, count(*) AS n
		FROM audit_events WHERE request_id IS NOT NULL GROUP BY 1, 2`); err != nil {
		return nil, fmt.Errorf("audit counts: %w", err)
	}
	m := map[string]map[string]int{}
	for _, r := range rows {
		if m[r.RequestID] == nil {
			m[r.RequestID] = map[string]int{}
		}
		m[r.RequestID][r.Action] = r.N
	}
	return m, nil
}

// finalState is the workflow's state: its result once it has ended, else
// what it answers to QueryState.
func (c *chaos) finalState(ctx context.Context, id string) (workflows.State, enums.WorkflowExecutionStatus, error) {
	var st workflows.State
	wid := workflows.WorkflowID(id)
	desc, err := c.app.Temporal.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		return st, 0, err
	}
	status := desc.GetWorkflowExecutionInfo().GetStatus()
	if status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		v, err := c.app.Temporal.QueryWorkflow(ctx, wid, "", workflows.QueryState)
		if err == nil {
			err = v.Get(&st)
		}
		return st, status, err
	}
	return st, status, c.app.Temporal.GetWorkflow(ctx, wid, "").Get(ctx, &st)
}

// compare lists where the projection differs from the workflow's state:
// status, deadline, overdue, close time and reasons, each task's status,
// and the timeline's events.
func compare(r projected, tasks map[string]string, st workflows.State) []string {
	var d []string
	if r.Status != string(st.Status) {
		d = append(d, fmt.Sprintf("status %s, workflow %s", r.Status, st.Status))
	}
	if !near(r.Deadline, st.Deadline) {
		d = append(d, fmt.Sprintf("deadline %s, workflow %s", r.Deadline.Format(time.RFC3339Nano), st.Deadline.Format(time.RFC3339Nano)))
	}
	if r.Overdue != st.Overdue {
		d = append(d, fmt.Sprintf("overdue %t, workflow %t", r.Overdue, st.Overdue))
	}
	if (r.ClosedAt == nil) != (st.ClosedAt == nil) || (r.ClosedAt != nil && !near(*r.ClosedAt, *st.ClosedAt)) {
		d = append(d, fmt.Sprintf("closed at %v, workflow %v", r.ClosedAt, st.ClosedAt))
	}
	reasons := make([]string, len(st.CloseReasons))
	for i, x := range st.CloseReasons {
		reasons[i] = string(x)
	}
	if !slices.Equal(slices.Sorted(slices.Values(r.CloseReasons)), slices.Sorted(slices.Values(reasons))) {
		d = append(d, fmt.Sprintf("close reasons %v, workflow %v", r.CloseReasons, reasons))
	}
	if len(tasks) != len(st.Tasks) {
		d = append(d, fmt.Sprintf("%d tasks, workflow %d", len(tasks), len(st.Tasks)))
	}
	for _, t := range st.Tasks {
		if got := tasks[t.DataSourceID]; got != t.Status {
			d = append(d, fmt.Sprintf("task %s %q, workflow %q", t.DataSourceID, got, t.Status))
		}
	}
	// The timeline, where the projection carries it.
	var timeline []workflows.TimelineEntry
	if err := json.Unmarshal(r.Timeline, &timeline); err == nil && len(timeline) > 0 {
		events := func(es []workflows.TimelineEntry) []string {
			var s []string
			for _, e := range es {
				s = append(s, e.Event)
			}
			return s
		}
		if got, want := events(timeline), events(st.Timeline); !slices.Equal(got, want) {
			d = append(d, fmt.Sprintf("timeline %v, workflow %v", got, want))
		}
	}
	return d
}

// near is equality at Postgres's precision (a microsecond).
func near(a, b time.Time) bool {
	return a.Sub(b).Abs() < time.Millisecond
}

// shownPII lists what of the requester's data the request's detail still
// shows, from either API.
func (c *chaos) shownPII(ctx context.Context, s *scenario) []string {
	var st int
	var body []byte
	var err error
	for range 20 {
		if st, body, err = c.call(ctx, http.MethodGet, "/api/v1/requests/"+s.id, c.owner, nil, nil); err == nil && st == http.StatusOK {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || st != http.StatusOK {
		return []string{fmt.Sprintf("its detail cannot be read (%d %v)", st, err)}
	}
	var left []string
	for what, v := range map[string]string{"email": s.email, "first name": s.first, "last name": s.last, "description": s.desc} {
		if strings.Contains(string(body), v) {
			left = append(left, "the API shows its "+what)
		}
	}
	slices.Sort(left)
	return left
}

// checkMail checks that no mail went out twice: the provider's deliveries
// per idempotency key (the service may send a key again; the provider
// delivers it once), no key sent again with another payload, and no
// requester getting one kind of mail twice under two keys; and that each
// closed request's requester got its closing mail exactly once.
func (c *chaos) checkMail(f *findings, v *verdict, all []*scenario) {
	emails := c.mail.Emails()
	f.mails = len(emails)
	perKey := map[string]int{}
	for _, e := range emails {
		perKey[e.IdempotencyKey]++
	}
	f.mailKeys = len(perKey)
	for k, n := range perKey {
		if n > 1 {
			v.failf("mail key %s delivered %d times", k, n)
		}
		if c.mail.Requests(k) > 1 {
			f.resent++
		}
	}
	for k, n := range c.mail.Reused() {
		f.reused++
		v.failf("request %s: mail key %s sent %d more time(s) with another payload (the provider refused it; the mail looked failed)",
			requestOf(k, all), k, n)
	}
	subjects := closingSubjects()
	for _, s := range all {
		if s.id == "" {
			continue
		}
		perSubject := map[string]int{}
		for _, e := range emails {
			if slices.Contains(e.To, s.email) {
				perSubject[e.Subject]++
			}
		}
		for subj, n := range perSubject {
			if n > 1 {
				f.mailTwice++
				v.failf("request %s (%s scenario %d): %q mailed %d times", s.id, s.kind, s.n, subj, n)
			}
		}
		if want := subjects[s.expected()]; want != "" && perSubject[want] == 0 {
			v.failf("request %s (%s scenario %d): its requester never got %q", s.id, s.kind, s.n, want)
		}
	}
}

// closingSubjects are the subjects of the mails that tell a requester the
// request is closed, as the service's templates write them.
func closingSubjects() map[dsar.Status]string {
	m := map[dsar.Status]string{}
	t, err := mail.LoadTemplates()
	if err != nil {
		return m
	}
	for status, name := range map[dsar.Status]string{dsar.StatusCompleted: activities.MailCompleted, dsar.StatusRejected: activities.MailRejected} {
		if msg, err := t.Render(name, "requester@example.org", map[string]any{}); err == nil {
			m[status] = msg.Subject
		}
	}
	return m
}

// requestOf names the scenario's request a mail key belongs to.
func requestOf(key string, all []*scenario) string {
	for _, s := range all {
		if s.id != "" && strings.Contains(key, s.id) {
			return fmt.Sprintf("%s (%s scenario %d)", s.id, s.kind, s.n)
		}
	}
	return "?"
}

// actionLags describes the recorded outcomes of actions: how many applied
// and refused, and how long after the person acted each was recorded,
// leaving out the actions whose wait spans the Postgres outage (nothing can
// be recorded then). A worker killed or a Temporal restart costs seconds; a
// minute means the request's workflow was busy with something else.
func (c *chaos) actionLags(ctx context.Context) string {
	var rows []struct {
		RequestID  string    `db:"request_id"`
		Signal     string    `db:"signal"`
		Applied    bool      `db:"applied"`
		ActedAt    time.Time `db:"acted_at"`
		RecordedAt time.Time `db:"recorded_at"`
	}
	if err := c.db.SelectContext(ctx, &rows, `SELECT request_id, signal, applied, acted_at, recorded_at FROM request_actions`); err != nil {
		return "cannot say: " + err.Error()
	}
	var applied, refused, slow int
	var lags []time.Duration
	var worst string
	var worstLag time.Duration
	for _, r := range rows {
		if r.Applied {
			applied++
		} else {
			refused++
		}
		if r.ActedAt.Before(c.outageTo) && r.RecordedAt.After(c.outageFrom) {
			continue // Postgres was away in between
		}
		lag := r.RecordedAt.Sub(r.ActedAt)
		if lag > time.Minute {
			slow++
		}
		if lag >= worstLag {
			worstLag, worst = lag, fmt.Sprintf("%s, %s of request %s", lag.Round(time.Second), r.Signal, r.RequestID)
		}
		lags = append(lags, lag)
	}
	out := fmt.Sprintf("%d applied, %d refused", applied, refused)
	if len(lags) > 0 {
		slices.Sort(lags)
		out += fmt.Sprintf("; acted → recorded p50 %s, %d over a minute, slowest %s", lags[len(lags)/2].Round(time.Millisecond), slow, worst)
	}
	return out
}
