package activities

import (
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/mail"
)

// Error types of the non-retryable application errors activities return,
// for workflows that want to tell them apart.
const (
	ErrTypeMailPermanent = "MailPermanent"
	ErrTypeGone          = "Gone"
	ErrTypeNotFound      = "NotFound"
	ErrTypeInvalid       = "Invalid"
)

// classify marks errors that a retry cannot fix as non-retryable: a
// permanent mail failure, a request that does not exist, PII already
// erased, invalid data. Other errors are returned as they are, so the
// activity's retry policy applies.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if mail.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeMailPermanent, err)
	}
	switch dsar.ErrorCode(err) {
	case dsar.EGONE:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeGone, err)
	case dsar.ENOTFOUND:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotFound, err)
	case dsar.EINVALID:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, err)
	}
	return err
}
