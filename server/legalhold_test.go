package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// closedAndEnded makes a rejected request with a message from staff
// after the close, and waits until its workflow has ended (its PII
// erased, nothing left to wait for). It returns the id.
func (e *staffEnv) closedAndEnded(manager string) string {
	e.t.Helper()
	id := e.request(newRequest{Country: "DE"})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", manager, map[string]any{"reasons": []string{"excessive"}}),
		http.StatusOK, "reject")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/messages", manager, map[string]string{"body": "Why we said no."}),
		http.StatusCreated, "a message after the close")
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	var final workflows.State
	if err := e.temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &final); err != nil || final.Status != dsar.StatusRejected {
		e.t.Fatalf("the workflow of %s: %s, %v", id, final.Status, err)
	}
	return id
}

// sweepLater runs the retention sweep as if it ran three years from now,
// with the configured periods: everything of a closed request not held is
// past its period by then (and every session too).
func (e *staffEnv) sweepLater() store.SweepCounts {
	e.t.Helper()
	r := e.cfg.Retention
	c, err := e.db.SweepRetention(e.ctx, time.Now().AddDate(3, 0, 0), store.RetentionPeriods{Records: r.Records, Messages: r.Messages,
		Packages: r.Packages, Sessions: r.Sessions, Tokens: r.Tokens, IdempotencyKeys: r.IdempotencyKeys, BlindIndex: r.BlindIndex}, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestLegalHoldAfterTheWorkflowEnded: a regulator's inquiry arrives after
// a request was closed, erased and its workflow ended. An admin places a
// legal hold on it (200, as on a running one; without a reason 422 naming
// reason; twice 409); the request page shows it, its timeline and the
// audit trail record it (by whom, the reason by its hash). The retention
// sweep then keeps that request's compliance record, messages and audit
// events, and deletes another closed request's record and messages; once
// the hold is lifted, the next sweep deletes them too.
func TestLegalHoldAfterTheWorkflowEnded(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	admin, adminTok := e.user(dsar.RoleAdmin)
	mgr, manager := e.user(dsar.RoleManager)
	held, other := e.closedAndEnded(manager), e.closedAndEnded(manager)
	hold := "/api/v1/requests/" + held + "/legal-hold"
	const why = "Regulator's inquiry 2026/17"

	if f := fieldsOf(t, e.want(e.do("POST", hold, adminTok, map[string]any{"on": true}), http.StatusUnprocessableEntity, "no reason")); f["reason"] == nil {
		t.Error("a hold without a reason does not name reason")
	}
	got := e.want(e.do("POST", hold, adminTok, map[string]any{"on": true, "reason": why}), http.StatusOK, "hold after the end").JSON(t)
	if h, _ := got["legal_hold"].(map[string]any); got["status"] != "rejected" || h["on"] != true || h["reason"] != why || h["since"] == nil {
		t.Fatalf("answer: %v", got)
	}
	e.want(e.do("POST", hold, adminTok, map[string]any{"on": true, "reason": "again"}), http.StatusConflict, "hold twice")

	detail := e.want(e.do("GET", "/api/v1/requests/"+held, manager, nil), http.StatusOK, "detail").JSON(t)
	if h, _ := detail["legal_hold"].(map[string]any); h["on"] != true || h["reason"] != why || detail["pii_erased"] != true {
		t.Errorf("detail: legal_hold %v, erased %v", detail["legal_hold"], detail["pii_erased"])
	}
	timeline, _ := detail["timeline"].([]any)
	if last, _ := timeline[len(timeline)-1].(map[string]any); last["event"] != workflows.EventLegalHoldSet || last["actor"] != admin.ID {
		t.Errorf("the timeline ends with %v, want the hold placed by the admin", last)
	}
	sum := sha256.Sum256([]byte(why))
	if ev := e.auditEvent(held, dsar.AuditLegalHoldSet); ev == nil || ev["actor_id"] != admin.ID ||
		ev["detail"].(map[string]any)["reason_sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("audit event of the hold: %v", ev)
	}
	before := len(e.want(e.do("GET", "/api/v1/requests/"+held+"/audit", manager, nil), http.StatusOK, "audit").JSON(t)["items"].([]any))

	kept := func(id string) (record bool, messages int) {
		_, err := e.db.RecordOf(e.ctx, id)
		return err == nil, e.count(`SELECT count(*) FROM messages WHERE request_id = $1`, id)
	}
	if rec, msgs := kept(other); !rec || msgs != 1 {
		t.Fatalf("before the sweep, the other request has record %v and %d messages", rec, msgs)
	}
	if c := e.sweepLater(); c.Records != 1 || c.Messages != 1 {
		t.Errorf("the sweep deleted %+v, want the other request's record and message", c)
	}
	adminTok, manager = e.session(admin), e.session(mgr) // the sweep, three years on, took the sessions
	if rec, msgs := kept(held); !rec || msgs != 1 {
		t.Errorf("the held request after the sweep: record %v, %d messages", rec, msgs)
	}
	if rec, msgs := kept(other); rec || msgs != 0 {
		t.Errorf("the request not held after the sweep: record %v, %d messages", rec, msgs)
	}
	if n := len(e.want(e.do("GET", "/api/v1/requests/"+held+"/audit", manager, nil), http.StatusOK, "audit").JSON(t)["items"].([]any)); n != before {
		t.Errorf("the held request's audit events: %d after the sweep, %d before", n, before)
	}

	lifted := e.want(e.do("POST", hold, adminTok, map[string]any{"on": false}), http.StatusOK, "lift").JSON(t)
	if h, _ := lifted["legal_hold"].(map[string]any); h["on"] != false {
		t.Errorf("lift answered %v", lifted)
	}
	if ev := e.auditEvent(held, dsar.AuditLegalHoldLifted); ev == nil || ev["actor_id"] != admin.ID {
		t.Errorf("audit event of the lift: %v", ev)
	}
	if c := e.sweepLater(); c.Records != 1 || c.Messages != 1 {
		t.Errorf("the sweep after the lift deleted %+v", c)
	}
	if rec, msgs := kept(held); rec || msgs != 0 {
		t.Errorf("after the lift and a sweep: record %v, %d messages", rec, msgs)
	}
}

// TestLegalHoldRacingTheWorkflowsEnd: the request's workflow takes the
// hold's signal but ends (here: terminated, no worker ever ran it) before
// it answers; the hold is not lost: it is recorded directly, 200.
func TestLegalHoldRacingTheWorkflowsEnd(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	e.server.actionBudget = 2 * time.Second
	_, adminTok := e.user(dsar.RoleAdmin)
	id := e.request(newRequest{})
	reply := make(chan answer, 1)
	go func() {
		reply <- e.do("POST", "/api/v1/requests/"+id+"/legal-hold", adminTok, map[string]any{"on": true, "reason": "litigation"})
	}()
	e.eventually("the hold's signal reaches the workflow", func() bool { return e.signals(id) == 1 })
	if err := e.temporal.TerminateWorkflow(e.ctx, workflows.WorkflowID(id), "", "ended while the API waits"); err != nil {
		t.Fatal(err)
	}
	got := e.want(<-reply, http.StatusOK, "hold").JSON(t)
	if h, _ := got["legal_hold"].(map[string]any); h["on"] != true || h["reason"] != "litigation" {
		t.Fatalf("answer: %v", got)
	}
	if r, err := e.db.Request(e.ctx, id, ""); err != nil || !r.LegalHoldOn {
		t.Errorf("the row after the race: held %v (%v)", r.LegalHoldOn, err)
	}
}

// auditEvent is the request's last audit event of action, as the API
// lists it; nil when there is none.
func (e *staffEnv) auditEvent(id, action string) map[string]any {
	e.t.Helper()
	_, tok := e.user(dsar.RoleManager)
	var last map[string]any
	for _, it := range e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", tok, nil), http.StatusOK, "audit").JSON(e.t)["items"].([]any) {
		if ev := it.(map[string]any); ev["action"] == action {
			last = ev
		}
	}
	return last
}
