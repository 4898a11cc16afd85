package dsar

import "strings"

// TaskOutcome is how a data source's task ended: what its owner did for
// the request.
type TaskOutcome string

// The outcomes of a task.
const (
	TaskDataProvided  TaskOutcome = "data_provided"
	TaskNoData        TaskOutcome = "no_data"
	TaskErased        TaskOutcome = "erased"
	TaskCorrected     TaskOutcome = "corrected"
	TaskOptedOut      TaskOutcome = "opted_out"
	TaskNotApplicable TaskOutcome = "not_applicable"
)

// TaskOutcomes lists every task outcome.
var TaskOutcomes = []TaskOutcome{TaskDataProvided, TaskNoData, TaskErased, TaskCorrected, TaskOptedOut, TaskNotApplicable}

// Valid reports whether o is a known outcome.
func (o TaskOutcome) Valid() bool {
	for _, v := range TaskOutcomes {
		if o == v {
			return true
		}
	}
	return false
}

// Label is the outcome in words; "" (a task completed without one) is
// "Done".
func (o TaskOutcome) Label() string {
	switch o {
	case "":
		return "Done"
	case TaskDataProvided:
		return "Data provided"
	case TaskNoData:
		return "No data held"
	case TaskErased:
		return "Data erased"
	case TaskCorrected:
		return "Data corrected"
	case TaskOptedOut:
		return "Opted out"
	case TaskNotApplicable:
		return "Not applicable"
	}
	return string(o)
}

// TaskOutcomesText names outcomes (all of them when none is given) for
// error messages.
func TaskOutcomesText(outcomes ...TaskOutcome) string {
	if len(outcomes) == 0 {
		outcomes = TaskOutcomes
	}
	s := make([]string, len(outcomes))
	for i, o := range outcomes {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// TaskOutcomesFor lists the outcomes a task of a request of type t may
// end with: what a source can have done for that kind of request.
func TaskOutcomesFor(t RequestType) []TaskOutcome {
	switch t {
	case RequestInfo:
		return []TaskOutcome{TaskDataProvided, TaskNoData, TaskNotApplicable}
	case RequestDeletion:
		return []TaskOutcome{TaskErased, TaskNoData, TaskNotApplicable}
	case RequestCorrection:
		return []TaskOutcome{TaskCorrected, TaskNoData, TaskNotApplicable}
	case RequestOptOut, RequestDoNotSell:
		return []TaskOutcome{TaskOptedOut, TaskNoData, TaskNotApplicable}
	}
	return TaskOutcomes
}

// Fits reports whether o is an outcome a task of a request of type t may
// end with.
func (o TaskOutcome) Fits(t RequestType) bool {
	for _, v := range TaskOutcomesFor(t) {
		if o == v {
			return true
		}
	}
	return false
}
