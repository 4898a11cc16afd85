// Package workflows holds the deterministic workflow code of the DSAR
// service: one long-lived workflow per request. Everything with I/O is an
// activity (package activities).
package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
)

// DSAR is the workflow of one request, from submission to close.
func DSAR(ctx workflow.Context, in Input) (State, error) {
	st := State{
		RequestID: in.RequestID, Status: dsar.StatusPendingEmailVerification,
		SubmittedAt: in.SubmittedAt, Deadline: in.Deadline, OriginalDeadline: in.Deadline,
		DeadlineRule: in.DeadlineRule, MaxExtension: in.MaxExtension, Tasks: []TaskState{}, Timeline: []TimelineEntry{},
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return st, nil }); err != nil {
		return st, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx,
		AttrStatus.ValueSet(string(st.Status)), AttrRequestType.ValueSet(string(in.RequestType)),
		AttrCountry.ValueSet(in.Country), AttrDeadline.ValueSet(in.Deadline), AttrOverdue.ValueSet(false))
	var c Closure
	workflow.GetSignalChannel(ctx, SignalRequestClosed).Receive(ctx, &c)
	st.Status = dsar.StatusRejected
	if c.Outcome == OutcomeCompleted {
		st.Status = dsar.StatusCompleted
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrStatus.ValueSet(string(st.Status)))
	return st, nil
}
