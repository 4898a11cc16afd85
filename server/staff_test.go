package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/temporalconn"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

// staffEnv is the whole service for the staff API tests: a fresh database,
// the Temporal dev server with a worker on a task queue of the test's own,
// and the server over HTTP.
type staffEnv struct {
	t        *testing.T
	ctx      context.Context
	db       *store.DB
	cfg      *config.Config
	keys     *crypto.Keyring
	temporal client.Client
	acts     *activities.Activities
	server   *Server
	http     *httptest.Server
}

func newStaffEnv(t *testing.T, extra map[string]any) *staffEnv {
	t.Helper()
	e := newStaffEnvWithoutWorker(t, extra)
	e.startWorker()
	return e
}

// startWorker starts a worker on the test's task queue.
func (e *staffEnv) startWorker() {
	e.t.Helper()
	w := worker.New(e.temporal, e.cfg.Temporal.TaskQueue, e.acts)
	if err := w.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(w.Stop)
}

// newStaffEnvWithoutWorker is newStaffEnv before its worker starts: no
// workflow task runs until startWorker.
func newStaffEnvWithoutWorker(t *testing.T, extra map[string]any) *staffEnv {
	t.Helper()
	log := testenv.Log(t)
	db := testenv.DB(t)
	cfg := testenv.Config(t, "", testenv.TemporalAddress(t), extra)
	keys, err := crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	tc, err := temporalconn.Dial(cfg, keys, log, m.Temporal())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	outbox := mail.NewOutbox(db, cfg.Email.From)
	acts := &activities.Activities{DB: db, Mailer: outbox, Templates: tmpl, Keys: keys, Config: cfg, Temporal: tc, Log: log}
	s, err := New(Deps{Config: cfg, DB: db, Temporal: tc, Keys: keys, Mailer: outbox, Templates: tmpl, Outbox: outbox,
		Log: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	// Sessions are cached as in production (auth.session_cache).
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := db.CacheStaffSessions(ctx, cfg.Auth.SessionCache, log); err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(s.Handler())
	t.Cleanup(h.Close)
	return &staffEnv{t: t, ctx: context.Background(), db: db, cfg: cfg, keys: keys, temporal: tc, acts: acts, server: s, http: h}
}

// user creates a staff user of role with a session and returns both.
func (e *staffEnv) user(role dsar.Role) (store.User, string) {
	e.t.Helper()
	u, err := e.db.CreateUser(e.ctx, store.User{Email: string(role) + "-" + uuid.NewString()[:8] + "@example.com",
		Name: "A " + string(role), Role: role, PasswordHash: crypto.HashPassword("correct horse battery")})
	if err != nil {
		e.t.Fatal(err)
	}
	return u, e.session(u)
}

// session starts a new staff session for u.
func (e *staffEnv) session(u store.User) string {
	e.t.Helper()
	tok, err := e.db.CreateSession(e.ctx, store.SessionStaff, u.ID, time.Hour, 8*time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// answer is an HTTP answer, its body read.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (a answer) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.Status, err, a.Body)
	}
	return m
}

// do calls the server with a Bearer token (if any) and a JSON body (if
// not nil; a string is sent as it is). It does not follow redirects.
func (e *staffEnv) do(method, path, token string, body any) answer {
	e.t.Helper()
	return e.doKeyed(method, path, token, "", body)
}

// doKeyed is do with an Idempotency-Key header (unless key is "").
func (e *staffEnv) doKeyed(method, path, token, key string, body any) answer {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				e.t.Fatal(err)
			}
			r = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.http.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	noRedirect := *e.http.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// want fails the test unless a has status.
func (e *staffEnv) want(a answer, status int, what string) answer {
	e.t.Helper()
	if a.Status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, a.Status, status, a.Body)
	}
	return a
}

// newRequest is a request as the tests make it: through the store, like
// intake, with its workflow started on the test's worker.
type newRequest struct {
	Type      dsar.RequestType
	Requestor dsar.RequestorType
	Country   string
	Region    string // a subdivision whose law covers the requester (its rule goes into the workflow)
	Submitted time.Time
	Document  []byte
	Email     string
	// Clocks carries the matched jurisdiction rule with its holidays into
	// the workflow, as intake does (the deadline then counts as the rule's
	// track says), whether or not a region is given.
	Clocks bool
}

var pngDocument = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)

// request stores and accepts a request and starts its workflow, which
// mails the verification link and waits. It returns the id.
func (e *staffEnv) request(r newRequest) string {
	e.t.Helper()
	if r.Type == "" {
		r.Type = dsar.RequestInfo
	}
	if r.Requestor == "" {
		r.Requestor = dsar.RequestorCustomer
	}
	if r.Country == "" {
		r.Country = "DE"
	}
	if r.Submitted.IsZero() {
		r.Submitted = time.Now().UTC().Truncate(time.Second)
	}
	if r.Email == "" {
		r.Email = "ada-" + uuid.NewString()[:8] + "@example.org"
	}
	id := uuid.NewString()
	rule, ok := e.cfg.Jurisdictions.Match(r.Country, r.Region)
	deadline := rule.Period.AddTo(r.Submitted)
	in := workflows.Input{Rule: ruleOf(r.Region, rule, ok)}
	if r.Clocks && ok {
		matched, days, err := e.server.clockRule(r.Country, r.Region, r.Submitted)
		if err != nil {
			e.t.Fatal(err)
		}
		in.Rule, in.Holidays = matched, days.Holidays
		deadline = rule.Due(r.Type, r.Submitted, days)
	}
	if !ok { // as intake does
		rule = dsar.Rule{ID: "default", Name: "Default deadline", Extension: dsar.PeriodFromDuration(e.cfg.Workflow.DefaultExtension)}
		deadline = r.Submitted.Add(e.cfg.Workflow.DefaultDeadline)
	}
	sealed, err := store.NewSealedRequest(e.keys, id, store.PII{FirstName: "Ada", LastName: "Lovelace", Email: r.Email,
		Description: "Which data do you hold about me?"}, r.Document)
	if err != nil {
		e.t.Fatal(err)
	}
	nr := store.NewRequest{ID: id, RequestType: r.Type, RequestorType: r.Requestor, Country: r.Country, Region: r.Region,
		SubmittedAt: r.Submitted, Deadline: deadline, DeadlineRule: rule.ID,
		DeadlineRuleName: rule.Name, MaxExtension: rule.Extension, Sealed: sealed}
	if r.Document != nil {
		nr.DocumentType, nr.DocumentSize = "image/png", len(r.Document)
	}
	if in.Rule != nil {
		nr.Appeal = in.Rule.Appeal // stored with the request, as intake does
	}
	if err := e.db.CreateRequest(e.ctx, nr); err != nil {
		e.t.Fatal(err)
	}
	_, err = e.temporal.ExecuteWorkflow(e.ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(id), TaskQueue: e.cfg.Temporal.TaskQueue},
		workflows.WorkflowName, workflows.Input{RequestID: id, RequestType: r.Type, RequestorType: r.Requestor,
			Country: r.Country, Region: r.Region, SubmittedAt: r.Submitted, Deadline: nr.Deadline, DeadlineRule: rule.ID, MaxExtension: rule.Extension,
			Periods: workflows.PeriodsOf(e.cfg), Rule: in.Rule, Holidays: in.Holidays})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.AcceptRequest(e.ctx, id); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = e.temporal.TerminateWorkflow(context.Background(), workflows.WorkflowID(id), "", "test over")
		_ = e.temporal.TerminateWorkflow(context.Background(), workflows.AppealWorkflowID(id), "", "test over")
	})
	return id
}

// ruleOf is the rule a request of a region carries into its workflow (as
// intake does); requests made without a region carry none, as before.
func ruleOf(region string, rule dsar.Rule, ok bool) *dsar.Rule {
	if region == "" || !ok {
		return nil
	}
	return &rule
}

// verifyEmail signals the request's workflow that the requester clicked
// the link, as intake does, and waits until the queue shows it.
func (e *staffEnv) verifyEmail(id string) {
	e.t.Helper()
	if err := e.temporal.SignalWorkflow(e.ctx, workflows.WorkflowID(id), "", workflows.SignalEmailVerified,
		workflows.EmailVerified{Action: workflows.Action{At: time.Now().UTC(), RequestID: id}}); err != nil {
		e.t.Fatal(err)
	}
	e.eventually("the queue shows the email verified", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.Status == dsar.StatusAwaitingIdentity
	})
}

// eventually polls ok every 20ms for up to 10s.
func (e *staffEnv) eventually(what string, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
