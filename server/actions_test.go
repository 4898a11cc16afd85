package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// signals counts the signals the request's workflow has received.
func (e *staffEnv) signals(id string) int {
	e.t.Helper()
	n := 0
	for _, ev := range e.history(id) {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			n++
		}
	}
	return n
}

// TestRepeatedActionGetsTheFirstAnswer: an action sent again with its
// Idempotency-Key is answered as the first time and signals nothing; the
// same key from someone else is another action.
func TestRepeatedActionGetsTheFirstAnswer(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	_, admin := e.user(dsar.RoleAdmin)
	id := e.request(newRequest{Document: pngDocument})
	e.verifyEmail(id)
	path := "/api/v1/requests/" + id + "/identity-verification"

	first := e.want(e.doKeyed("POST", path, manager, "verify-1", map[string]any{"verified": true}), http.StatusOK, "verify")
	if a := first.JSON(t); a["status"] != "identity_verified" || a["action_id"] == "" {
		t.Fatalf("answer %v", a)
	}
	signalled := e.signals(id)
	again := e.want(e.doKeyed("POST", path, manager, "verify-1", map[string]any{"verified": true}), http.StatusOK, "verify again")
	if !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("the repeat answered %s, the first %s", again.Body, first.Body)
	}
	if n := e.signals(id); n != signalled {
		t.Fatalf("the repeat signalled the workflow: %d signals, %d before", n, signalled)
	}
	// Someone else's key is their own: this is a new action, which the
	// request no longer allows.
	e.want(e.doKeyed("POST", path, admin, "verify-1", map[string]any{"verified": true}), http.StatusConflict, "another's verify")

	// An extension's repeat answers the deadline it set.
	ext := "/api/v1/requests/" + id + "/extension"
	e.want(e.doKeyed("POST", ext, manager, "ext-1", map[string]any{"days": 5, "reason": "many systems"}), http.StatusOK, "extend")
	d := e.wantStatus(manager, id, "identity_verified")
	repeat := e.want(e.doKeyed("POST", ext, manager, "ext-1", map[string]any{"days": 5, "reason": "many systems"}), http.StatusOK, "extend again").JSON(t)
	if !mustTime(t, repeat["deadline"]).Equal(mustTime(t, d["deadline"])) {
		t.Fatalf("the repeated extension answers deadline %v, the request's is %v", repeat["deadline"], d["deadline"])
	}
	e.want(e.doKeyed("POST", path, manager, strings.Repeat("k", maxIdemKeyLen+1), map[string]any{"verified": true}),
		http.StatusUnprocessableEntity, "a key too long")
	// A key already used for another action of the request names itself.
	other := e.want(e.doKeyed("POST", ext, manager, "verify-1", map[string]any{"days": 1, "reason": "again"}),
		http.StatusUnprocessableEntity, "a key of another action").JSON(t)
	if f := other["error"].(map[string]any)["fields"].(map[string]any); f["idempotency_key"] == nil {
		t.Fatalf("the 422 does not name the key: %v", other)
	}
}

// TestActionThatLosesARaceIs409: the projection allows the action, but the
// workflow has moved on (here: the projection is made to lag behind); the
// workflow refuses it and the API answers 409 with the current status.
func TestActionThatLosesARaceIs409(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	id := e.request(newRequest{Document: pngDocument})
	e.verifyEmail(id)
	path := "/api/v1/requests/" + id + "/identity-verification"
	e.want(e.do("POST", path, manager, map[string]any{"verified": true}), http.StatusOK, "verify")
	// The workflow may still write its projection after answering (the
	// verification's mail, the tasks); a write after the lag is made undoes
	// it and the API then refuses without asking the workflow. Try again
	// until the action reaches the workflow.
	var lost answer
	var key string
	signalled := 0
	for try := 1; ; try++ {
		if try > 20 {
			t.Fatal("the action was never signalled: the projection did not allow it")
		}
		if _, err := e.db.Exec(`UPDATE requests SET status = 'awaiting_identity' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		signalled = e.signals(id)
		key = fmt.Sprintf("late-%d", try)
		lost = e.want(e.doKeyed("POST", path, manager, key, map[string]any{"verified": false}), http.StatusConflict, "verify again")
		if e.signals(id) == signalled+1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if msg := lost.JSON(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "identity_verified") {
		t.Fatalf("the 409 does not name the current status: %s", msg)
	}
	// The refusal is the answer to a repeat too, and nothing is signalled.
	again := e.want(e.doKeyed("POST", path, manager, key, map[string]any{"verified": false}), http.StatusConflict, "repeat")
	if !bytes.Equal(again.Body, lost.Body) || e.signals(id) != signalled+1 {
		t.Fatalf("the repeat answered %s (the first %s) and the workflow has %d signals, %d after the first",
			again.Body, lost.Body, e.signals(id), signalled+1)
	}
}

// TestActionWithoutWorkerIsKept: with no worker polling, an action is
// answered 202 with the current status once its budget runs out, and is
// applied once a worker starts; its key then gets the applied answer.
func TestActionWithoutWorkerIsKept(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	e.server.actionBudget = 500 * time.Millisecond
	_, manager := e.user(dsar.RoleManager)
	id := e.request(newRequest{})
	path := "/api/v1/requests/" + id + "/rejection"
	body := map[string]any{"reasons": []string{"duplicate"}}

	kept := e.want(e.doKeyed("POST", path, manager, "reject-1", body), http.StatusAccepted, "reject without a worker").JSON(t)
	if kept["status"] != string(dsar.StatusPendingEmailVerification) || kept["action_id"] == "" {
		t.Fatalf("answer %v", kept)
	}
	e.startWorker()
	e.eventually("the rejection applies once a worker runs", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.Status == dsar.StatusRejected
	})
	applied := e.want(e.doKeyed("POST", path, manager, "reject-1", body), http.StatusOK, "reject again").JSON(t)
	if applied["status"] != string(dsar.StatusRejected) || applied["action_id"] != kept["action_id"] {
		t.Fatalf("the repeat answered %v, the first %v", applied, kept)
	}
}

func TestRefusalsBecomeTheirErrors(t *testing.T) {
	for _, c := range []struct {
		o        store.ActionOutcome
		code     string
		contains string
	}{
		{store.ActionOutcome{Code: dsar.ECONFLICT, Reason: "cannot decide identity: the request is rejected", Status: dsar.StatusRejected}, dsar.ECONFLICT, "the request is rejected"},
		{store.ActionOutcome{Code: dsar.ECONFLICT, Reason: "the task is already completed", Status: dsar.StatusReadyToClose}, dsar.ECONFLICT, "(the request is ready_to_close)"},
		{store.ActionOutcome{Code: dsar.ENOTFOUND, Reason: "no task for data source x on this request", Status: dsar.StatusInProgress}, dsar.ENOTFOUND, "no task"},
		{store.ActionOutcome{Status: dsar.StatusCompleted}, dsar.ECONFLICT, "the request is completed"},
		{store.ActionOutcome{Code: "no such code", Status: dsar.StatusCompleted}, dsar.EINTERNAL, ""},
	} {
		_, err := answerOf(c.o, nil)
		if dsar.ErrorCode(err) != c.code || !strings.Contains(dsar.ErrorMessage(err), c.contains) {
			t.Errorf("%+v: got %v (%s), want %s containing %q", c.o, err, dsar.ErrorCode(err), c.code, c.contains)
		}
	}
	deadline := time.Now()
	a, err := answerOf(store.ActionOutcome{ActionID: "a", Applied: true, Status: dsar.StatusInProgress, Deadline: &deadline}, nil)
	if err != nil || a.Pending || a.Status != dsar.StatusInProgress || a.ID != "a" {
		t.Errorf("applied: %+v %v", a, err)
	}
}
