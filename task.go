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

// TaskOutcomesText names the outcomes for error messages.
func TaskOutcomesText() string {
	s := make([]string, len(TaskOutcomes))
	for i, o := range TaskOutcomes {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}
