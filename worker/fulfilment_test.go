package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestFulfilmentOnDevServer runs an access request's answer on the dev
// server, and records the history for the replay test: two exports
// attached, the package built once the tasks are done, approved without
// one of them, published on completion and erased when it expires.
func TestFulfilmentOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	crm, err := db.CreateDataSource(l.ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(time.Hour)
	id := insertRequest(t, db, keys, store.PII{FirstName: "Ada", Email: "ada@example.net"}, now, deadline)
	in := l.input(id, now, deadline)
	in.RequestType = dsar.RequestInfo
	in.Periods.VerificationReminderAfter = time.Hour
	in.Periods.PackageTTL = 3 * time.Second
	run := l.start(id, in)
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: true, By: owner.ID})
	l.waitStatus(id, dsar.StatusIdentityVerified)
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{crm.ID}, By: owner.ID})
	l.waitStatus(id, dsar.StatusInProgress)

	var files []string
	for _, name := range []string{"contacts.csv", "colleague.csv"} {
		f, err := db.AddTaskFile(l.ctx, keys, store.NewTaskFile{RequestID: id, DataSourceID: crm.ID, Name: name, ContentType: "text/csv",
			UploadedBy: owner.ID, Content: strings.NewReader("name,email\nAda,ada@example.net\n")})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f.ID)
	}
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: crm.ID, By: owner.ID, Outcome: dsar.TaskDataProvided})
	eventually(t, "the package built", func() bool { p := l.state(id).Package; return p != nil && p.Status == store.PackageReady })
	l.signal(id, workflows.SignalPackageApproved, workflows.PackageApproval{Note: "a colleague's row", RemovedFileIDs: files[1:], By: owner.ID})
	eventually(t, "the package approved", func() bool { p := l.state(id).Package; return p != nil && p.Status == store.PackageApproved })
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: owner.ID})

	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusCompleted || final.Package == nil || final.Package.Status != store.PackageExpired ||
		len(final.Package.FileIDs) != 1 || final.Package.FileIDs[0] != files[0] {
		t.Fatalf("final: %s, package %+v", final.Status, final.Package)
	}
	if _, _, err := db.OpenPackage(l.ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("the expired package: %v, want EGONE", err)
	}
	l.export(id, "dsar_baseline_fulfilment.json")
}
