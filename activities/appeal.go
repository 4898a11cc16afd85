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
// and ciphertext). Shredding twice is fine.
func (a *Activities) ShredContact(ctx context.Context, requestID string) error {
	_, err := a.DB.ShredContact(ctx, requestID)
	return classify(err)
}

// ReopenRequest gives a request reopened after its appeal a new data key,
// for the files its tasks attach (the old key went with the erasure at
// close). The requester's PII stays erased. Done twice, it keeps the key.
func (a *Activities) ReopenRequest(ctx context.Context, requestID string) error {
	return classify(a.DB.NewDataKey(ctx, a.Keys, requestID))
}

// ProjectAppeal writes the appeal workflow's state and the outcomes of its
// actions.
func (a *Activities) ProjectAppeal(ctx context.Context, p store.AppealProjection) error {
	return classify(a.DB.ProjectAppeal(ctx, p))
}
