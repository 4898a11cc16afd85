// Package worker registers the DSAR workflows and activities with a Temporal
// worker and runs it.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/workflows"
)

// pollers is how many long polls the worker keeps open for workflow tasks,
// and as many for activity tasks. The SDK's default of 2 bounds a burst:
// 3,000 verification expiries due within 16 s took 28 s to reach the
// database with 2 (the pollers' round trips were the limit), 3.2 s with 8
// (docs/performance.md). An idle poll costs the server one open call.
const pollers = 8

// New returns a worker on taskQueue with every workflow and activity
// registered. The caller starts and stops it.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, sdkworker.Options{
		MaxConcurrentWorkflowTaskPollers: pollers,
		MaxConcurrentActivityTaskPollers: pollers,
	})
	Register(w, acts)
	return w
}

// Register registers the workflows and activities on any registry: a
// worker, a replayer or a test environment.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	RegisterWorkflows(r)
	r.RegisterActivity(acts)
}

// RegisterWorkflows registers the workflows only, under their stable names:
// what a replayer needs.
func RegisterWorkflows(r sdkworker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.DSAR, workflow.RegisterOptions{Name: workflows.WorkflowName})
	r.RegisterWorkflowWithOptions(workflows.AlertDigest, workflow.RegisterOptions{Name: workflows.DigestWorkflowName})
}
