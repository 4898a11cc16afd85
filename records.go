package dsar

// RecordOutcome is how a request ended, as its compliance record and the
// reports count it (CCPA §7102: complied in whole, in part, denied).
type RecordOutcome string

// The outcomes of a compliance record ("" while the request is open).
const (
	RecordCompletedWhole RecordOutcome = "completed_whole"
	// RecordCompletedPart: completed, with at least one data source's task
	// ending not_applicable (that part of the request was not acted on).
	RecordCompletedPart RecordOutcome = "completed_part"
	RecordDenied        RecordOutcome = "denied" // rejected: the denial basis holds the reason codes
	RecordWithdrawn     RecordOutcome = "withdrawn"
	RecordExpired       RecordOutcome = "expired" // the email was never verified
)

// RecordOutcomes lists every record outcome.
var RecordOutcomes = []RecordOutcome{RecordCompletedWhole, RecordCompletedPart, RecordDenied, RecordWithdrawn, RecordExpired}

// Label is the outcome in words.
func (o RecordOutcome) Label() string {
	switch o {
	case RecordCompletedWhole:
		return "Complied with in whole"
	case RecordCompletedPart:
		return "Complied with in part"
	case RecordDenied:
		return "Denied"
	case RecordWithdrawn:
		return "Withdrawn by the requester"
	case RecordExpired:
		return "Expired (email never verified)"
	case "":
		return "Open"
	}
	return string(o)
}

// OutcomeOf is the record outcome of a request in status s whose tasks
// ended with outcomes; "" while it is open.
func OutcomeOf(s Status, outcomes []TaskOutcome) RecordOutcome {
	switch s {
	case StatusCompleted:
		for _, o := range outcomes {
			if o == TaskNotApplicable {
				return RecordCompletedPart
			}
		}
		return RecordCompletedWhole
	case StatusRejected:
		return RecordDenied
	case StatusWithdrawn:
		return RecordWithdrawn
	case StatusExpired:
		return RecordExpired
	}
	return ""
}
