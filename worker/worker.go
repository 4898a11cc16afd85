// Package worker registers the DSAR workflows and activities with a Temporal
// worker and runs it.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/workflows"
)

// New returns a worker on taskQueue with every workflow and activity
// registered, sized by acts.Config's worker.* keys (Options). The caller
// starts and stops it; a stop waits up to worker.stop_timeout for the
// running activities.
//
// The SDK keeps one sticky cache per process, sized when the first live
// worker is created: New sets it, so the first worker of a process decides.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	sizes := acts.Config.WorkerSizes()
	sdkworker.SetStickyWorkflowCacheSize(sizes.StickyCacheSize)
	w := sdkworker.New(c, taskQueue, Options(sizes))
	Register(w, acts)
	return w
}

// Options are the SDK's worker options for sizes (config.Worker.Sized
// has filled in the derived ones). The sticky cache is not among them: it
// is the process's.
func Options(sizes config.Worker) sdkworker.Options {
	return sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      sizes.MaxConcurrentActivities,
		MaxConcurrentLocalActivityExecutionSize: sizes.MaxConcurrentLocalActivities,
		MaxConcurrentWorkflowTaskExecutionSize:  sizes.MaxConcurrentWorkflowTasks,
		MaxConcurrentWorkflowTaskPollers:        sizes.WorkflowPollers,
		MaxConcurrentActivityTaskPollers:        sizes.ActivityPollers,
		WorkerStopTimeout:                       sizes.StopTimeout,
	}
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
	r.RegisterWorkflowWithOptions(workflows.Reconcile, workflow.RegisterOptions{Name: workflows.ReconcileWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.Appeal, workflow.RegisterOptions{Name: workflows.AppealWorkflowName})
	workflows.RegisterSource(r) // webhook sources' children run on the main queue
	r.RegisterWorkflowWithOptions(workflows.Retention, workflow.RegisterOptions{Name: workflows.RetentionWorkflowName})
}
