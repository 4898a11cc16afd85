package server

import "github.com/opendsar/dsar/store"

// warning is something an answer points out: the action succeeded, but
// what it left behind needs a person's eye. Answers that may carry them
// have a "warnings" array, empty when all is well.
type warning struct {
	Code       string           `json:"code"`
	Message    string           `json:"message"`
	DataSource *store.SourceRef `json:"data_source,omitempty"`
}

// warnNoActiveOwner says a data source has no active owner: nobody
// answers for its tasks, and its alerts go to the org owners until
// someone owns it again.
const warnNoActiveOwner = "data_source_without_active_owner"

// unownedWarnings is one warnNoActiveOwner per source.
func unownedWarnings(sources []store.SourceRef) []warning {
	out := make([]warning, 0, len(sources))
	for _, s := range sources {
		out = append(out, warning{Code: warnNoActiveOwner, DataSource: &s,
			Message: s.Name + " has no active owner left: its tasks and alerts go to the org owners until you give it an owner."})
	}
	return out
}
