package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/webhook"
)

// The webhook activity against a real receiver (an httptest server) and
// the callback route, on the real Temporal dev server. A small workflow
// runs SendWebhookJob as a source's child does: its timeouts are the
// job's time limit, and a refusal or a timeout is not retried.

// webhookRunnerName is the test's workflow that runs one webhook job.
const webhookRunnerName = "TestWebhookRunner"

func webhookRunner(ctx workflow.Context, in activities.WebhookJobInput) (activities.WebhookJobResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: in.TimeLimit, ScheduleToCloseTimeout: in.TimeLimit,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 50 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Second,
			NonRetryableErrorTypes: []string{activities.ErrTypeWebhookRejected, activities.ErrTypeConnectorConfig}},
	})
	var res activities.WebhookJobResult
	err := workflow.ExecuteActivity(ctx, "SendWebhookJob", in).Get(ctx, &res)
	return res, err
}

// receiver is the source owner's endpoint: it checks each job's signature
// and answers with the next of its statuses (the last one repeats).
type receiver struct {
	t        *testing.T
	secret   string
	mu       sync.Mutex
	statuses []int
	jobs     []receivedJob
	srv      *httptest.Server
}

type receivedJob struct {
	header http.Header
	job    webhook.Job
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{t: t, statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, err := webhook.Verify(r.secret, req.Header, body, time.Now()); err != nil {
			t.Errorf("the job's signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var j webhook.Job
		if err := json.Unmarshal(body, &j); err != nil {
			t.Errorf("the job is not JSON: %v", err)
		}
		r.jobs = append(r.jobs, receivedJob{header: req.Header.Clone(), job: j})
		status := r.statuses[min(len(r.jobs), len(r.statuses))-1]
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []receivedJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedJob(nil), r.jobs...)
}

// webhookEnv is a webhook source, a request with an open task of it, and
// a worker that runs the job's workflow.
type webhookEnv struct {
	*staffEnv
	queue   string
	source  string
	secret  string
	request string
	email   string
	recv    *receiver
}

func newWebhookEnv(t *testing.T, typ dsar.RequestType, statuses ...int) *webhookEnv {
	e := &webhookEnv{staffEnv: newStaffEnvWithoutWorker(t, nil), queue: "webhook-" + uuid.NewString()[:8]}
	w := sdkworker.New(e.temporal, e.queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(webhookRunner, workflow.RegisterOptions{Name: webhookRunnerName})
	w.RegisterActivity(e.acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	owner, _ := e.user(dsar.RoleSourceOwner)
	ds, err := e.db.CreateDataSource(e.ctx, "Shop "+uuid.NewString()[:8], "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.source = ds.ID
	e.recv = newReceiver(t, statuses...)
	u := e.recv.srv.URL + "/dsar-jobs"
	if _, err := e.db.UpdateDataSource(e.ctx, e.source, store.DataSourcePatch{Mode: new(dsar.SourceWebhook), WebhookURL: &u}); err != nil {
		t.Fatal(err)
	}
	if e.secret, err = e.db.EnsureWebhookSecret(e.ctx, e.keys, e.source); err != nil || e.secret == "" {
		t.Fatalf("EnsureWebhookSecret = %q, %v", e.secret, err)
	}
	e.recv.secret = e.secret
	e.request = e.row(dsar.StatusInProgress, typ, dsar.RequestorCustomer, "DE", time.Now().UTC(), false)
	e.email = e.request + "@example.org" // as row seals it
	if _, err := e.db.Exec(`UPDATE requests SET email_verified_at = now() WHERE id = $1`, e.request); err != nil {
		t.Fatal(err)
	}
	e.task(e.request, e.source, "open")
	return e
}

// start runs the job's workflow with time limit limit.
func (e *webhookEnv) start(limit time.Duration) client.WorkflowRun {
	e.t.Helper()
	run, err := e.temporal.ExecuteWorkflow(e.ctx, client.StartWorkflowOptions{ID: "webhook-test-" + uuid.NewString(), TaskQueue: e.queue},
		webhookRunnerName, activities.WebhookJobInput{RequestID: e.request, DataSourceID: e.source, RequestType: dsar.RequestInfo, TimeLimit: limit})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.temporal.TerminateWorkflow(e.ctx, run.GetID(), "", "test over") })
	return run
}

// job waits for the receiver's n-th accepted delivery.
func (e *webhookEnv) job(n int) receivedJob {
	e.t.Helper()
	e.eventually("the receiver gets the job", func() bool { return len(e.recv.received()) >= n })
	return e.recv.received()[n-1]
}

// callback posts body to a job's callback URL (at this test's server),
// signed with secret as message id at time at.
func (e *webhookEnv) callback(callbackURL, secret, id string, at time.Time, body string) answer {
	e.t.Helper()
	u, err := url.Parse(callbackURL)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.http.URL+u.Path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		if err := webhook.SetHeaders(req.Header, secret, id, at, []byte(body)); err != nil {
			e.t.Fatal(err)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{Status: res.StatusCode, Header: res.Header, Body: b}
}

// audit lists the request's audit events of action, their details.
func (e *webhookEnv) audit(action string) []map[string]any {
	e.t.Helper()
	var raw []string
	if err := e.db.Select(&raw, `SELECT detail::text FROM audit_events WHERE request_id = $1 AND action = $2 ORDER BY seq`, e.request, action); err != nil {
		e.t.Fatal(err)
	}
	out := []map[string]any{}
	for _, r := range raw {
		var m map[string]any
		_ = json.Unmarshal([]byte(r), &m)
		out = append(out, m)
	}
	return out
}

// running reports whether the job's workflow still waits.
func (e *webhookEnv) running(run client.WorkflowRun) bool {
	e.t.Helper()
	d, err := e.temporal.DescribeWorkflowExecution(e.ctx, run.GetID(), run.GetRunID())
	if err != nil {
		e.t.Fatal(err)
	}
	return d.WorkflowExecutionInfo.Status.String() == "Running"
}

// TestWebhookJobCompletesWithTheSignedResult: the source's endpoint gets a
// signed job naming the request and the subject's verified email; a 503
// makes the service deliver the same job again; the signed result posted
// to the callback URL completes the job with its outcome, record count and
// file, which is a task file of the task; the same message again is a
// replay (409), another to the used URL is 410. Each step is audited.
func TestWebhookJobCompletesWithTheSignedResult(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, dsar.RequestInfo, http.StatusServiceUnavailable, http.StatusAccepted)
	run := e.start(time.Hour)
	first, second := e.job(1), e.job(2)
	j := second.job
	if j.Type != "dsar.job" || j.RequestID != e.request || j.DataSourceID != e.source || j.RequestType != "info" ||
		j.Subject.Email != e.email || j.Reference != dsar.Reference(e.request) || !strings.Contains(j.CallbackURL, activities.CallbackPath) {
		t.Fatalf("the job: %+v", j)
	}
	if time.Until(j.ExpiresAt) < 50*time.Minute || time.Until(j.ExpiresAt) > time.Hour {
		t.Errorf("expires_at %v: want the time limit (1h) from now", j.ExpiresAt)
	}
	if id := second.header.Get(webhook.HeaderID); id != first.header.Get(webhook.HeaderID) || id != j.JobID || first.job.CallbackURL != j.CallbackURL {
		t.Errorf("a redelivery is not the same job: ids %q, %q (job_id %q), callbacks %q, %q",
			first.header.Get(webhook.HeaderID), id, j.JobID, first.job.CallbackURL, j.CallbackURL)
	}

	export := `{"customer": {"id": 42, "orders": 2}}`
	body := `{"status":"done","outcome":"data_provided","record_count":2,"message":"the customer and 2 orders",` +
		`"files":[{"name":"customer.json","content_base64":"` + base64.StdEncoding.EncodeToString([]byte(export)) + `"}]}`
	at := time.Now()
	got := e.want(e.callback(j.CallbackURL, e.secret, "msg_first", at, body), http.StatusOK, "the result").JSON(t)
	var res activities.WebhookJobResult
	if err := run.Get(e.ctx, &res); err != nil {
		t.Fatalf("the job: %v", err)
	}
	if res.Outcome != dsar.TaskDataProvided || res.RecordCount != 2 || len(res.FileIDs) != 1 || got["file_ids"].([]any)[0] != res.FileIDs[0] {
		t.Fatalf("result %+v, answer %v", res, got)
	}
	f, r, err := e.db.OpenTaskFile(e.ctx, e.keys, e.request, res.FileIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	content, _ := io.ReadAll(r)
	r.Close()
	if f.Name != "customer.json" || f.ContentType != "application/json" || f.DataSourceID != e.source || string(content) != export {
		t.Errorf("task file %+v: %q", f, content)
	}

	var uploader struct {
		Kind string `db:"actor_kind"`
		ID   string `db:"actor_id"`
	}
	if err := e.db.Get(&uploader, `SELECT actor_kind, actor_id FROM audit_events WHERE request_id = $1 AND action = $2`,
		e.request, dsar.AuditTaskFileUploaded); err != nil || uploader.Kind != "system" || uploader.ID != "webhook:"+e.source {
		t.Errorf("the file's upload is audited as %+v (%v), want the system for the webhook", uploader, err)
	}

	e.want(e.callback(j.CallbackURL, e.secret, "msg_first", at, body), http.StatusConflict, "the same message again")
	e.want(e.callback(j.CallbackURL, e.secret, "msg_second", time.Now(), body), http.StatusGone, "another message to the used URL")
	if files, _ := e.db.TaskFiles(e.ctx, e.keys, e.request); len(files) != 1 {
		t.Errorf("%d task files after the refusals, want the 1", len(files))
	}
	sent := e.audit(dsar.AuditWebhookSent)
	if len(sent) != 2 || sent[0]["status"] != float64(503) || sent[0]["accepted"] != false || sent[1]["accepted"] != true {
		t.Errorf("webhook.sent: %v", sent)
	}
	if cb := e.audit(dsar.AuditWebhookCallback); len(cb) != 1 || cb[0]["outcome"] != "data_provided" || cb[0]["record_count"] != float64(2) {
		t.Errorf("webhook.callback: %v", cb)
	}
	var reasons []any
	for _, d := range e.audit(dsar.AuditWebhookRefused) {
		reasons = append(reasons, d["reason"])
	}
	if len(reasons) != 2 || reasons[0] != "replayed" || reasons[1] != "used" {
		t.Errorf("webhook.refused reasons: %v", reasons)
	}
	for _, a := range [][]map[string]any{sent, e.audit(dsar.AuditWebhookCallback), e.audit(dsar.AuditWebhookRefused)} {
		if b, _ := json.Marshal(a); bytes.Contains(b, []byte(e.email)) || bytes.Contains(b, []byte("callbacks/")) {
			t.Errorf("the audit trail holds the email or the callback URL: %s", b)
		}
	}
}

// TestWebhookCallbackRefusals: a forged signature, no signature, a stale
// timestamp, a bad body, an unknown token and a secret rotated away are
// each refused with their status, and none of them applies anything: the
// job still waits, no file is stored, and a valid result (with the new
// secret) still completes it.
func TestWebhookCallbackRefusals(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, dsar.RequestInfo, http.StatusAccepted)
	run := e.start(time.Hour)
	cb := e.job(1).job.CallbackURL
	good := `{"status":"done","outcome":"no_data","record_count":0}`
	file := `,"files":[{"name":"a.csv","content_base64":"` + base64.StdEncoding.EncodeToString([]byte("a,b\n1,2\n")) + `"}]`
	for _, c := range []struct {
		name   string
		secret string
		at     time.Time
		body   string
		status int
		field  string
	}{
		{"forged", webhook.NewSecret(), time.Now(), good, http.StatusUnauthorized, ""},
		{"unsigned", "", time.Now(), good, http.StatusUnauthorized, ""},
		{"stale", e.secret, time.Now().Add(-6 * time.Minute), good, http.StatusConflict, ""},
		{"outcome of another type", e.secret, time.Now(), `{"status":"done","outcome":"erased","record_count":1}`, http.StatusUnprocessableEntity, "outcome"},
		{"unknown status", e.secret, time.Now(), `{"status":"ok"}`, http.StatusUnprocessableEntity, "status"},
		{"files without data", e.secret, time.Now(), `{"status":"done","outcome":"no_data","record_count":0` + file + `}`, http.StatusUnprocessableEntity, "files"},
		{"a program", e.secret, time.Now(), `{"status":"done","outcome":"data_provided","record_count":1,"files":[{"name":"x.exe","content_base64":"TVo="}]}`,
			http.StatusUnsupportedMediaType, "files[0].name"},
		{"not JSON", e.secret, time.Now(), `status=done`, http.StatusBadRequest, ""},
	} {
		a := e.callback(cb, c.secret, "msg_"+strings.ReplaceAll(c.name, " ", "_"), c.at, c.body)
		if a.Status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, a.Status, c.status, a.Body)
			continue
		}
		if c.field != "" {
			var eb ErrorBody
			_ = json.Unmarshal(a.Body, &eb)
			if eb.Error.Fields[c.field] == "" {
				t.Errorf("%s: the error names %v, want %s", c.name, eb.Error.Fields, c.field)
			}
		}
	}
	u, _ := url.Parse(cb)
	unknown := strings.TrimSuffix(cb, u.Path) + activities.CallbackPath + strings.Repeat("A", 43)
	e.want(e.callback(unknown, e.secret, "msg_unknown", time.Now(), good), http.StatusNotFound, "an unknown token")

	// The secret is rotated: the old one signs nothing any more.
	_, admin := e.user(dsar.RoleAdmin)
	rotated := e.want(e.do(http.MethodPost, "/api/v1/data-sources/"+e.source+"/webhook-secret", admin, map[string]any{}), http.StatusOK, "rotate").JSON(t)
	newSecret, _ := rotated["webhook_secret"].(string)
	if !webhook.ValidSecret(newSecret) || newSecret == e.secret {
		t.Fatalf("rotated secret %q", newSecret)
	}
	e.want(e.callback(cb, e.secret, "msg_old_secret", time.Now(), good), http.StatusUnauthorized, "the old secret")

	if !e.running(run) {
		t.Fatal("a refused callback ended the job")
	}
	if files, _ := e.db.TaskFiles(e.ctx, e.keys, e.request); len(files) != 0 {
		t.Fatalf("refused callbacks stored %d files", len(files))
	}
	e.want(e.callback(cb, newSecret, "msg_good", time.Now(), good), http.StatusOK, "the valid result")
	var res activities.WebhookJobResult
	if err := run.Get(e.ctx, &res); err != nil || res.Outcome != dsar.TaskNoData {
		t.Fatalf("the job: %+v, %v", res, err)
	}
	reasons := map[any]int{}
	for _, d := range e.audit(dsar.AuditWebhookRefused) {
		reasons[d["reason"]]++
	}
	if reasons["signature"] != 3 || reasons["stale"] != 1 || reasons["invalid"] != 5 {
		t.Errorf("webhook.refused reasons: %v", reasons)
	}
}

// TestWebhookJobRefusedOrFailed: an endpoint answering 4xx fails the job
// at once with WebhookRejected (not retried), and its callback URL is then
// gone; a result posted as "failed" fails the job with WebhookRejected
// and the owner's message.
func TestWebhookJobRefusedOrFailed(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, dsar.RequestDeletion, http.StatusBadRequest)
	run := e.start(time.Hour)
	err := run.Get(e.ctx, nil)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeWebhookRejected || !strings.Contains(app.Error(), "HTTP 400") {
		t.Fatalf("the job's error: %v", err)
	}
	if n := len(e.recv.received()); n != 1 {
		t.Errorf("%d deliveries of a refused job, want 1", n)
	}
	e.want(e.callback(e.job(1).job.CallbackURL, e.secret, "msg_late", time.Now(), `{"status":"done","outcome":"erased","record_count":1}`),
		http.StatusGone, "the callback of a refused job")

	f := newWebhookEnv(t, dsar.RequestDeletion, http.StatusOK)
	run = f.start(time.Hour)
	f.want(f.callback(f.job(1).job.CallbackURL, f.secret, "msg_failed", time.Now(),
		`{"status":"failed","record_count":0,"message":"the shop database is read-only today"}`), http.StatusOK, "a failed result")
	err = run.Get(f.ctx, nil)
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeWebhookRejected || !strings.Contains(app.Error(), "read-only today") {
		t.Fatalf("the failed job's error: %v", err)
	}
}

// TestWebhookJobTimesOut: with no result within the time limit the job
// fails with a timeout, and its callback URL is then refused as expired.
func TestWebhookJobTimesOut(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, dsar.RequestInfo, http.StatusAccepted)
	run := e.start(3 * time.Second)
	cb := e.job(1).job.CallbackURL
	err := run.Get(e.ctx, nil)
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("the job's error: %v, want a timeout", err)
	}
	a := e.want(e.callback(cb, e.secret, "msg_late", time.Now(), `{"status":"done","outcome":"no_data","record_count":0}`),
		http.StatusGone, "a result after the time limit")
	if !strings.Contains(string(a.Body), "time limit") {
		t.Errorf("the refusal does not say why: %s", a.Body)
	}
	if r := e.audit(dsar.AuditWebhookRefused); len(r) != 1 || r[0]["reason"] != "expired" {
		t.Errorf("webhook.refused: %v", r)
	}
}

// TestWebhookURLChecks: https only (http to the machine itself in dev
// mode), no credentials, no fragment.
func TestWebhookURLChecks(t *testing.T) {
	for _, c := range []struct {
		url string
		dev bool
		ok  bool
	}{
		{"https://privacy.example.com/jobs", false, true},
		{"", false, true},
		{"http://privacy.example.com/jobs", false, false},
		{"http://127.0.0.1:8099/jobs", false, false},
		{"http://127.0.0.1:8099/jobs", true, true},
		{"http://[::1]:8099/jobs", true, true},
		{"http://localhost/jobs", true, true},
		{"http://10.0.0.8/jobs", true, false},
		{"https://user:pw@privacy.example.com/jobs", false, false},
		{"https://privacy.example.com/jobs#x", false, false},
		{"ftp://privacy.example.com/jobs", true, false},
		{"/jobs", true, false},
		{"https://" + strings.Repeat("a", 2000) + ".example.com/", false, false},
	} {
		if why := webhookURLProblem(c.url, c.dev); (why == "") != c.ok {
			t.Errorf("%q (dev %v): %q, want ok %v", c.url, c.dev, why, c.ok)
		}
	}
}

// TestWebhookCallbackAfterTheTaskWasDone: once the task was completed
// another way (staff switched it to manual and its owner did it), the
// job's result is refused as no longer awaited (410) and stores nothing.
func TestWebhookCallbackAfterTheTaskWasDone(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, dsar.RequestInfo, http.StatusAccepted)
	e.start(time.Hour)
	cb := e.job(1).job.CallbackURL
	if _, err := e.db.Exec(`UPDATE tasks SET status = 'completed', completed_at = now() WHERE request_id = $1`, e.request); err != nil {
		t.Fatal(err)
	}
	body := `{"status":"done","outcome":"data_provided","record_count":1,"files":[{"name":"a.csv","content_base64":"` +
		base64.StdEncoding.EncodeToString([]byte("a,b\n1,2\n")) + `"}]}`
	e.want(e.callback(cb, e.secret, "msg_late", time.Now(), body), http.StatusGone, "a result for a task done meanwhile")
	e.want(e.callback(cb, e.secret, "msg_again", time.Now(), body), http.StatusGone, "and again")
	if n := e.count(`SELECT count(*) FROM task_files WHERE request_id = $1`, e.request); n != 0 {
		t.Errorf("%d task files stored", n)
	}
	if r := e.audit(dsar.AuditWebhookRefused); len(r) != 2 || r[0]["reason"] != "not_waiting" || r[1]["reason"] != "used" {
		t.Errorf("webhook.refused: %v", r)
	}
}

// TestWebhookSourceFields: a webhook source needs a webhook URL (https; in
// dev mode http to this machine), 422 naming webhook_url otherwise, and
// nothing is stored; the service makes its secret and shows it in the
// create answer only; a rotation shows a new one, to admins only.
func TestWebhookSourceFields(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	owner, ownerTok := e.user(dsar.RoleSourceOwner)
	src := func(extra map[string]any) map[string]any {
		b := map[string]any{"name": "Shop " + uuid.NewString()[:8], "owner_ids": []string{owner.ID}, "mode": "webhook"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	before := e.count(`SELECT count(*) FROM data_sources`)
	for _, c := range []map[string]any{
		{},
		{"webhook_url": ""},
		{"webhook_url": "http://shop.example.com/dsar"},
		{"webhook_url": "https://user:pw@shop.example.com/dsar"},
		{"webhook_url": "shop.example.com/dsar"},
	} {
		a := e.want(e.do(http.MethodPost, "/api/v1/data-sources", admin, src(c)), http.StatusUnprocessableEntity, fmt.Sprint("create with ", c))
		var eb ErrorBody
		_ = json.Unmarshal(a.Body, &eb)
		if eb.Error.Fields["webhook_url"] == "" {
			t.Errorf("%v: the error names %v, not webhook_url", c, eb.Error.Fields)
		}
	}
	if n := e.count(`SELECT count(*) FROM data_sources`); n != before {
		t.Fatalf("refused creations stored %d sources", n-before)
	}

	created := e.want(e.do(http.MethodPost, "/api/v1/data-sources", admin, src(map[string]any{"webhook_url": "https://shop.example.com/dsar",
		"time_limit": "24h"})), http.StatusCreated, "create").JSON(t)
	id, _ := created["id"].(string)
	secret, _ := created["webhook_secret"].(string)
	if !webhook.ValidSecret(secret) || created["webhook_url"] != "https://shop.example.com/dsar" || created["webhook_secret_set"] != true {
		t.Fatalf("created: %v", created)
	}
	if stored, err := e.db.WebhookSource(e.ctx, e.keys, id); err != nil || stored.Secret != secret {
		t.Errorf("the stored secret is not the one shown: %v", err)
	}
	if raw := e.count(`SELECT count(*) FROM data_sources WHERE id = $1 AND position($2::bytea IN webhook_secret) > 0`, id, []byte(secret)); raw != 0 {
		t.Error("the secret is stored in plaintext")
	}
	got := e.want(e.do(http.MethodGet, "/api/v1/data-sources/"+id, admin, nil), http.StatusOK, "get").JSON(t)
	if _, shown := got["webhook_secret"]; shown || got["webhook_secret_set"] != true {
		t.Errorf("GET shows %v", got)
	}
	patched := e.want(e.do(http.MethodPatch, "/api/v1/data-sources/"+id, admin, map[string]any{"description": "orders"}), http.StatusOK, "patch").JSON(t)
	if _, shown := patched["webhook_secret"]; shown {
		t.Errorf("PATCH shows the secret again: %v", patched)
	}
	a := e.want(e.do(http.MethodPatch, "/api/v1/data-sources/"+id, admin, map[string]any{"webhook_url": ""}), http.StatusUnprocessableEntity, "remove the URL")
	if !strings.Contains(string(a.Body), "webhook_url") {
		t.Errorf("the refusal does not name webhook_url: %s", a.Body)
	}

	// A manual source given a URL later gets its secret then.
	manual := e.want(e.do(http.MethodPost, "/api/v1/data-sources", admin, map[string]any{"name": "CRM " + uuid.NewString()[:8],
		"owner_ids": []string{owner.ID}}), http.StatusCreated, "a manual source").JSON(t)
	if _, shown := manual["webhook_secret"]; shown || manual["webhook_secret_set"] != false {
		t.Errorf("a manual source: %v", manual)
	}
	later := e.want(e.do(http.MethodPatch, "/api/v1/data-sources/"+manual["id"].(string), admin,
		map[string]any{"mode": "webhook", "webhook_url": "https://crm.example.com/dsar"}), http.StatusOK, "made a webhook source").JSON(t)
	if s, _ := later["webhook_secret"].(string); !webhook.ValidSecret(s) {
		t.Errorf("a source given a URL: %v", later)
	}

	e.want(e.do(http.MethodPost, "/api/v1/data-sources/"+id+"/webhook-secret", ownerTok, map[string]any{}), http.StatusForbidden, "a source owner rotates")
	rotated := e.want(e.do(http.MethodPost, "/api/v1/data-sources/"+id+"/webhook-secret", admin, map[string]any{}), http.StatusOK, "rotate").JSON(t)
	if s, _ := rotated["webhook_secret"].(string); !webhook.ValidSecret(s) || s == secret {
		t.Errorf("rotated: %v", rotated)
	}
	e.want(e.do(http.MethodPost, "/api/v1/data-sources/"+uuid.NewString()+"/webhook-secret", admin, map[string]any{}), http.StatusNotFound, "no such source")
}
