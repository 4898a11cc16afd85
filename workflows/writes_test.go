package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// oneWriteRequest runs a request through its life with ids on the staff's
// actions, a signal the state refuses (no id: nothing else to write) and
// an extension, on the new path or, with old, on the path before
// versionOneWrite.
func oneWriteRequest(t *testing.T, old bool) *harness {
	t.Helper()
	h := newHarness(t)
	if old {
		h.before(versionOneWrite)
	}
	act := func(id string, d time.Duration) Action { return Action{ID: id, At: start.Add(d)} }
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: act("verify", time.Hour)})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Action: act("decide", 2*time.Hour), Verified: true, By: staff})
	h.at(150*time.Minute, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff}) // refused: no task done
	h.at(3*time.Hour, SignalSourcesAssigned, Assignment{Action: act("assign", 3*time.Hour), DataSourceIDs: []string{crm}, By: staff})
	h.at(4*time.Hour, SignalDeadlineExtended, Extension{Action: act("extend", 4*time.Hour), Days: 3, Reason: "volume", By: staff})
	h.at(day, SignalTaskCompleted, TaskCompletion{Action: act("done", day), DataSourceID: crm, By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Action: act("close", 2*day), Outcome: OutcomeCompleted, By: staff})
	if st := h.run(); st.Status != dsar.StatusCompleted {
		t.Fatalf("status %s", st.Status)
	}
	return h
}

// writeOf is the write (h.writes) that carried action id's outcome.
func (h *harness) writeOf(id string) string {
	if i := h.writeIndex(id); i >= 0 {
		return h.writes[i]
	}
	return ""
}

// writeIndex is the index in h.writes of the write that carried action
// id's outcome (-1: none).
func (h *harness) writeIndex(id string) int {
	n := -1
	for i, p := range h.projections {
		if slices.ContainsFunc(p.Actions, func(o store.ActionOutcome) bool { return o.ActionID == id }) {
			n = i
		}
	}
	for i, w := range h.writes {
		if strings.HasPrefix(w, "project") {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// TestActionAuditTravelsWithItsOutcome: on versionOneWrite a staff action's
// audit row goes in the projection write that records its outcome (one
// write for the action, not two); a run before it writes the row first,
// on its own. Either way the trail holds the same events, each key once,
// in the order of their keys.
func TestActionAuditTravelsWithItsOutcome(t *testing.T) {
	newPath, oldPath := oneWriteRequest(t, false), oneWriteRequest(t, true)

	if w := newPath.writeOf("decide"); w != "project "+dsar.AuditIdentityVerified {
		t.Errorf("the decision's outcome went in %q; want the projection carrying its audit row", w)
	}
	if slices.Contains(newPath.writes, "audit "+dsar.AuditIdentityVerified) {
		t.Error("the decision's audit row was written on its own too")
	}
	if w := oldPath.writeOf("decide"); w != "project" {
		t.Errorf("before one-write the decision's outcome went in %q; want a projection alone", w)
	}
	if i := slices.Index(oldPath.writes, "audit "+dsar.AuditIdentityVerified); i < 0 || oldPath.writes[i+1] != "project" {
		t.Errorf("before one-write: writes %v; want the audit row, then the projection", oldPath.writes)
	}
	for _, id := range []string{"verify", "assign", "extend", "done", "close"} {
		if w := newPath.writeOf(id); !strings.HasPrefix(w, "project ") {
			t.Errorf("action %s: its outcome went in %q, without its audit row", id, w)
		}
	}

	standalone := func(h *harness) (n int) {
		for _, w := range h.writes {
			if strings.HasPrefix(w, "audit ") {
				n++
			}
		}
		return n
	}
	t.Logf("audit rows written on their own: %d before one-write, %d on it (of %d)",
		standalone(oldPath), standalone(newPath), len(newPath.audits))
	if standalone(newPath) >= standalone(oldPath) {
		t.Errorf("one-write wrote %d audit rows on their own, the old path %d", standalone(newPath), standalone(oldPath))
	}
	// The refused closure (no id) goes with the projection of its refusal.
	if !slices.Contains(newPath.writes, "project "+dsar.AuditSignalIgnored) {
		t.Errorf("the refused closure's audit row: writes %v", newPath.writes)
	}

	equal(t, "audit trail", newPath.auditActions(), oldPath.auditActions())
	equal(t, "mail records", newPath.mailAudits(), oldPath.mailAudits())
	for _, h := range []*harness{newPath, oldPath} {
		var keys []int
		for _, a := range h.audits {
			n, err := strconv.Atoi(a.Key[strings.LastIndex(a.Key, "#")+1:])
			if err != nil {
				t.Fatalf("audit key %q", a.Key)
			}
			keys = append(keys, n)
		}
		want := make([]int, len(keys))
		for i := range want {
			want[i] = i + 1
		}
		equal(t, fmt.Sprintf("audit keys (%d)", len(keys)), keys, want)
	}
}

// actionWrites runs script, in which staff take an action with id "act",
// on the new path or, with old, on the path before versionOneWrite, and
// checks the action was applied.
func actionWrites(t *testing.T, old bool, script func(h *harness)) *harness {
	t.Helper()
	h := newHarness(t)
	if old {
		h.before(versionOneWrite)
	}
	script(h)
	h.run()
	if o, ok := h.answer("act"); !ok || !o.Applied {
		t.Fatalf("the action answered %+v (%v)", o, ok)
	}
	return h
}

// TestActionWithMoreStepsAuditsInItsOutcomesWrite: on versionOneWrite an
// action that runs another step before its outcome's write (a switch of an
// automated task to manual and a dry run's refused erasure cancel the
// child; an assignment discards the access package built before) is
// audited in the write that records its outcome: the answer never comes
// before the audit row (the switch's row used to follow it) and the
// action takes one write (the others' rows went in one of their own, just
// before it). Runs before one-write keep their order of writes.
func TestActionWithMoreStepsAuditsInItsOutcomesWrite(t *testing.T) {
	act := Action{ID: "act", At: start.Add(2 * day)}
	answered := func(signal string, payload any) func(*harness) {
		return func(h *harness) {
			withConnector(h)
			h.assignAutomated(true) // the dry run waits for approval
			h.at(2*day, signal, payload)
			h.rejectAt(5 * day)
		}
	}
	for _, c := range []struct {
		name, audit string
		script      func(*harness)
		oldAfter    bool // before one-write the row is written on its own after the outcome's write, else before it
	}{
		{"switch to manual", dsar.AuditAutomationManual, answered(SignalAutomationManual,
			ManualSwitch{Action: act, DataSourceID: crm, Reason: "schema changes", By: staff}), true},
		{"refused dry run", dsar.AuditAutomationApproval, answered(SignalAutomationApproval,
			DryRunDecision{Action: act, DataSourceID: crm, Approved: false, Note: "too many rows", By: staff}), false},
		{"assignment discarding the package", dsar.AuditSourcesAssigned, func(h *harness) {
			withPackages(h)
			h.verifyAndAssign(crm)
			h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskDataProvided})
			h.at(2*day, SignalSourcesAssigned, Assignment{Action: act, DataSourceIDs: []string{mail}, By: staff})
			h.rejectAt(3 * day)
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			newPath, oldPath := actionWrites(t, false, c.script), actionWrites(t, true, c.script)
			if w := newPath.writeOf("act"); w != "project "+c.audit {
				t.Errorf("the outcome went in %q; want the projection carrying its audit row (writes %v)", w, newPath.writes)
			}
			if slices.Contains(newPath.writes, "audit "+c.audit) {
				t.Error("the audit row was written on its own too")
			}
			i, next := oldPath.writeIndex("act"), -1
			if c.oldAfter {
				next = 1
			}
			if i < 0 || i+next < 0 || i+next >= len(oldPath.writes) || oldPath.writes[i] != "project" || oldPath.writes[i+next] != "audit "+c.audit {
				t.Errorf("before one-write: writes %v, the outcome's at %d; want the audit row on its own right %s it",
					oldPath.writes, i, map[bool]string{true: "after", false: "before"}[c.oldAfter])
			}
			equal(t, "audit trail", newPath.auditActions(), oldPath.auditActions())
		})
	}
}

// TestHeldAuditsAreWrittenBeforeTheRunEnds: an audit event no projection
// write follows (the refusal of an action without an id, after the
// request closed) is written before the workflow ends, not dropped.
func TestHeldAuditsAreWrittenBeforeTheRunEnds(t *testing.T) {
	h := newHarness(t)
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: false, By: staff})
	h.at(2*time.Hour, SignalDeadlineExtended, Extension{Days: 3, Reason: "volume", By: staff}) // after the decision, refused
	h.run()
	if got := h.writes[len(h.writes)-1]; got != "audit "+dsar.AuditSignalIgnored {
		t.Errorf("writes %v: the refusal's audit row is not written last, on its own", h.writes)
	}
}

// abandonedWhileProjecting runs a request whose projection writes fail for
// good from the email's verification on (the request row is gone), until
// an operator abandons the workflow; the verification's audit row is the
// one its projection write carried (versionOneWrite). failAudit, when set,
// also fails every audit write that way. versions, when set, picks the
// run's versions. It returns the harness, run to its end.
func abandonedWhileProjecting(t *testing.T, failAudit bool, versions func(*harness)) *harness {
	t.Helper()
	h := newHarness(t)
	if versions != nil {
		versions(h)
	}
	gone := temporal.NewNonRetryableApplicationError("no request to project", activities.ErrTypeNotFound, nil)
	h.fail = func(what string) error {
		switch {
		case h.env.Now().Sub(start) < time.Hour:
			return nil
		case what == "Project", failAudit && strings.HasPrefix(what, "Audit "):
			return gone
		}
		return nil
	}
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(3*time.Hour, SignalOperator, OperatorAction{Action: OperatorAbandon, Reason: "row gone", By: "reconciliation"})
	h.env.ExecuteWorkflow(WorkflowName, h.in)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("the abandoned workflow did not end")
	}
	return h
}

// TestAbandonKeepsTheAuditsItsWriteCarried: an operator abandons the
// workflow while the projection write that carries an action's audit row
// fails for good. The row is written on its own before the workflow ends,
// as it was before one-write: the trail keeps what happened. So it is on a
// run started before the baseline that recorded abandon-keeps-audits when
// it needed it ("chain"); one that recorded it was not drops the row, as
// its history did.
func TestAbandonKeepsTheAuditsItsWriteCarried(t *testing.T) {
	for _, c := range []struct {
		name     string
		versions func(*harness)
		kept     bool
	}{
		{"baseline", nil, true},
		{"chain", func(h *harness) {
			h.env.OnGetVersion(versionBaseline, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		}, true},
		{"before keep-audits", func(h *harness) { h.before(versionKeepAudits) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := abandonedWhileProjecting(t, false, c.versions)
			if err := h.env.GetWorkflowError(); err != nil {
				t.Fatalf("the abandoned workflow ended with %v", err)
			}
			if kept := slices.Contains(h.auditActions(), dsar.AuditEmailVerified); kept != c.kept {
				t.Errorf("the trail %v keeps the verification that the abandoned write carried: %v, want %v (writes %v)",
					h.auditActions(), kept, c.kept, h.writes)
			}
			for i, at := range h.projectedAt {
				if at >= time.Hour {
					t.Errorf("projection %d written at %v, after the row was gone", i, at)
				}
			}
		})
	}
}

// TestAbandonSaysWhichAuditsItLost: when the carried audit row cannot be
// written on its own either, the workflow ends failed, naming the row's
// key and action, rather than ending as if the trail were whole.
func TestAbandonSaysWhichAuditsItLost(t *testing.T) {
	h := abandonedWhileProjecting(t, true, nil)
	err := h.env.GetWorkflowError()
	lost := fmt.Sprintf("#%d %s", len(h.audits)+1, dsar.AuditEmailVerified) // the key after those written, and the action
	if err == nil || !strings.Contains(err.Error(), lost) {
		t.Errorf("the workflow ended with %v; want a failure naming %q", err, lost)
	}
}
