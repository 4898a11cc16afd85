package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// ReconcileScope names the request workflows to the reconciliation's
// activities, which do not import the workflows package: the
// reconciliation's workflow fills it in.
type ReconcileScope struct {
	WorkflowType   string // the request workflow's registered name
	IDPrefix       string // request x's workflow id is IDPrefix + x
	StatusAttr     string // the Keyword search attribute holding a request's status
	TaskQueue      string // this deployment's: request workflows on other queues are not ours
	Limit          int    // requests or workflows acted on per finding and run
	MaxListedPages int    // pages of running workflows listed per run (1,000 a page)
}

func (s ReconcileScope) workflowID(requestID string) string { return s.IDPrefix + requestID }

// How long a fault must last before the reconciliation repairs it: longer
// than the step in flight that would settle it itself.
const (
	// IntakeSettleAfter: an intake call accepts its row within its
	// 10-second start timeout.
	IntakeSettleAfter = 2 * time.Minute
	// EraseAfter: a closing workflow scrubs right after its close mail.
	EraseAfter = 5 * time.Minute
	// PendingFileAfter: an upload still pending after this long lost its
	// process; its chunks are swept.
	PendingFileAfter = 24 * time.Hour
	// ConnectorUploadIdle: a connector's upload with no part for this long
	// was left behind (its export started over in another); swept.
	ConnectorUploadIdle = 7 * 24 * time.Hour
	// ProjectionSettleAfter: a workflow writes its projection right after
	// it changes its status.
	ProjectionSettleAfter = 2 * time.Minute
)

// When more running workflows than orphanShare of them, and more than
// orphanFloor, have no request row, the rows were not lost one by one: the
// database is the wrong one or was restored from a backup, and abandoning
// the workflows would end requests that still exist.
const (
	orphanShare = 0.2
	orphanFloor = 10
)

// reconciliationActor is the audit detail "by" of the reconciliation's
// own writes.
const reconciliationActor = "reconciliation"

// workflowState is what Temporal says of a request's workflow.
type workflowState int

const (
	workflowMissing workflowState = iota // never started, or gone after its retention
	workflowRunning
	workflowCompleted // ended with its result: the request's final state
	workflowStopped   // ended without a result: terminated, failed, timed out or canceled
)

// describe asks Temporal about request id's workflow (the latest run).
func (a *Activities) describe(ctx context.Context, s ReconcileScope, id string) (workflowState, error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, s.workflowID(id), "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return workflowMissing, nil
	case err != nil:
		return 0, fmt.Errorf("activities: describe workflow of %s: %w", id, err)
	}
	switch d.WorkflowExecutionInfo.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return workflowRunning, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return workflowCompleted, nil
	}
	return workflowStopped, nil
}

// IntakeFindings are the unaccepted intake rows one run settled.
type IntakeFindings struct {
	Accepted      []string `json:"accepted,omitempty"`  // their workflow exists
	Discarded     []string `json:"discarded,omitempty"` // no workflow: nobody was told of them
	CaptchasSwept int64    `json:"captchas_swept"`      // expired captcha redemptions forgotten
	// PendingFilesSwept are uploads left pending by a process that died.
	PendingFilesSwept int `json:"pending_files_swept,omitempty"`
	// ConnectorUploadsSwept are connector uploads idle past
	// ConnectorUploadIdle (their connector started another, or gave up).
	ConnectorUploadsSwept int `json:"connector_uploads_swept,omitempty"`
}

// SettleIntake settles request rows that intake wrote but never accepted
// (the process died, or the start's answer was lost, between the row and
// the workflow): a row whose workflow exists is accepted, a row without one
// is discarded. It looks at rows older than IntakeSettleAfter, at most
// s.Limit, and forgets expired captcha redemptions.
func (a *Activities) SettleIntake(ctx context.Context, s ReconcileScope) (IntakeFindings, error) {
	var f IntakeFindings
	ids, err := a.DB.UnacceptedRequests(ctx, time.Now().Add(-IntakeSettleAfter), s.Limit)
	if err != nil {
		return f, err
	}
	for _, id := range ids {
		st, err := a.describe(ctx, s, id)
		if err != nil {
			return f, err // Temporal unreachable: the next run tries again
		}
		if st == workflowMissing {
			if err := a.DB.DiscardRequest(ctx, id); err != nil {
				return f, err
			}
			f.Discarded = append(f.Discarded, id)
			continue
		}
		if err := a.DB.AcceptRequest(ctx, id); err != nil {
			return f, err
		}
		f.Accepted = append(f.Accepted, id)
	}
	if f.CaptchasSwept, err = a.DB.SweepCaptchas(ctx, a.Config.Workflow.VerificationExpiry); err != nil {
		return f, err
	}
	if f.PendingFilesSwept, err = a.DB.SweepPendingFiles(ctx, time.Now().Add(-PendingFileAfter)); err != nil {
		return f, err
	}
	f.ConnectorUploadsSwept, err = a.DB.SweepConnectorUploads(ctx, time.Now().Add(-ConnectorUploadIdle))
	return f, err
}

// ErasureFindings are the closed requests not erased that one run found.
type ErasureFindings struct {
	Scrubbed []string `json:"scrubbed,omitempty"` // their workflows had ended: scrubbed here
	Running  []string `json:"running,omitempty"`  // their workflows still run: to be told to retry
	// Expired are requests whose access package outlived its date with no
	// workflow left to erase it (terminated, say): erased here.
	Expired []string `json:"expired,omitempty"`
	// Shredded are requests whose contact details, kept for an appeal,
	// outlived their date with no workflow left to shred them: shredded
	// here.
	Shredded []string `json:"shredded,omitempty"`
}

// EraseClosed finds requests closed more than EraseAfter ago whose PII is
// still there, at most s.Limit. A request whose workflow still runs is
// returned in Running (the workflow may still need the address for its
// closing mail; the caller signals it to retry). One whose workflow has
// ended, or is gone, will never scrub it: it is scrubbed here, with the
// audit event request.pii_scrubbed (actor system, by reconciliation).
func (a *Activities) EraseClosed(ctx context.Context, s ReconcileScope) (ErasureFindings, error) {
	var f ErasureFindings
	ids, err := a.DB.UnerasedRequests(ctx, time.Now().Add(-EraseAfter), s.Limit)
	if err != nil {
		return f, err
	}
	for _, id := range ids {
		st, err := a.describe(ctx, s, id)
		if err != nil {
			return f, err
		}
		if st == workflowRunning {
			f.Running = append(f.Running, id)
			continue
		}
		// The event first, under its key: were it second, a failure
		// between the two would lose it for good (a scrubbed request is
		// not found again). This way the next run scrubs, and finds the
		// event already there.
		if _, err := a.DB.AppendAudit(ctx, store.Audit{RequestID: id, ActorKind: store.ActorSystem,
			Action: dsar.AuditPIIScrubbed, Detail: map[string]any{"by": reconciliationActor},
			Key: "reconcile:" + id + ":pii_scrubbed"}); err != nil {
			return f, err
		}
		if err := a.DB.ScrubRequest(ctx, id); err != nil {
			return f, err
		}
		f.Scrubbed = append(f.Scrubbed, id)
	}
	if err := a.expireOverdue(ctx, s, &f); err != nil {
		return f, err
	}
	return f, a.shredOverdueContacts(ctx, s, &f)
}

// shredOverdueContacts shreds the contact details kept for an appeal past
// their date (by EraseAfter) whose workflows no longer run to do it (a
// running one shreds them itself, once an open appeal is answered).
func (a *Activities) shredOverdueContacts(ctx context.Context, s ReconcileScope, f *ErasureFindings) error {
	ids, err := a.DB.OverdueContacts(ctx, time.Now().Add(-EraseAfter), s.Limit)
	if err != nil {
		return err
	}
	for _, id := range ids {
		st, err := a.describe(ctx, s, id)
		if err != nil {
			return err
		}
		if st == workflowRunning {
			continue
		}
		if _, err := a.DB.AppendAudit(ctx, store.Audit{RequestID: id, ActorKind: store.ActorSystem,
			Action: dsar.AuditContactShredded, Detail: map[string]any{"by": reconciliationActor},
			Key: "reconcile:" + id + ":contact_shredded"}); err != nil {
			return err
		}
		if _, err := a.DB.ShredContact(ctx, id); err != nil {
			return err
		}
		f.Shredded = append(f.Shredded, id)
	}
	return nil
}

// expireOverdue erases the access packages published past their date
// (by EraseAfter) whose workflows no longer run to do it.
func (a *Activities) expireOverdue(ctx context.Context, s ReconcileScope, f *ErasureFindings) error {
	ids, err := a.DB.OverduePackages(ctx, time.Now().Add(-EraseAfter), s.Limit)
	if err != nil {
		return err
	}
	for _, id := range ids {
		st, err := a.describe(ctx, s, id)
		if err != nil {
			return err
		}
		if st == workflowRunning {
			continue // its timer is due: the workflow erases it
		}
		if _, err := a.DB.AppendAudit(ctx, store.Audit{RequestID: id, ActorKind: store.ActorSystem,
			Action: dsar.AuditPackageExpired, Detail: map[string]any{"by": reconciliationActor},
			Key: "reconcile:" + id + ":package_expired"}); err != nil {
			return err
		}
		if err := a.DB.ExpirePackage(ctx, id); err != nil {
			return err
		}
		f.Expired = append(f.Expired, id)
	}
	return nil
}

// Survey is what one run found comparing the running request workflows
// with the queue.
type Survey struct {
	Running int `json:"running"` // request workflows listed as running
	// Truncated is set when more workflows run than one run lists
	// (s.MaxListedPages): Ended, Unfinished and Missing were then not
	// looked for.
	Truncated bool `json:"truncated,omitempty"`
	// Orphans are requests whose workflow runs but whose row is gone: to
	// be abandoned.
	Orphans []string `json:"orphans,omitempty"`
	// Withheld counts running workflows without a row that were not made
	// Orphans because they are too many (see orphanShare): a database
	// restored from an old backup, or the wrong one, would otherwise end
	// every request. A person decides.
	Withheld int `json:"withheld,omitempty"`
	// Stale are requests whose running workflow's status differs from the
	// queue's, the row unchanged for ProjectionSettleAfter: to be told to
	// write their projection again.
	Stale []string `json:"stale,omitempty"`
	// Ended are requests open in the queue whose workflow has completed:
	// its result, the final state, is to be written.
	Ended []string `json:"ended,omitempty"`
	// Unfinished are requests open in the queue whose workflow ended
	// without completing (terminated, failed, timed out): it left no final
	// state; a person must decide.
	Unfinished []string `json:"unfinished,omitempty"`
	// Missing are requests open in the queue without any workflow (past
	// its retention): nothing here can repair them; a person must.
	Missing []string `json:"missing,omitempty"`
}

// SurveyWorkflows lists the running request workflows of s.TaskQueue
// through visibility and compares them with the queue: running
// workflows without a row (Orphans), running workflows whose status the
// queue shows otherwise (Stale), and open requests whose workflow has ended
// (Ended, or Unfinished when it did not complete) or does not exist
// (Missing), each at most s.Limit. Visibility
// lags a little: a Stale finding needs a row unchanged for
// ProjectionSettleAfter, and Ended is confirmed by describing the workflow.
func (a *Activities) SurveyWorkflows(ctx context.Context, s ReconcileScope) (Survey, error) {
	var sv Survey
	running, truncated, err := a.runningRequests(ctx, s)
	if err != nil {
		return sv, err
	}
	sv.Running, sv.Truncated = len(running), truncated
	ids := make([]string, 0, len(running))
	for id := range running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rows, err := a.DB.ProjectedStatuses(ctx, ids)
	if err != nil {
		return sv, err
	}
	settled := time.Now().Add(-ProjectionSettleAfter)
	var orphans []string
	for _, id := range ids {
		status := running[id]
		row, ok := rows[id]
		switch {
		case !ok:
			// No race with intake: its row is written before the workflow
			// starts, and discarded only when Temporal knows no workflow.
			orphans = append(orphans, id)
		case status != "" && status != string(row.Status) && row.UpdatedAt.Before(settled) && len(sv.Stale) < s.Limit:
			sv.Stale = append(sv.Stale, id)
		}
	}
	if len(orphans) > orphanFloor && len(orphans) > int(orphanShare*float64(len(ids))) {
		sv.Withheld = len(orphans)
	} else {
		sv.Orphans = orphans[:min(len(orphans), s.Limit)]
	}
	if truncated {
		return sv, nil
	}
	open, err := a.DB.OpenRequestsExcept(ctx, ids, settled, s.Limit)
	if err != nil {
		return sv, err
	}
	for _, id := range open {
		st, err := a.describe(ctx, s, id)
		if err != nil {
			return sv, err
		}
		switch st {
		case workflowCompleted:
			sv.Ended = append(sv.Ended, id)
		case workflowStopped:
			sv.Unfinished = append(sv.Unfinished, id)
		case workflowMissing:
			sv.Missing = append(sv.Missing, id)
		}
	}
	return sv, nil
}

// runningRequests lists the running request workflows of s.TaskQueue: the
// status search attribute of each ("" before its first) by request id, at
// most s.MaxListedPages pages; truncated when there were more.
func (a *Activities) runningRequests(ctx context.Context, s ReconcileScope) (map[string]string, bool, error) {
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND TaskQueue = '%s'",
		s.WorkflowType, strings.ReplaceAll(s.TaskQueue, "'", "\\'"))
	running := map[string]string{}
	var token []byte
	for page := 0; ; page++ {
		if page == s.MaxListedPages {
			return running, true, nil
		}
		resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return nil, false, fmt.Errorf("activities: list running workflows: %w", err)
		}
		for _, e := range resp.Executions {
			id, ok := strings.CutPrefix(e.GetExecution().GetWorkflowId(), s.IDPrefix)
			if _, err := uuid.Parse(id); !ok || err != nil {
				continue // not a request's workflow
			}
			var status string
			if p := e.GetSearchAttributes().GetIndexedFields()[s.StatusAttr]; p != nil {
				_ = converter.GetDefaultDataConverter().FromPayload(p, &status)
			}
			running[id] = status
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			return running, false, nil
		}
	}
}

// EndedState returns the result of request id's completed workflow (its
// final state) as the workflow encoded it, for the reconciliation's
// workflow to decode.
func (a *Activities) EndedState(ctx context.Context, s ReconcileScope, id string) (converter.RawValue, error) {
	var raw converter.RawValue
	if err := a.Temporal.GetWorkflow(ctx, s.workflowID(id), "").Get(ctx, &raw); err != nil {
		return raw, fmt.Errorf("activities: result of the workflow of %s: %w", id, err)
	}
	return raw, nil
}
