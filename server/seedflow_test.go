package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// portalSession opens a portal account for the requester of request id
// (whose address is email) and returns its Bearer token.
func (e *staffEnv) portalSession(id, email string) string {
	e.t.Helper()
	raw, err := e.db.CreateToken(e.ctx, store.TokenEmailVerification, id, e.keys.BlindIndex(email), time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	pw := "a long enough password"
	e.want(e.do("POST", "/api/v1/portal/accounts", "", map[string]string{"token": raw, "password": pw}), http.StatusCreated, "portal account")
	return e.want(e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": email, "password": pw}),
		http.StatusCreated, "portal login").JSON(e.t)["token"].(string)
}

// TestRequesterWithdraws: the requester withdraws an open request from the
// portal API; it closes as withdrawn, is erased, the requester gets a
// confirmation, staff are alerted, and a second withdrawal is 409.
// Another requester cannot withdraw it (404).
func TestRequesterWithdraws(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	owner, admin := e.user(dsar.RoleOrgOwner)
	email := "grace@example.org"
	id := e.request(newRequest{Email: email})
	e.verifyEmail(id)
	other := e.request(newRequest{Email: "eve@example.org"})
	e.verifyEmail(other)
	grace := e.portalSession(id, email)
	eve := e.portalSession(other, "eve@example.org")

	e.want(e.do("POST", "/api/v1/portal/requests/"+id+"/withdrawal", eve, map[string]any{}), http.StatusNotFound, "someone else's")
	e.want(e.do("POST", "/api/v1/portal/requests/"+id+"/withdrawal", grace, map[string]any{"reason": strings.Repeat("x", 2001)}),
		http.StatusUnprocessableEntity, "a reason too long")
	got := e.want(e.do("POST", "/api/v1/portal/requests/"+id+"/withdrawal", grace, map[string]any{"reason": "resolved by phone"}),
		http.StatusOK, "withdraw").JSON(t)
	if got["status"] != string(dsar.StatusWithdrawn) {
		t.Fatalf("answer %v", got)
	}
	e.eventually("the request is erased", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.ScrubbedAt != nil
	})
	if _, err := e.db.RequestPII(e.ctx, e.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Fatalf("the PII is still readable: %v", err)
	}
	e.want(e.do("POST", "/api/v1/portal/requests/"+id+"/withdrawal", grace, nil), http.StatusConflict, "withdraw again")
	if ms := e.mailsTo(email); len(ms) == 0 || !strings.Contains(ms[0].Subject, "withdrawn") {
		t.Errorf("the newest mail to the requester is not the withdrawal's: %+v", ms)
	}
	alerts, err := e.db.PendingAlerts(e.ctx, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	var told bool
	for _, a := range alerts {
		told = told || (a.Kind == store.AlertWithdrawn && a.RequestID != nil && *a.RequestID == id)
	}
	if !told {
		t.Errorf("the org owner was not told: %+v", alerts)
	}
	// The trail says who withdrew it.
	trail := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", admin, nil), http.StatusOK, "audit")
	if !strings.Contains(string(trail.Body), `"request.withdrawn"`) {
		t.Errorf("no withdrawal in the trail: %s", trail.Body)
	}
	// The portal page shows it withdrawn, the form offers nothing more.
	e.want(e.do("POST", "/api/v1/portal/requests/"+other+"/withdrawal", eve, nil), http.StatusOK, "eve withdraws hers")
}

// TestTaskDeclinedAndReassigned: a source owner declines a task with a
// reason; the request cannot complete; the handler gives the task to
// another person, who sees it, completes it with an outcome, and the
// request is ready to close.
func TestTaskDeclinedAndReassigned(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	olivia, oliviaTok := e.user(dsar.RoleSourceOwner)
	oscar, oscarTok := e.user(dsar.RoleSourceOwner)
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{olivia.ID})
	if err != nil {
		t.Fatal(err)
	}
	id := e.request(newRequest{Document: pngDocument})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", manager, map[string]any{"data_source_ids": []string{crm.ID}}), http.StatusOK, "assign")

	task := "/api/v1/requests/" + id + "/tasks/" + crm.ID
	e.want(e.do("POST", task+"/decline", oscarTok, map[string]any{"reason": "not mine"}), http.StatusNotFound, "oscar owns nothing here")
	e.want(e.do("POST", task+"/decline", oliviaTok, map[string]any{"reason": " "}), http.StatusUnprocessableEntity, "no reason")
	e.want(e.do("POST", task+"/decline", oliviaTok, map[string]any{"reason": "these customers are in the billing system"}), http.StatusOK, "decline")
	d := e.wantStatus(manager, id, "in_progress")
	if tk := d["tasks"].([]any)[0].(map[string]any); tk["status"] != "declined" || tk["decline_reason"] != "these customers are in the billing system" {
		t.Fatalf("declined task: %v", tk)
	}
	e.want(e.do("POST", "/api/v1/requests/"+id+"/completion", manager, nil), http.StatusConflict, "complete with a declined task")

	e.want(e.do("POST", task+"/assignee", manager, map[string]any{"user_id": "nobody"}), http.StatusUnprocessableEntity, "a bad user id")
	e.want(e.do("POST", task+"/assignee", oliviaTok, map[string]any{"user_id": oscar.ID}), http.StatusForbidden, "an owner reassigns")
	e.want(e.do("POST", task+"/assignee", manager, map[string]any{"user_id": oscar.ID}), http.StatusOK, "reassign to oscar")
	// Oscar now sees the task among his, and completes it with an outcome.
	mine := e.want(e.do("GET", "/api/v1/tasks", oscarTok, nil), http.StatusOK, "oscar's tasks").JSON(t)
	if items := mine["items"].([]any); len(items) != 1 {
		t.Fatalf("oscar's tasks: %v", items)
	}
	e.want(e.do("POST", task+"/completion", oscarTok, map[string]any{"outcome": "shredded"}), http.StatusUnprocessableEntity, "an unknown outcome")
	e.want(e.do("POST", task+"/completion", oscarTok, map[string]any{"outcome": "data_provided", "record_count": -1}),
		http.StatusUnprocessableEntity, "a negative count")
	e.want(e.do("POST", task+"/completion", oscarTok, map[string]any{"outcome": "data_provided", "record_count": 42, "note": "export attached"}),
		http.StatusOK, "complete")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/closing-mail", manager, nil), http.StatusConflict, "resend a closing mail that never failed")
	d = e.wantStatus(manager, id, "ready_to_close")
	tk := d["tasks"].([]any)[0].(map[string]any)
	if tk["outcome"] != "data_provided" || tk["record_count"] != float64(42) || tk["assignee_id"] != oscar.ID {
		t.Fatalf("completed task: %v", tk)
	}
}

// TestEmailCorrected: a mistyped address is corrected while unverified;
// the new address gets a new link, the old link no longer works, and once
// verified the address cannot be changed.
func TestEmailCorrected(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	typo := "ada@exmaple.org"
	id := e.request(newRequest{Email: typo})
	e.eventually("the first link is sent", func() bool { return len(e.mailsTo(typo)) == 1 })
	oldLink := linkIn(t, e, typo)

	path := "/api/v1/requests/" + id + "/email"
	bad := e.want(e.do("PUT", path, manager, map[string]any{"email": "not an address"}), http.StatusUnprocessableEntity, "bad address").JSON(t)
	if bad["error"].(map[string]any)["fields"].(map[string]any)["email"] == nil {
		t.Fatalf("the 422 does not name email: %v", bad)
	}
	e.want(e.do("PUT", path, manager, map[string]any{"email": "ada@example.org"}), http.StatusOK, "correct")
	e.eventually("a link goes to the corrected address", func() bool { return len(e.mailsTo("ada@example.org")) == 1 })
	if p, err := e.db.RequestPII(e.ctx, e.keys, id); err != nil || p.Email != "ada@example.org" {
		t.Fatalf("the request's address is %q (%v)", p.Email, err)
	}
	e.want(e.do("POST", "/api/v1/email-verifications", "", map[string]string{"token": oldLink}), http.StatusGone, "the old link")
	e.want(e.do("POST", "/api/v1/email-verifications", "", map[string]string{"token": linkIn(t, e, "ada@example.org")}),
		http.StatusOK, "the new link")
	e.eventually("the address is verified", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.Status == dsar.StatusAwaitingIdentity
	})
	e.want(e.do("PUT", path, manager, map[string]any{"email": "ada2@example.org"}), http.StatusConflict, "after verification")
}

// linkIn is the token of the newest verification link mailed to email.
func linkIn(t *testing.T, e *staffEnv, email string) string {
	t.Helper()
	ms, err := e.server.Outbox.List(e.ctx, email, 1)
	if err != nil || len(ms) == 0 {
		t.Fatalf("no mail to %s (%v)", email, err)
	}
	m := verifyLink.FindStringSubmatch(ms[0].Text)
	if m == nil {
		t.Fatalf("no link in %q", ms[0].Text)
	}
	return m[1]
}

// TestEveryRequesterMailIsAudited: the verification link, the portal
// invitation and the notice of a staff message are each in the request's
// audit trail, named in words.
func TestEveryRequesterMailIsAudited(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	id := e.request(newRequest{})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/messages", manager, map[string]any{"body": "Which account?"}), http.StatusCreated, "message")
	want := []string{"Mail sent to the requester: verification link", "Mail sent to the requester: portal invitation",
		"Mail sent to the requester: new message notice"}
	e.eventually("every mail is in the trail", func() bool {
		items := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", manager, nil), http.StatusOK, "audit").JSON(t)["items"].([]any)
		var labels []string
		for _, it := range items {
			labels = append(labels, it.(map[string]any)["label"].(string))
		}
		for _, w := range want {
			if !slices.Contains(labels, w) {
				return false
			}
		}
		return true
	})
}
