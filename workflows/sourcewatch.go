package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// versionSourceWatch is the change id of the watch of SQL sources' task
// queues: a child on a queue no connector polls never runs, so the
// request's workflow asks Temporal every sourceWatchEvery whether a
// connector polled it lately, and shows AutomationNoConnector when none
// did.
const versionSourceWatch = "source-watch"

const (
	sourceWatchEvery  = 10 * time.Minute
	sourceWatchWithin = 5 * time.Minute // a poller seen this recently counts
)

// TimerSourceWatch is the summary of the watch's timer.
const TimerSourceWatch = "check that a connector polls the sources' task queues"

// watchedQueues are the task queues of the SQL tasks the system runs and
// has not done, each with its tasks' data sources, in task order.
func (r *run) watchedQueues() ([]string, map[string][]string) {
	var queues []string
	byQueue := map[string][]string{}
	for i := range r.st.Tasks {
		t := &r.st.Tasks[i]
		if t.Status == TaskCompleted || !t.Automated() || !t.Mode.SQL() {
			continue
		}
		q := r.sourceOf(t).TaskQueue
		if q == "" {
			continue
		}
		if _, ok := byQueue[q]; !ok {
			queues = append(queues, q)
		}
		byQueue[q] = append(byQueue[q], t.DataSourceID)
	}
	return queues, byQueue
}

// watchEvent is the next check of the queues, when there is one to make.
func (r *run) watchEvent() (event, bool) {
	if !r.sourceWatch {
		return event{}, false
	}
	queues, byQueue := r.watchedQueues()
	if len(queues) == 0 {
		return event{}, false
	}
	base := r.watchedAt
	if base.IsZero() {
		for _, q := range queues {
			for _, ds := range byQueue[q] {
				if t, ok := r.st.Task(ds); ok && (base.IsZero() || t.Automation.UpdatedAt.Before(base)) {
					base = t.Automation.UpdatedAt
				}
			}
		}
	}
	return event{base.Add(sourceWatchEvery), TimerSourceWatch, r.watchSources}, true
}

// watchSources asks Temporal about each watched queue and marks its tasks
// no connector, or back to what their child last said.
func (r *run) watchSources(ctx workflow.Context) {
	r.watchedAt = workflow.Now(ctx)
	queues, byQueue := r.watchedQueues()
	for _, q := range queues {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute, Summary: "pollers of " + q,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
		})
		var p activities.QueuePollers
		var a *activities.Activities
		if err := workflow.ExecuteActivity(actx, a.QueuePollers, activities.QueuePollersInput{TaskQueue: q, Within: sourceWatchWithin}).Get(ctx, &p); err != nil || !p.Known {
			r.log.Warn("task queue's pollers unknown; asked again later", "task_queue", q, "error", err)
			continue
		}
		for _, ds := range byQueue[q] {
			if p.Seen {
				r.connectorBack(ctx, ds, q)
			} else {
				r.noConnector(ctx, ds, q, p.LastSeen)
			}
		}
	}
}

// noConnector marks a task whose queue no connector polls, once an episode.
func (r *run) noConnector(ctx workflow.Context, ds, q string, last time.Time) {
	t, _ := r.st.Task(ds)
	if t.Automation.State == AutomationNoConnector {
		return
	}
	if r.beforeNoConnector == nil {
		r.beforeNoConnector = map[string]Automation{}
	}
	r.beforeNoConnector[ds] = *t.Automation
	since := "the task started"
	if !last.IsZero() {
		since = last.UTC().Format("2006-01-02 15:04 UTC")
	}
	now := workflow.Now(ctx)
	msg := fmt.Sprintf("no connector has polled task queue %s since %s: start the connector (dsar connector) for this source, or check its task queue", q, since)
	t.Automation = &Automation{Step: t.Automation.Step, State: AutomationNoConnector, Error: msg, ErrorType: "NoConnector", UpdatedAt: now}
	r.note(ctx, EventSourceNoConnector, "", ds+": "+msg)
	r.audit(ctx, store.ActorSystem, "", dsar.AuditAutomationNoConnector, map[string]any{"data_source_id": ds, "task_queue": q})
	r.changed(ctx)
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertSourceAttention, OrgOwners: true,
		Key: fmt.Sprintf("source-no-connector-%s-%d", ds, now.Unix()), DataSourceIDs: []string{ds}})
}

// connectorBack puts a task marked no connector back to what its child
// last said.
func (r *run) connectorBack(ctx workflow.Context, ds, q string) {
	t, _ := r.st.Task(ds)
	if t.Automation.State != AutomationNoConnector {
		return
	}
	prev, ok := r.beforeNoConnector[ds]
	if !ok {
		prev = Automation{Step: t.Automation.Step, State: AutomationRunning}
	}
	delete(r.beforeNoConnector, ds)
	prev.UpdatedAt = workflow.Now(ctx)
	t.Automation = &prev
	r.note(ctx, EventSourceResumed, "", fmt.Sprintf("%s: a connector polls task queue %s again", ds, q))
	r.changed(ctx)
}
