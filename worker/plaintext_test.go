package worker_test

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// TestPlaintextSignalsAreNotApplied: someone who reaches Temporal's frontend
// with a client of their own (no master key, so no codec) signals a request
// waiting for its identity decision: "verified", an operator's "abandon",
// and "verified" again marked readable like a summary. None is applied, and
// the workflow still takes the real decision afterwards.
func TestPlaintextSignalsAreNotApplied(t *testing.T) {
	l := newLifecycle(t)
	owner, err := l.app.DB.CreateUser(l.ctx, store.User{Email: "owner@example.com", Name: "Olga", Role: dsar.RoleOrgOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	id := insertRequest(t, l.app.DB, l.app.Keys, store.PII{FirstName: "Sam", Email: "sam@example.net"}, now, now.Add(time.Hour))
	l.start(id, l.input(id, now, now.Add(time.Hour)))
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)

	raw, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Namespace: l.app.Config.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	wid := workflows.WorkflowID(id)
	if err := raw.SignalWorkflow(l.ctx, wid, "", workflows.SignalIdentityDecided,
		workflows.IdentityDecision{Verified: true, By: owner.ID, Action: workflows.Action{At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := raw.SignalWorkflow(l.ctx, wid, "", workflows.SignalOperator,
		workflows.OperatorAction{Action: workflows.OperatorAbandon, Reason: "forged", By: owner.ID}); err != nil {
		t.Fatal(err)
	}
	// The mark of the words left readable for people (a summary) does not
	// make an unsealed decision pass either.
	marked := &commonpb.Payload{
		Metadata: map[string][]byte{"encoding": []byte("json/plain"), codec.MetadataReadable: []byte(codec.ReadableWords)},
		Data:     []byte(`{"Verified":true,"By":"` + owner.ID + `"}`),
	}
	if err := raw.SignalWorkflow(l.ctx, wid, "", workflows.SignalIdentityDecided, converter.NewRawValue(marked)); err != nil {
		t.Fatal(err)
	}
	// Both signals are in the history; wait until a workflow task after
	// them has completed, so the worker has seen them.
	eventually(t, "a workflow task after the forged signals", func() bool {
		it := l.app.Temporal.GetWorkflowHistory(l.ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		signals, after := 0, false
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			switch ev.EventType {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				signals++
				after = false
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				after = signals >= 4 // email verified, then the three forged ones
			}
		}
		return after
	})
	st := l.state(id)
	if st.Status != dsar.StatusAwaitingIdentity {
		t.Fatalf("after a plaintext signal the status is %s, want %s", st.Status, dsar.StatusAwaitingIdentity)
	}
	if _, err := l.app.DB.RequestIdentityDocument(l.ctx, l.app.Keys, id); err != nil {
		t.Errorf("the identity document after a forged decision: %v", err)
	}

	// The real decision, through the codec, still goes through.
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: true, By: owner.ID})
	l.waitStatus(id, dsar.StatusIdentityVerified)
}
