package activities

import (
	"context"
	"time"

	"github.com/opendsar/dsar/store"
)

// ScrubKeepingContact erases a closed request's PII as ScrubRequest does,
// but first seals the requester's name and email under a contact key of
// their own, kept until keepUntil: the requester may appeal until then,
// and the appeal's answer is mailed to them.
func (a *Activities) ScrubKeepingContact(ctx context.Context, requestID string, keepUntil time.Time) error {
	return classify(a.DB.ScrubRequestKeepingContact(ctx, a.Keys, requestID, keepUntil))
}

// ShredContact destroys the contact details kept for an appeal (their key
// and ciphertext). It reports whether there were any.
func (a *Activities) ShredContact(ctx context.Context, requestID string) (bool, error) {
	ok, err := a.DB.ShredContact(ctx, requestID)
	return ok, classify(err)
}

// ProjectAppeal writes the appeal workflow's state and the outcomes of its
// actions.
func (a *Activities) ProjectAppeal(ctx context.Context, p store.AppealProjection) error {
	return classify(a.DB.ProjectAppeal(ctx, p))
}
