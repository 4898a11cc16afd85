package dsar

// AppealStatus is where an appeal stands: open until a staff member
// decides it, then upheld (the decision stands) or reversed (the request
// reopens).
type AppealStatus string

// The statuses of an appeal.
const (
	AppealOpen     AppealStatus = "open"
	AppealUpheld   AppealStatus = "upheld"
	AppealReversed AppealStatus = "reversed"
)

// AppealStatuses lists every appeal status.
var AppealStatuses = []AppealStatus{AppealOpen, AppealUpheld, AppealReversed}

// Decided reports whether s is a decision (upheld or reversed).
func (s AppealStatus) Decided() bool { return s == AppealUpheld || s == AppealReversed }

// Label is the appeal status in words, for people.
func (s AppealStatus) Label() string {
	switch s {
	case AppealOpen:
		return "Appeal open, waiting for a decision"
	case AppealUpheld:
		return "Appeal decided: the decision stands"
	case AppealReversed:
		return "Appeal decided: the decision is reversed and the request reopened"
	}
	return string(s)
}
