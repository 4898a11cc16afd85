package activities

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// QueuePollersInput asks whether anything polled a task queue lately.
type QueuePollersInput struct {
	TaskQueue string
	Within    time.Duration // a poller counts when seen within this long
}

// QueuePollers is what Temporal said of a task queue's pollers. Known is
// false when Temporal could not be asked: nothing is concluded then.
type QueuePollers struct {
	Known    bool
	Seen     bool      // a workflow or activity poller was seen within Within
	LastSeen time.Time // the latest poller's last access (zero: none known)
}

// QueuePollers asks Temporal for the pollers of a task queue, of workflow
// and of activity tasks: an automated source's child runs only while a
// connector polls its queue. An error from Temporal is not the activity's
// failure: it answers Known false and the workflow asks again later.
func (a *Activities) QueuePollers(ctx context.Context, in QueuePollersInput) (QueuePollers, error) {
	out := QueuePollers{Known: true}
	now := time.Now()
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := a.Temporal.DescribeTaskQueue(ctx, in.TaskQueue, kind)
		if err != nil {
			if a.Log != nil {
				a.Log.Warn("task queue not described", "task_queue", in.TaskQueue, "error", err)
			}
			return QueuePollers{}, nil
		}
		for _, p := range resp.GetPollers() {
			at := p.GetLastAccessTime().AsTime()
			if p.GetLastAccessTime() == nil {
				continue
			}
			if at.After(out.LastSeen) {
				out.LastSeen = at
			}
		}
	}
	out.Seen = !out.LastSeen.IsZero() && now.Sub(out.LastSeen) <= in.Within
	return out, nil
}
