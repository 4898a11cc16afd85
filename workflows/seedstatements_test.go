package workflows

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// TestOneAssignmentAlertADayPerOwner is the seed's "the managers of these
// sources will receive an email alerting them to their task (1 alert per
// day)": two assignments on one day of sources owned by the same person
// give that person one task-assigned alert; an owner of another source
// assigned that day gets theirs; an assignment the next day alerts again.
//
// The store keeps one alert per request, key and recipient (activities
// TestAlertsAndDigest: "recording the same event again"); the owners here
// receive what that dedupe leaves of the alerts the workflow records.
func TestOneAssignmentAlertADayPerOwner(t *testing.T) {
	const (
		erp  = "9a3e1c00-0000-4000-8000-00000000c0a3"
		wiki = "9a3e1c00-0000-4000-8000-00000000c0a4"
	)
	owners := map[string]string{crm: "ana", mail: "ana", erp: "ana", wiki: "ben"}

	h := newHarness(t)
	// Submitted at 09:00 UTC; the email verified at 10:00, identity at 11:00.
	h.verifyAndAssign()
	// Ana's CRM at 12:00; her mail tool and Ben's wiki at 19:00 the same
	// day; her ERP at 12:00 the next day.
	h.at(3*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm}, By: staff})
	h.at(10*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{mail, wiki}, By: staff})
	h.at(day+3*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{erp}, By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()

	equal(t, "assignment alerts recorded", h.alertTimes(store.AlertTaskAssigned), []time.Duration{3 * time.Hour, 10 * time.Hour, day + 3*time.Hour})
	received := map[string][]time.Duration{} // owner: when each alert they receive was first recorded
	kept := map[string]bool{}                // the store's dedupe: key and recipient
	for _, s := range h.alerts {
		if s.What != store.AlertTaskAssigned {
			continue
		}
		for _, ds := range s.Alert.DataSourceIDs {
			who := owners[ds]
			if !kept[s.Key+" "+who] {
				kept[s.Key+" "+who] = true
				received[who] = append(received[who], s.At)
			}
		}
	}
	want := map[string][]time.Duration{
		"ana": {3 * time.Hour, day + 3*time.Hour}, // crm at 12:00 (mail at 19:00 adds none), erp the next day
		"ben": {10 * time.Hour},                   // wiki's owner is told of it the day it was assigned
	}
	if !maps.EqualFunc(received, want, slices.Equal) {
		t.Errorf("task-assigned alerts each owner receives:\n got %v\nwant %v", received, want)
	}
}
