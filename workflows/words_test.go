package workflows

import (
	"strings"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/internal/gosrc"
)

// TestEveryTaskStatusHasALabel: each task status is said in words.
func TestEveryTaskStatusHasALabel(t *testing.T) {
	for _, s := range TaskStatuses {
		if l := TaskStatusLabel(s); l == s || l == "" {
			t.Errorf("task status %q has no label", s)
		}
	}
}

// TestEveryTimelineEventHasALabel reads words.go: every Event* constant
// has a label of words.
func TestEveryTimelineEventHasALabel(t *testing.T) {
	consts, err := gosrc.StringConsts("words.go", "Event")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consts {
		if l := EventLabel(c.Value); l == c.Value || l == "" {
			t.Errorf("%s (%q) has no label", c.Name, c.Value)
		}
	}
	if len(consts) == 0 || len(consts) != len(eventLabels) {
		t.Errorf("%d events, %d labels", len(consts), len(eventLabels))
	}
}

// TestEveryAutomationStateHasALabel reads sourcecontract.go: every
// Automation* state is listed and said in words.
func TestEveryAutomationStateHasALabel(t *testing.T) {
	consts, err := gosrc.StringConsts("sourcecontract.go", "Automation")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consts {
		if l := AutomationStateLabel(c.Value); l == c.Value || l == "" {
			t.Errorf("%s (%q) has no label", c.Name, c.Value)
		}
	}
	if len(consts) == 0 || len(consts) != len(AutomationStates) {
		t.Errorf("%d automation states, %d listed", len(consts), len(AutomationStates))
	}
}

// TestEveryRefusalOnAClosedRequestSaysWhat: an action on a closed request
// is refused with what the person tried to do, never "cannot :".
func TestEveryRefusalOnAClosedRequestSaysWhat(t *testing.T) {
	st := State{Status: dsar.StatusCompleted}
	for _, sig := range []string{SignalEmailVerified, SignalIdentityDecided, SignalSourcesAssigned, SignalTaskCompleted,
		SignalDeadlineExtended, SignalRequestClosed, SignalWithdrawn, SignalTaskDeclined, SignalTaskReassigned,
		SignalEmailCorrected, SignalPackageApproved, SignalOperator, SignalHandlerSet, SignalClockPaused, SignalClockResumed,
		SignalAutomationRetry, SignalAutomationManual, SignalAutomationApproval} {
		err := st.Allows(sig, nil)
		if dsar.ErrorCode(err) != dsar.ECONFLICT {
			t.Errorf("%s on a completed request: %v, want a conflict", sig, err)
			continue
		}
		if msg := err.Error(); closedActionWords[sig] == "" || !strings.Contains(msg, "cannot "+closedActionWords[sig]+":") {
			t.Errorf("%s on a completed request refused with %q: no words for what was tried", sig, msg)
		}
	}
}
