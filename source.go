package dsar

// SourceMode is how a data source's tasks are fulfilled: by its owners
// (manual), or by the system, through a connector running next to the
// data (postgres, mysql) or a job posted to the owner's endpoint
// (webhook).
type SourceMode string

// The fulfilment modes of a data source.
const (
	SourceManual   SourceMode = "manual"
	SourcePostgres SourceMode = "postgres"
	SourceMySQL    SourceMode = "mysql"
	SourceWebhook  SourceMode = "webhook"
)

// SourceModes lists every mode, the default first.
var SourceModes = []SourceMode{SourceManual, SourcePostgres, SourceMySQL, SourceWebhook}

// Valid reports whether m is a known mode.
func (m SourceMode) Valid() bool {
	for _, v := range SourceModes {
		if m == v {
			return true
		}
	}
	return false
}

// Automated reports whether tasks of a source in mode m are run by the
// system (a child workflow of the request) rather than by people.
func (m SourceMode) Automated() bool { return m.Valid() && m != SourceManual }

// SQL reports whether m runs through a connector worker on the source's
// own task queue.
func (m SourceMode) SQL() bool { return m == SourcePostgres || m == SourceMySQL }

// Label is the mode in words.
func (m SourceMode) Label() string {
	switch m {
	case SourceManual:
		return "Manual: its owners do the tasks"
	case SourcePostgres:
		return "Automated: PostgreSQL connector"
	case SourceMySQL:
		return "Automated: MySQL connector"
	case SourceWebhook:
		return "Automated: webhook to the owner's system"
	}
	return string(m)
}

// SourceModesText names every mode, for error messages.
func SourceModesText() string {
	s := ""
	for i, m := range SourceModes {
		if i > 0 {
			s += ", "
		}
		s += string(m)
	}
	return s
}

// AutomatedRequest reports whether a task of a request of type t is run
// by an automated source (access and deletion); other types stay manual
// whatever the source's mode.
func AutomatedRequest(t RequestType) bool { return t == RequestInfo || t == RequestDeletion }
