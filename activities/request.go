package activities

import (
	"context"

	"github.com/opendsar/dsar/store"
)

// Project writes the workflow's state over the request's row and tasks in
// Postgres (the queue). It is idempotent: the whole state each time.
func (a *Activities) Project(ctx context.Context, p store.Projection) error {
	if a.Config != nil {
		p.Record.RetainFor = a.Config.Retention.Records // the compliance record's retain_until
	}
	return classify(a.DB.Project(ctx, p))
}

// Audit appends an event to the hash-chained audit trail. The detail holds
// no PII.
func (a *Activities) Audit(ctx context.Context, ev store.Audit) error {
	_, err := a.DB.AppendAudit(ctx, ev)
	return classify(err)
}

// DeleteIdentityDocument deletes the request's identity document once
// identity is decided (keep the outcome, not the copy).
func (a *Activities) DeleteIdentityDocument(ctx context.Context, requestID string) error {
	return classify(a.DB.DeleteIdentityDocument(ctx, requestID))
}

// ScrubRequest erases the closed request's PII: its data key, the sealed
// PII and the identity document.
func (a *Activities) ScrubRequest(ctx context.Context, requestID string) error {
	return classify(a.DB.ScrubRequest(ctx, requestID))
}

// ApplyEmailCorrection puts the address staff corrected by action
// actionID in place of the mistyped one, and voids the links sent to it.
// It reports false when that correction is not the one staged (a later
// one replaced it).
func (a *Activities) ApplyEmailCorrection(ctx context.Context, requestID, actionID string) (bool, error) {
	ok, err := a.DB.ApplyEmailCorrection(ctx, requestID, actionID)
	return ok, classify(err)
}
