package worker_test

import (
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestLegalHoldOnDevServer runs a legal hold on the dev server, and
// records the history for the replay test: placed on an open request,
// which is rejected; its erasure waits until the hold is lifted.
func TestLegalHoldOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	now := time.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(time.Hour)
	id := insertRequest(t, db, keys, store.PII{FirstName: "Ada", Email: "ada@example.net"}, now, deadline)
	in := l.input(id, now, deadline)
	in.Periods.VerificationReminderAfter = time.Hour
	run := l.start(id, in)
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	l.signal(id, workflows.SignalLegalHold, workflows.LegalHoldSet{On: true, Reason: "litigation", By: owner.ID})
	eventually(t, "the hold placed", func() bool { return l.state(id).Held() })
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: false, Note: "does not match", By: owner.ID})
	l.waitStatus(id, dsar.StatusRejected)
	if r, err := db.Request(l.ctx, id, ""); err != nil || r.ScrubbedAt != nil || !r.LegalHoldOn {
		t.Fatalf("a held request closed: scrubbed at %v, held %v (%v)", r.ScrubbedAt, r.LegalHoldOn, err)
	}
	l.signal(id, workflows.SignalLegalHold, workflows.LegalHoldSet{On: false, By: owner.ID})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if r, err := db.Request(l.ctx, id, ""); err != nil || r.ScrubbedAt == nil || r.LegalHoldOn || final.Held() {
		t.Fatalf("after the lift: scrubbed at %v, held %v (%v)", r.ScrubbedAt, r.LegalHoldOn, err)
	}
	l.export(id, "dsar_baseline_legal_hold.json")
}
