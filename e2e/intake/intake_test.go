package intake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	altcha "github.com/altcha-org/altcha-lib-go"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/server"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/temporalconn"
	"github.com/opendsar/dsar/workflows"
)

func TestSubmissionCreatesOneSealedRequestAndItsWorkflow(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	doc := pngWithText(t, "camera-serial-4242")
	f := validForm(e.captcha(), doc)
	before := time.Now().UTC().Add(-time.Second)
	a := e.submit(f, "")
	if a.status != http.StatusAccepted {
		t.Fatalf("submit = %d, want 202: %s", a.status, a.body)
	}
	var got struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	a.json(t, &got)
	if got.ID == "" || got.Status != "pending_email_verification" {
		t.Fatalf("answer %s", a.body)
	}
	if c := e.counts(); c.requests != 1 || c.accepted != 1 || c.keys != 1 || c.documents != 1 || c.redemptions != 1 {
		t.Fatalf("rows after one submission: %+v", c)
	}

	// A raw look at the row shows no plaintext PII.
	var row string
	if err := e.app.DB.Get(&row, `SELECT r::text || coalesce(encode(r.pii, 'escape'), '') FROM requests r WHERE id = $1`, got.ID); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"Ada", "Lovelace-Byron", "ada.lovelace@example.org", "unicorn-ledger"} {
		if strings.Contains(row, secret) {
			t.Errorf("the requests row holds %q in plaintext: %s", secret, row)
		}
	}
	var docRow string
	if err := e.app.DB.Get(&docRow, `SELECT encode(sealed, 'escape') FROM identity_documents WHERE request_id = $1`, got.ID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(docRow, "camera-serial") || strings.Contains(docRow, "PNG") {
		t.Error("the identity document is stored in plaintext")
	}

	// Staff see what was typed, decrypted; the document lost its metadata.
	ctx := context.Background()
	pii, err := e.app.DB.RequestPII(ctx, e.app.Keys, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pii.FirstName != "Ada" || pii.LastName != "Lovelace-Byron" || pii.Email != "ada.lovelace@example.org" || !strings.Contains(pii.Description, "unicorn-ledger") {
		t.Errorf("decrypted PII %+v", pii)
	}
	stored, err := e.app.DB.RequestIdentityDocument(ctx, e.app.Keys, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.ContentType != "image/png" || !bytes.HasPrefix(stored.Data, []byte("\x89PNG")) {
		t.Errorf("stored document: %s, % x", stored.ContentType, stored.Data[:8])
	}
	if bytes.Contains(stored.Data, []byte("camera-serial-4242")) {
		t.Error("the stored image kept its metadata")
	}

	// The row carries the GDPR deadline (Germany: one calendar month) and
	// the email's blind index.
	var r struct {
		Status    string    `db:"status"`
		Submitted time.Time `db:"submitted_at"`
		Deadline  time.Time `db:"deadline"`
		Rule      string    `db:"deadline_rule"`
		MaxExt    string    `db:"max_extension"`
		EmailHash []byte    `db:"email_hash"`
	}
	if err := e.app.DB.Get(&r, `SELECT status, submitted_at, deadline, deadline_rule, max_extension, email_hash FROM requests WHERE id = $1`, got.ID); err != nil {
		t.Fatal(err)
	}
	if r.Status != "pending_email_verification" || r.Rule != "gdpr" || r.MaxExt != "P2M" || r.Submitted.Before(before) {
		t.Errorf("row %+v", r)
	}
	if want := (dsar.Period{Months: 1}).AddTo(r.Submitted.UTC()); !r.Deadline.Equal(want) {
		t.Errorf("deadline %s, want %s", r.Deadline, want)
	}
	if !bytes.Equal(r.EmailHash, e.app.Keys.BlindIndex("ada.lovelace@example.org")) {
		t.Error("the email's blind index is not stored")
	}

	// Exactly one workflow, with the request's id.
	desc, err := e.app.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(got.ID), "")
	if err != nil {
		t.Fatalf("the request's workflow: %v", err)
	}
	if st := desc.WorkflowExecutionInfo.Status; st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("workflow status %s", st)
	}
	if n := countWorkflows(t, e); n != 1 {
		t.Errorf("%d workflows, want 1", n)
	}
}

// countWorkflows counts the workflows on this test's task queue.
func countWorkflows(t *testing.T, e *env) int {
	t.Helper()
	q := "TaskQueue = '" + e.app.Config.Temporal.TaskQueue + "'"
	// Visibility is eventually consistent: wait for it to settle.
	var n int64
	for range 50 {
		res, err := e.app.Temporal.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		n = res.Count
		if n > 0 {
			time.Sleep(300 * time.Millisecond)
			res, err = e.app.Temporal.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Query: q})
			if err != nil {
				t.Fatal(err)
			}
			return int(res.Count)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return int(n)
}

func TestJPEGMetadataIsDropped(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	f := validForm(e.captcha(), jpegWithExif(t, "GPS-52.5200N-13.4050E"))
	f.filename, f.fileType = "id.jpg", "image/jpeg"
	_, id := e.accepted(f, "")
	stored, err := e.app.DB.RequestIdentityDocument(context.Background(), e.app.Keys, id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.ContentType != "image/jpeg" || bytes.Contains(stored.Data, []byte("GPS-52.5200N")) || bytes.Contains(stored.Data, []byte("Exif")) {
		t.Errorf("stored JPEG (%s) kept its EXIF metadata", stored.ContentType)
	}
}

func TestPDFIsAccepted(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{"jurisdictions": dsar.DefaultRules})
	f := validForm(e.captcha(), []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"))
	f.filename, f.fileType = "id.pdf", "application/pdf"
	f = f.with("country", "US").with("region", "US-CA")
	a := e.submit(f, "")
	if a.status != http.StatusAccepted {
		t.Fatalf("submit = %d: %s", a.status, a.body)
	}
	var rule, maxExt string
	var submitted, deadline time.Time
	if err := e.app.DB.QueryRow(`SELECT deadline_rule, max_extension, submitted_at, deadline FROM requests`).Scan(&rule, &maxExt, &submitted, &deadline); err != nil {
		t.Fatal(err)
	}
	if rule != "us_ccpa" || maxExt != "P45D" || !deadline.Equal(submitted.AddDate(0, 0, 45)) {
		t.Errorf("California: rule %s, max extension %s, deadline %s for %s", rule, maxExt, deadline, submitted)
	}
}

func TestCountryWithoutRuleGetsTheDefaultDeadline(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{"workflow.default_deadline": "240h", "workflow.default_extension": "36h"})
	a := e.submit(validForm(e.captcha(), pngWithText(t, "x")).with("country", "JP"), "")
	if a.status != http.StatusAccepted {
		t.Fatalf("submit = %d: %s", a.status, a.body)
	}
	var rule, maxExt string
	var submitted, deadline time.Time
	if err := e.app.DB.QueryRow(`SELECT deadline_rule, max_extension, submitted_at, deadline FROM requests`).Scan(&rule, &maxExt, &submitted, &deadline); err != nil {
		t.Fatal(err)
	}
	if rule != "default" || maxExt != "P2D" || deadline.Sub(submitted) != 240*time.Hour {
		t.Errorf("Japan: rule %s, max extension %s, deadline %s after submission", rule, maxExt, deadline.Sub(submitted))
	}
}

func TestInvalidSubmissionsStoreNothing(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{"intake.max_upload_bytes": 64 << 10})
	doc := pngWithText(t, "x")
	// One right captcha for every case: it is checked before the document
	// is read (a wrong one is refused first), and none of these uses it up.
	good := validForm(e.captcha(), doc)
	long := strings.Repeat("a", 101)
	cases := []struct {
		name   string
		form   form
		status int
		fields []string
	}{
		{"no first name", good.with("first_name", ""), 422, []string{"first_name"}},
		{"first name too long", good.with("first_name", long), 422, []string{"first_name"}},
		{"first name on two lines", good.with("first_name", "Ada\nBob"), 422, []string{"first_name"}},
		{"no last name", good.with("last_name", "  "), 422, []string{"last_name"}},
		{"last name too long", good.with("last_name", long), 422, []string{"last_name"}},
		{"no email", good.with("email", ""), 422, []string{"email"}},
		{"email without at", good.with("email", "ada.example.org"), 422, []string{"email"}},
		{"email with a name", good.with("email", "Ada <ada@example.org>"), 422, []string{"email"}},
		{"email without a dotted domain", good.with("email", "ada@localhost"), 422, []string{"email"}},
		{"email too long", good.with("email", strings.Repeat("a", 250)+"@example.org"), 422, []string{"email"}},
		{"no country", good.with("country", ""), 422, []string{"country"}},
		{"unknown country", good.with("country", "XX"), 422, []string{"country"}},
		{"alpha-3 country", good.with("country", "DEU"), 422, []string{"country"}},
		{"region of another country", good.with("country", "DE").with("region", "US-CA"), 422, []string{"region"}},
		{"unknown US state", good.with("country", "US").with("region", "US-ZZ"), 422, []string{"region"}},
		{"malformed region", good.with("country", "FR").with("region", "FR-;DROP"), 422, []string{"region"}},
		{"unknown requestor type", good.with("requestor_type", "robot"), 422, []string{"requestor_type"}},
		{"no requestor type", good.with("requestor_type", ""), 422, []string{"requestor_type"}},
		{"unknown request type", good.with("request_type", "delete_everything"), 422, []string{"request_type"}},
		{"no description", good.with("description", ""), 422, []string{"description"}},
		{"description too long", good.with("description", strings.Repeat("x", 5001)), 422, []string{"description"}},
		{"no captcha", good.with("captcha", ""), 422, []string{"captcha"}},
		{"garbage captcha", good.with("captcha", "bm90IGEgc29sdXRpb24="), 422, []string{"captcha"}},
		{"no document", func() form { f := good; f.noFile = true; return f }(), 422, []string{"identity_document"}},
		{"empty document", func() form { f := good; f.file = nil; return f }(), 422, []string{"identity_document"}},
		{"several bad fields", good.with("first_name", "").with("email", "nope").with("country", "ZZ"), 422, []string{"first_name", "email", "country"}},
		{"text file named jpg", func() form {
			f := good
			f.file, f.filename, f.fileType = []byte("just some text, not a photo"), "id.jpg", "image/jpeg"
			return f
		}(), 415, []string{"identity_document"}},
		{"GIF image", func() form {
			f := good
			f.file, f.filename, f.fileType = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "id.gif", "image/gif"
			return f
		}(), 415, []string{"identity_document"}},
		{"HTML disguised as PDF", func() form {
			f := good
			f.file, f.filename, f.fileType = []byte("<html><script>alert(1)</script></html>"), "id.pdf", "application/pdf"
			return f
		}(), 415, []string{"identity_document"}},
		{"broken PNG", func() form {
			f := good
			f.file = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)
			return f
		}(), 422, []string{"identity_document"}},
		{"document over the limit", func() form {
			f := good
			f.file = append(append([]byte{}, doc...), bytes.Repeat([]byte{0}, 64<<10)...)
			return f
		}(), 413, []string{"identity_document"}},
		{"body far over the limit", func() form {
			f := good
			f.file = bytes.Repeat([]byte{'%'}, 2<<20)
			return f
		}(), 413, []string{"identity_document"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counts()
			a := e.submit(tc.form, "")
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			fields := a.errFields(t)
			for _, f := range tc.fields {
				if fields[f] == "" {
					t.Errorf("the answer does not name %s: %s", f, a.body)
				}
			}
			if len(fields) != len(tc.fields) {
				t.Errorf("the answer names %v, want exactly %v", fields, tc.fields)
			}
			if after := e.counts(); after != before {
				t.Errorf("rows changed: %+v → %+v", before, after)
			}
		})
	}
	if c := e.counts(); c != (counts{}) {
		t.Errorf("rows after only invalid submissions: %+v", c)
	}
	// Not multipart at all.
	a := e.postJSON("/api/v1/requests", map[string]string{"first_name": "Ada"})
	if a.status != http.StatusUnsupportedMediaType {
		t.Errorf("a JSON body = %d, want 415", a.status)
	}
}

func TestCaptchaIsSingleUseAndExpires(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	doc := pngWithText(t, "x")
	sol := e.captcha()
	if a := e.submit(validForm(sol, doc), ""); a.status != http.StatusAccepted {
		t.Fatalf("first use = %d: %s", a.status, a.body)
	}
	before := e.counts()
	a := e.submit(validForm(sol, doc).with("description", "another request, same captcha"), "")
	if a.status != http.StatusUnprocessableEntity || a.errFields(t)["captcha"] == "" {
		t.Fatalf("replayed captcha = %d, want 422 naming captcha: %s", a.status, a.body)
	}
	if after := e.counts(); after != before {
		t.Errorf("a replayed captcha stored rows: %+v → %+v", before, after)
	}

	// A challenge signed with our key whose expiry has passed.
	key := hex.EncodeToString(e.app.Keys.Derive("dsar altcha hmac v1"))
	past := time.Now().Add(-time.Minute)
	ch, err := altcha.CreateChallenge(altcha.ChallengeOptions{HMACKey: key, MaxNumber: 1000, Expires: &past})
	if err != nil {
		t.Fatal(err)
	}
	expired := solve(t, ch.Algorithm, ch.Challenge, ch.Salt, ch.Signature, int(ch.MaxNumber))
	a = e.submit(validForm(expired, doc), "")
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.errFields(t)["captcha"], "expired") {
		t.Fatalf("expired captcha = %d: %s", a.status, a.body)
	}

	// A challenge without an expiry, or signed with another key.
	for name, opts := range map[string]altcha.ChallengeOptions{
		"no expiry":   {HMACKey: key, MaxNumber: 1000},
		"foreign key": {HMACKey: "not-our-key", MaxNumber: 1000, Expires: func() *time.Time { t := time.Now().Add(time.Minute); return &t }()},
	} {
		ch, err := altcha.CreateChallenge(opts)
		if err != nil {
			t.Fatal(err)
		}
		a := e.submit(validForm(solve(t, ch.Algorithm, ch.Challenge, ch.Salt, ch.Signature, int(ch.MaxNumber)), doc), "")
		if a.status != http.StatusUnprocessableEntity || a.errFields(t)["captcha"] == "" {
			t.Errorf("%s: %d: %s", name, a.status, a.body)
		}
	}
	// A wrong number for a real challenge.
	var c struct {
		Algorithm, Challenge, Salt, Signature string
	}
	e.getJSON("/api/v1/captcha", http.StatusOK, &c)
	raw, _ := json.Marshal(altcha.Payload{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: 999999, Salt: c.Salt, Signature: c.Signature})
	a = e.submit(validForm(base64.StdEncoding.EncodeToString(raw), doc), "")
	if a.status != http.StatusUnprocessableEntity || a.errFields(t)["captcha"] == "" {
		t.Errorf("wrong solution: %d: %s", a.status, a.body)
	}
	if after := e.counts(); after != before {
		t.Errorf("refused captchas stored rows: %+v → %+v", before, after)
	}
}

func TestCaptchaChallengeShape(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	var ch map[string]any
	e.getJSON("/api/v1/captcha", http.StatusOK, &ch)
	for _, k := range []string{"algorithm", "challenge", "salt", "signature", "maxnumber"} {
		if _, ok := ch[k]; !ok {
			t.Errorf("challenge lacks %s: %v", k, ch)
		}
	}
	if ch["maxnumber"] != float64(2000) || !strings.Contains(ch["salt"].(string), "expires=") {
		t.Errorf("challenge %v", ch)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	f := validForm(e.captcha(), pngWithText(t, "x"))
	first := e.submit(f, "retry-7f3c")
	if first.status != http.StatusAccepted {
		t.Fatalf("first = %d: %s", first.status, first.body)
	}
	before := e.counts()
	again := e.submit(f, "retry-7f3c")
	if again.status != http.StatusAccepted || !bytes.Equal(again.body, first.body) {
		t.Errorf("same key, same body = %d %s, want the first answer %s", again.status, again.body, first.body)
	}
	if after := e.counts(); after != before || after.requests != 1 {
		t.Errorf("a replay stored rows: %+v → %+v", before, after)
	}
	other := e.submit(f.with("description", "something else"), "retry-7f3c")
	if other.status != http.StatusUnprocessableEntity || other.errFields(t)["idempotency_key"] == "" {
		t.Errorf("same key, other body = %d %s, want 422 naming idempotency_key", other.status, other.body)
	}
	if after := e.counts(); after != before {
		t.Errorf("a reused key stored rows: %+v → %+v", before, after)
	}
	if n := countWorkflows(t, e); n != 1 {
		t.Errorf("%d workflows, want 1", n)
	}
	// A refused request frees its key: fixing the body and retrying works.
	bad := e.submit(validForm(e.captcha(), pngWithText(t, "x")).with("email", "nope"), "retry-8a01")
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad = %d", bad.status)
	}
	if c := e.counts(); c.idempotency != 1 {
		t.Errorf("a refused request kept its idempotency key: %+v", c)
	}
	if a := e.submit(validForm(e.captcha(), pngWithText(t, "x")), "retry-8a01"); a.status != http.StatusAccepted {
		t.Errorf("fixed retry = %d: %s", a.status, a.body)
	}
	if a := e.submit(f, strings.Repeat("k", 256)); a.status != http.StatusUnprocessableEntity || a.errFields(t)["idempotency_key"] == "" {
		t.Errorf("an overlong key = %d: %s", a.status, a.body)
	}
}

// TestIdempotencyKeyOfADeadProcess covers a process that died after writing
// the request and starting its workflow but before storing its answer (and
// before accepting the row): the client's retry, once the claim is old
// enough, gets the same answer, and nothing is created twice.
func TestIdempotencyKeyOfADeadProcess(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	f := validForm(e.captcha(), pngWithText(t, "x"))
	first, id := e.accepted(f, "crash-4b1d")
	e.abandonClaim()
	e.exec(`UPDATE requests SET accepted = false WHERE id = $1`, id)
	// A fresh claim is still being processed: 409, not a second request.
	e.exec(`UPDATE idempotency_keys SET created_at = now()`)
	if busy := e.submit(f, "crash-4b1d"); busy.status != http.StatusConflict {
		t.Errorf("a retry while the claim is fresh = %d, want 409", busy.status)
	}
	e.exec(`UPDATE idempotency_keys SET created_at = now() - interval '10 minutes'`)
	retry := e.submit(f, "crash-4b1d")
	if retry.status != http.StatusAccepted || !bytes.Equal(retry.body, first.body) {
		t.Fatalf("retry after the claim was abandoned = %d %s, want the first answer %s", retry.status, retry.body, first.body)
	}
	if c := e.counts(); c.requests != 1 || c.accepted != 1 {
		t.Errorf("after the retry: %+v, want one accepted request", c)
	}
	if n := countWorkflows(t, e); n != 1 {
		t.Errorf("%d workflows, want 1", n)
	}
	if again := e.submit(f, "crash-4b1d"); again.status != http.StatusAccepted || !bytes.Equal(again.body, first.body) {
		t.Errorf("the answer was not stored for replay: %d %s", again.status, again.body)
	}
}

// A process wrote the row (and redeemed the captcha) and died before the
// workflow started: the retry that takes over the key makes the request
// again, with the very same captcha, instead of refusing it as used.
func TestIdempotencyKeyOfAProcessThatDiedBeforeTheWorkflowStarted(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	f := validForm(e.captcha(), pngWithText(t, "x"))
	first, id := e.accepted(f, "crash-before-start")
	// Undo what happened after the row was written: the workflow, the
	// accept and the stored answer. The workflow is let finish its first
	// steps (its projection accepts the row) before it is deleted: the
	// last is the projection that notes the verification mail, and a
	// write still in flight in the worker would land after the deletion.
	e.waitForVerificationMail("ada.lovelace@example.org", 30*time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var written bool
		if err := e.app.DB.Get(&written, `SELECT timeline @> $2 FROM requests WHERE id = $1`, id,
			fmt.Sprintf(`[{"event": %q}]`, workflows.EventVerificationSent)); err != nil {
			t.Fatal(err)
		}
		if written {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workflow's first steps were not written")
		}
	}
	ctx := context.Background()
	if _, err := e.app.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace:         e.app.Config.Temporal.Namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflows.WorkflowID(id)},
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := e.app.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workflow was not deleted: %v", err)
		}
	}
	e.exec(`UPDATE requests SET accepted = false WHERE id = $1`, id)
	e.abandonClaim()
	retry := e.submit(f, "crash-before-start")
	if retry.status != http.StatusAccepted || !bytes.Equal(retry.body, first.body) {
		t.Fatalf("retry = %d %s, want the first answer %s", retry.status, retry.body, first.body)
	}
	if c := e.counts(); c.requests != 1 || c.accepted != 1 {
		t.Errorf("after the retry: %+v, want one accepted request", c)
	}
	if _, err := e.app.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), ""); err != nil {
		t.Errorf("the request's workflow after the retry: %v", err)
	}
	// The captcha is still single-use: another key with it is refused.
	if other := e.submit(f, "another-key"); other.status != http.StatusUnprocessableEntity || !strings.Contains(string(other.body), "captcha") {
		t.Errorf("the same captcha under another key = %d %s, want 422 naming captcha", other.status, other.body)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{"intake.rate_per_minute": 2})
	f := validForm("x", pngWithText(t, "x")).with("email", "bad")
	for i := range 2 {
		if a := e.submit(f, ""); a.status != http.StatusUnprocessableEntity {
			t.Fatalf("submission %d = %d, want 422", i+1, a.status)
		}
	}
	a := e.submit(f, "")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("third submission in a minute = %d (Retry-After %q), want 429", a.status, a.header.Get("Retry-After"))
	}
	// The form and the challenge stay reachable.
	if a := e.get("/"); a.status != http.StatusOK {
		t.Errorf("GET / = %d", a.status)
	}
}

// TestTemporalUnreachableLeavesNoOrphan: with Temporal out of reach the
// submission is answered 503 and nothing of it is visible, but its row
// stays (unaccepted): the error cannot prove that the start did not happen,
// and a workflow without its row would be an orphan. The client's retry
// settles it.
func TestTemporalUnreachableLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	// A closed port on this machine: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := *e.app.Config
	cfg.Temporal.Address = addr
	down, err := temporalconn.Dial(&cfg, e.app.Keys, e.app.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	s, err := server.New(server.Deps{Config: e.app.Config, DB: e.app.DB, Temporal: down, Keys: e.app.Keys,
		Mailer: e.app.Mailer, Templates: e.app.Templates, Outbox: e.app.Outbox, Log: e.app.Log, Metrics: e.app.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	f := validForm(e.captcha(), pngWithText(t, "x"))
	body, ct := f.body()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/requests", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Idempotency-Key", "while-down")
	a := e.do(req)
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("submit with Temporal down = %d, want 503: %s", a.status, a.body)
	}
	if c := e.counts(); c != (counts{requests: 1, keys: 1, documents: 1, redemptions: 1}) {
		t.Errorf("rows after a start that may have happened: %+v; want its row kept, unaccepted, and the key released", c)
	}
	// Temporal is back: the same request (same captcha, same key) succeeds;
	// it finds the row, sees no workflow, and makes the request again.
	if a := e.submit(f, "while-down"); a.status != http.StatusAccepted {
		t.Errorf("retry once Temporal is back = %d: %s", a.status, a.body)
	}
	if c := e.counts(); c.requests != 1 || c.accepted != 1 {
		t.Errorf("rows after the retry: %+v", c)
	}
}

// accepted submits f with an Idempotency-Key (none if key is empty), wants
// 202, and returns the answer and the request's id.
func (e *env) accepted(f form, key string) (answer, string) {
	e.t.Helper()
	a := e.submit(f, key)
	if a.status != http.StatusAccepted {
		e.t.Fatalf("submit = %d: %s", a.status, a.body)
	}
	var got struct{ ID string }
	a.json(e.t, &got)
	return a, got.ID
}

// abandonClaim leaves every Idempotency-Key claim as a process that died
// before storing its answer would, long enough ago to be taken over.
func (e *env) abandonClaim() {
	e.t.Helper()
	e.exec(`UPDATE idempotency_keys SET status = NULL, body = NULL, created_at = now() - interval '10 minutes'`)
}

// exec runs a statement on the service's database (to stage what a crash
// leaves behind).
func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.app.DB.Exec(q, args...); err != nil {
		e.t.Fatal(err)
	}
}

// submitOne submits a valid request and returns its id.
func (e *env) submitOne(email string) string {
	e.t.Helper()
	_, id := e.accepted(validForm(e.captcha(), pngWithText(e.t, "x")).with("email", email), "")
	return id
}

// verificationToken makes a verification token as the workflow's mail
// activity does.
func (e *env) verificationToken(id, email string, ttl time.Duration) string {
	e.t.Helper()
	tok, err := e.app.DB.CreateToken(context.Background(), store.TokenEmailVerification, id, e.app.Keys.BlindIndex(email), ttl)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// signalled counts the email-verified signals in the request's workflow
// history. A signal that arrives while a worker holds a workflow task is
// written to the history only when that task completes, so it first waits
// (bounded) until no workflow task is pending, then reads until two reads a
// moment apart agree (bounded), and returns that count.
func signalled(t *testing.T, e *env, id string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		d, err := e.app.Temporal.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(id), "")
		if err != nil {
			t.Fatal(err)
		}
		if d.GetPendingWorkflowTask() == nil {
			break
		}
	}
	count := func() int {
		it := e.app.Temporal.GetWorkflowHistory(context.Background(), workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n := 0
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if s := ev.GetWorkflowExecutionSignaledEventAttributes(); s != nil && s.SignalName == workflows.SignalEmailVerified {
				n++
			}
		}
		return n
	}
	last := count()
	for range 20 {
		time.Sleep(150 * time.Millisecond)
		n := count()
		if n == last {
			return n
		}
		last = n
	}
	return last
}

func TestEmailVerificationAPI(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	id := e.submitOne("grace@example.org")
	tok := e.verificationToken(id, "grace@example.org", time.Hour)

	// Opening the link verifies nothing.
	page := e.get("/verify-email?token=" + tok)
	if page.status != http.StatusOK || !strings.Contains(string(page.body), `action="/verify-email"`) || !strings.Contains(string(page.body), tok) {
		t.Fatalf("verification page = %d: %s", page.status, page.body)
	}
	if _, err := e.app.DB.PeekToken(context.Background(), tok, store.TokenEmailVerification); err != nil {
		t.Fatalf("opening the link used the token: %v", err)
	}
	if n := signalled(t, e, id); n != 0 {
		t.Fatalf("opening the link signalled the workflow")
	}

	a := e.postJSON("/api/v1/email-verifications", map[string]string{"token": tok})
	if a.status != http.StatusOK {
		t.Fatalf("verify = %d: %s", a.status, a.body)
	}
	var got struct {
		RequestID string `json:"request_id"`
		Status    string `json:"status"`
	}
	a.json(t, &got)
	if got.RequestID != id || got.Status != "awaiting_identity" {
		t.Errorf("answer %s", a.body)
	}
	if n := signalled(t, e, id); n != 1 {
		t.Errorf("the workflow got %d email-verified signals, want 1", n)
	}
	if a := e.postJSON("/api/v1/email-verifications", map[string]string{"token": tok}); a.status != http.StatusGone {
		t.Errorf("a used token = %d, want 410", a.status)
	}
	if a := e.get("/verify-email?token=" + tok); a.status != http.StatusGone {
		t.Errorf("the page of a used token = %d, want 410", a.status)
	}
	if n := signalled(t, e, id); n != 1 {
		t.Errorf("a used token signalled again (%d signals)", n)
	}

	expired := e.verificationToken(id, "grace@example.org", -time.Minute)
	if a := e.postJSON("/api/v1/email-verifications", map[string]string{"token": expired}); a.status != http.StatusGone {
		t.Errorf("an expired token = %d, want 410", a.status)
	}
	for _, unknown := range []string{"bm90LWEtdG9rZW4", strings.Repeat("A", 43)} {
		if a := e.postJSON("/api/v1/email-verifications", map[string]string{"token": unknown}); a.status != http.StatusNotFound {
			t.Errorf("an unknown token = %d, want 404", a.status)
		}
	}
	if a := e.postJSON("/api/v1/email-verifications", map[string]string{}); a.status != http.StatusUnprocessableEntity || a.errFields(t)["token"] == "" {
		t.Errorf("no token = %d: %s", a.status, a.body)
	}
	if a := e.postJSON("/api/v1/email-verifications", map[string]string{"token": tok, "extra": "x"}); a.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown field = %d, want 422", a.status)
	}
}

func TestEmailVerificationPageInvitesToSetAPassword(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	id := e.submitOne("hopper@example.org")
	tok := e.verificationToken(id, "hopper@example.org", time.Hour)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/verify-email", strings.NewReader("token="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a := e.do(req)
	if a.status != http.StatusOK {
		t.Fatalf("confirm = %d: %s", a.status, a.body)
	}
	body := string(a.body)
	for _, want := range []string{`action="/portal/accounts"`, `name="token" value="` + tok + `"`, `name="password"`, `name="password_confirm"`, "confirmed"} {
		if !strings.Contains(body, want) {
			t.Errorf("the confirmation page lacks %s", want)
		}
	}
	if n := signalled(t, e, id); n != 1 {
		t.Errorf("the workflow got %d signals, want 1", n)
	}
	a = e.do(func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/verify-email", strings.NewReader("token="+tok))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}())
	if a.status != http.StatusGone || !strings.Contains(string(a.body), "already been used") {
		t.Errorf("confirming twice = %d", a.status)
	}
}

func TestVerificationMailFromTheWorkflow(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{"public_url": "http://dsar.test"})
	id := e.submitOne("katherine@example.org")
	tok := e.waitForVerificationMail("katherine@example.org", 20*time.Second)

	// The dev mailbox shows it, with its link and its HTML part sandboxed.
	var box struct {
		Items []struct{ ID, Subject string } `json:"items"`
	}
	e.getJSON("/dev/mailbox.json?to=katherine@example.org", http.StatusOK, &box)
	if len(box.Items) == 0 {
		t.Fatal("the mailbox lists no mail")
	}
	m := box.Items[len(box.Items)-1]
	if a := e.get("/dev/mailbox"); a.status != http.StatusOK || !strings.Contains(string(a.body), "/dev/mailbox/"+m.ID) {
		t.Errorf("GET /dev/mailbox = %d, without the mail", a.status)
	}
	if a := e.get("/dev/mailbox/" + m.ID); a.status != http.StatusOK || !strings.Contains(string(a.body), "/verify-email?token="+tok) {
		t.Errorf("GET /dev/mailbox/{id} = %d, without the verification link", a.status)
	}
	if a := e.get("/dev/mailbox/" + m.ID + "/html"); a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("GET /dev/mailbox/{id}/html = %d, CSP %q", a.status, a.header.Get("Content-Security-Policy"))
	}
	if a := e.get("/dev/mailbox/00000000-0000-0000-0000-000000000000"); a.status != http.StatusNotFound {
		t.Errorf("an unknown mail = %d, want 404", a.status)
	}
	if a := e.get("/verify-email?token=" + tok); a.status != http.StatusOK {
		t.Fatalf("verification page = %d", a.status)
	}
	a := e.postJSON("/api/v1/email-verifications", map[string]string{"token": tok})
	if a.status != http.StatusOK {
		t.Fatalf("verify = %d: %s", a.status, a.body)
	}
	if n := signalled(t, e, id); n != 1 {
		t.Errorf("the workflow got %d signals, want 1", n)
	}
}
