package e2e_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A data owner's receiver, written from docs/webhooks.md alone (nothing
// of the service's code): it verifies each job's signature, timestamp and
// id, accepts it (202) or refuses it (400), and for an accepted job posts
// the signed result to the job's callback URL, as section 8 outlines.

// docsReceiver is the data owner's system.
type docsReceiver struct {
	t       *testing.T
	secret  string // whsec_...
	refuse  bool   // answer every job 400
	records int64  // how many records it "erases"
	client  *http.Client
	mu      sync.Mutex
	seen    map[string]bool
	results []docsCallback
	srv     *httptest.Server
}

// docsCallback is a result the receiver posted, and the service's answer.
type docsCallback struct {
	requestID string
	status    int
	answer    string
}

// sign is section 4: base64 of HMAC-SHA256 over id.timestamp.body, keyed
// by the base64-decoded secret without its prefix, as "v1,...".
func (r *docsReceiver) sign(id, ts string, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.secret, "whsec_"))
	if err != nil {
		r.t.Errorf("the secret %q is not whsec_ and base64: %v", r.secret, err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verified checks a job as section 4 says: a matching v1 signature, a
// timestamp within 5 minutes, an id not seen.
func (r *docsReceiver) verified(h http.Header, body []byte) bool {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	want := r.sign(id, ts, body)
	match := false
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		match = match || hmac.Equal([]byte(s), []byte(want))
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if !match || err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	return !r.seen[id]
}

func newDocsReceiver(t *testing.T, service *httptest.Server, publicHost string) *docsReceiver {
	r := &docsReceiver{t: t, seen: map[string]bool{}}
	// The service calls itself publicHost (public_url); this machine's
	// resolver knows it as the test's server.
	dialer := &net.Dialer{}
	r.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, _ := net.SplitHostPort(addr); host == publicHost {
				addr = service.Listener.Addr().String()
			}
			return dialer.DialContext(ctx, network, addr)
		}}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.job))
	t.Cleanup(r.srv.Close)
	return r
}

// job is the webhook_url's handler.
func (r *docsReceiver) job(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.verified(req.Header, body) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.seen[req.Header.Get("webhook-id")] = true
	var job struct {
		Type        string `json:"type"`
		RequestID   string `json:"request_id"`
		RequestType string `json:"request_type"`
		Subject     struct {
			Email string `json:"email"`
		} `json:"subject"`
		CallbackURL string    `json:"callback_url"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &job); err != nil || job.Type != "dsar.job" || job.Subject.Email == "" || job.ExpiresAt.IsZero() {
		r.t.Errorf("a job not as documented: %v: %s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.refuse {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	go r.done(job.RequestID, job.RequestType, job.Subject.Email, job.CallbackURL)
}

// done does the job (an export of the subject's account, or its erasure)
// and posts its signed result.
func (r *docsReceiver) done(requestID, requestType, email, callbackURL string) {
	result := map[string]any{"status": "done", "outcome": "erased", "record_count": r.records,
		"message": fmt.Sprintf("%d customer rows erased", r.records)}
	if requestType == "info" {
		result["outcome"], result["message"] = "data_provided", "the account"
		result["files"] = []map[string]string{{"name": "account.json",
			"content_base64": base64.StdEncoding.EncodeToString(accountExport(email))}}
	}
	body, _ := json.Marshal(result)
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id, ts := "msg_"+hex.EncodeToString(b), strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, callbackURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", r.sign(id, ts, body))
	res, err := r.client.Do(req)
	if err != nil {
		r.t.Errorf("posting the result: %v", err)
		return
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	r.mu.Lock()
	r.results = append(r.results, docsCallback{requestID: requestID, status: res.StatusCode, answer: string(answer)})
	r.mu.Unlock()
}

// webhookSource creates a webhook data source of the crew's source owner
// pointing at the receiver, and gives the receiver its secret.
func (e *env) webhookSource(c crew, r *docsReceiver, name string) string {
	e.t.Helper()
	var me struct {
		User struct{ ID string } `json:"user"`
	}
	e.want(e.get("/api/v1/sessions/current", c.sam), http.StatusOK, "who the source owner is").json(e.t, &me)
	var ds struct {
		ID            string `json:"id"`
		Mode          string `json:"mode"`
		WebhookURL    string `json:"webhook_url"`
		WebhookSecret string `json:"webhook_secret"`
	}
	e.want(e.postJSON("/api/v1/data-sources", c.owner, map[string]any{"name": name, "owner_ids": []string{me.User.ID},
		"mode": "webhook", "webhook_url": r.srv.URL + "/dsar-jobs", "time_limit": "1h"}), http.StatusCreated, "webhook source").json(e.t, &ds)
	if ds.Mode != "webhook" || ds.WebhookURL != r.srv.URL+"/dsar-jobs" || !strings.HasPrefix(ds.WebhookSecret, "whsec_") {
		e.t.Fatalf("the webhook source: %+v", ds)
	}
	var again map[string]any
	e.want(e.get("/api/v1/data-sources/"+ds.ID, c.owner), http.StatusOK, "the source again").json(e.t, &again)
	if _, shown := again["webhook_secret"]; shown {
		e.t.Errorf("the secret is shown again: %v", again)
	}
	r.secret = ds.WebhookSecret
	return ds.ID
}

// deletionAssigned takes a deletion request of p through verification and
// identity to the assignment of source, and returns its id.
func (e *env) deletionAssigned(c crew, p person, source string) string {
	e.t.Helper()
	id := e.submit(validForm(p, e.captcha(), photo(e.t)).with("request_type", "deletion"))
	tok := e.mailToken(p.email, "confirm your email")
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": tok}), http.StatusOK, "verify")
	path := "/api/v1/requests/" + id
	e.act(path+"/identity-verification", c.owner, map[string]any{"verified": true, "note": "matches"})
	e.act(path+"/assignments", c.owner, map[string]any{"data_source_ids": []string{source}})
	return id
}

// TestWebhookSourceCompletesADeletion: a deletion request assigned to a
// webhook source is done by the owner's receiver, built from the docs:
// the task completes by itself with the receiver's outcome and count,
// and the request is ready to close. A receiver that refuses the job (400)
// leaves its task needing attention, saying why.
func TestWebhookSourceCompletesADeletion(t *testing.T) {
	e := start(t, nil)
	c := e.crew()
	r := newDocsReceiver(t, e.srv, "dsar.test")
	r.records = 3
	source := e.webhookSource(c, r, "Shop")
	id := e.deletionAssigned(c, person{"Grace", "Hopper", "grace@example.com", "erase my account"}, source)
	e.eventually("the webhook task completes", func() bool { return e.task(c.owner, id).Status == "completed" })
	got := e.task(c.owner, id)
	if got.Outcome != "erased" || got.RecordCount == nil || *got.RecordCount != 3 || got.Mode != "webhook" {
		t.Errorf("the completed task: %+v", got)
	}
	r.mu.Lock()
	results := append([]docsCallback(nil), r.results...)
	r.mu.Unlock()
	if len(results) != 1 || results[0].status != http.StatusOK || results[0].requestID != id {
		t.Errorf("the receiver's callbacks: %+v", results)
	}
	var d struct {
		Status string `json:"status"`
	}
	e.want(e.get("/api/v1/requests/"+id, c.owner), http.StatusOK, "detail").json(t, &d)
	if d.Status != "ready_to_close" {
		t.Errorf("the request is %s, want ready_to_close", d.Status)
	}

	// Another source's receiver refuses its jobs.
	refusing := newDocsReceiver(t, e.srv, "dsar.test")
	refusing.refuse = true
	other := e.webhookSource(c, refusing, "Newsletter")
	id2 := e.deletionAssigned(c, person{"Alan", "Turing", "alan@example.com", "erase me"}, other)
	e.eventually("the refused job's task needs attention", func() bool {
		a := e.task(c.owner, id2).Automation
		return a != nil && a.State == "needs_attention"
	})
	if a := e.task(c.owner, id2); a.Status == "completed" || !strings.Contains(a.Automation.Error, "HTTP 400") {
		t.Errorf("the refused job's task: %+v, %+v", a, a.Automation)
	}
}

// accountExport is what the receiver exports for the subject email.
func accountExport(email string) []byte {
	return []byte(`{"email": "` + email + `", "orders": 2}`)
}

// TestWebhookSourceAnswersAnAccessRequest: an access request's webhook
// task is completed by the receiver's export, which is the task's file
// and goes into the access package, byte for byte.
func TestWebhookSourceAnswersAnAccessRequest(t *testing.T) {
	e := start(t, nil)
	c := e.crew()
	r := newDocsReceiver(t, e.srv, "dsar.test")
	r.records = 1
	source := e.webhookSource(c, r, "Shop")
	p := person{"Ada", "Lovelace", "ada@example.com", "what do you hold about me?"}
	id := e.submit(validForm(p, e.captcha(), photo(e.t)))
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": e.mailToken(p.email, "confirm your email")}),
		http.StatusOK, "verify")
	path := "/api/v1/requests/" + id
	e.act(path+"/identity-verification", c.owner, map[string]any{"verified": true, "note": "matches"})
	e.act(path+"/assignments", c.owner, map[string]any{"data_source_ids": []string{source}})
	e.eventually("the webhook task completes", func() bool { return e.task(c.owner, id).Status == "completed" })
	if got := e.task(c.owner, id); got.Outcome != "data_provided" || got.RecordCount == nil || *got.RecordCount != 1 {
		t.Errorf("the completed task: %+v", got)
	}
	var pkg struct {
		Status string
		Files  []struct{ Name, URL string }
	}
	e.eventually("the package is built", func() bool {
		if a := e.get(path+"/package", c.owner); a.status == http.StatusOK {
			a.json(t, &pkg)
		}
		return pkg.Status == "ready"
	})
	if len(pkg.Files) != 1 || pkg.Files[0].Name != "account.json" {
		t.Fatalf("the package: %+v", pkg)
	}
	got := e.want(e.get(pkg.Files[0].URL, c.owner), http.StatusOK, "the exported file")
	if !bytes.Equal(got.body, accountExport(p.email)) {
		t.Errorf("the package holds %q", got.body)
	}
}
