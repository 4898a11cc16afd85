package workflows

import (
	"time"

	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
)

// The contract between a request's workflow, the child workflow of each of
// its automated data sources (DSARSource), the connector worker that runs
// that child next to the data, and the webhook activity. Nothing in these
// types holds the subject's data: the connector fetches the email from the
// service over HTTPS, and export files travel as ids of sealed task files.

// SourceWorkflowName is the registered name of a data source's child
// workflow.
const SourceWorkflowName = "DSARSource"

// SourceWorkflowID is the id of the child workflow that fulfils the task
// of one data source on one request.
func SourceWorkflowID(requestID, dataSourceID string) string {
	return "dsar-" + requestID + "-source-" + dataSourceID
}

// Signal names between a request's workflow and its sources' children.
const (
	// SignalSourceProgress goes from the child to the request's workflow:
	// a SourceProgress, the last one (State done) with the result.
	SignalSourceProgress = "source-progress"
	// SignalSourceRetry goes from the request's workflow to a child that
	// needs attention: run the failed step again (a SourceRetry).
	SignalSourceRetry = "source-retry"
	// SignalSourceApproval goes from the request's workflow to a child
	// waiting on a dry run: erase, or not (a SourceApproval).
	SignalSourceApproval = "source-approval"
)

// Automation states (SourceProgress.State, TaskState.Automation.State).
const (
	AutomationRunning         = "running"
	AutomationNeedsAttention  = "needs_attention"
	AutomationNoConnector     = "no_connector" // no connector polls the SQL source's task queue: nothing runs (versionSourceWatch)
	AutomationRetrying        = "retrying"     // a step failed a round of retries (the source is away?): the system tries again
	AutomationWaitingApproval = "waiting_approval"
	AutomationDone            = "done"
	AutomationManual          = "manual" // staff switched the task to manual: its owners do it
)

// AutomationStates lists every automation state.
var AutomationStates = []string{AutomationRunning, AutomationRetrying, AutomationNoConnector, AutomationNeedsAttention, AutomationWaitingApproval, AutomationDone, AutomationManual}

// AutomationStateLabel is an automation state in words.
func AutomationStateLabel(s string) string {
	switch s {
	case AutomationRunning:
		return "Running"
	case AutomationNoConnector:
		return "No connector: nothing polls the source's task queue; start its connector"
	case AutomationRetrying:
		return "Retrying: the source keeps failing; the system tries again"
	case AutomationNeedsAttention:
		return "Needs attention: retry or switch to manual"
	case AutomationWaitingApproval:
		return "Dry run: waiting for approval of the erasure"
	case AutomationDone:
		return "Done by the system"
	case AutomationManual:
		return "Switched to manual: its owners do the task"
	}
	return s
}

// Steps of a source's child (StepInput.Step, SourceProgress.Step).
const (
	StepIdentify = "identify" // find the subject's keys from the verified email
	StepExport   = "export"   // the subject's rows as JSON lines, into a task file
	StepCount    = "count"    // dry run: how many rows the erasure would touch
	StepErase    = "erase"    // delete or mask the subject's rows
	StepVerify   = "verify"   // count what is left: must be 0
	StepWebhook  = "webhook"  // the one step of a webhook source
)

// ActivityConnectorStep is the name of the connector's activity, registered
// by name on the source's task queue by `dsar connector` (package
// connector calls it ActivityStep). It takes a StepInput and returns a
// StepResult.
const ActivityConnectorStep = "ConnectorStep"

// ActivitySendWebhookJob is the name of the webhook activity, run on the
// main task queue: it takes a WebhookJobInput and returns a
// WebhookJobResult once the source's owner has posted the job's result.
const ActivitySendWebhookJob = "SendWebhookJob"

// ActivityAudit is the name of the main worker's audit activity
// (activities.Activities.Audit), which a child runs on the main task queue.
const ActivityAudit = "Audit"

// Error types of a step's failure that no retry can fix: the task needs
// attention until staff retry it (after fixing the cause) or switch it to
// manual. An activity returns them as a non-retryable
// temporal.ApplicationError of that type.
const (
	ErrConnectorConfig = activities.ErrTypeConnectorConfig // the connector's config lacks or mis-states this source
	ErrConnectorAuth   = "ConnectorAuth"                   // the database refused the connector's credentials
	ErrConnectorSchema = "ConnectorSchema"                 // a statement does not fit the database (missing table, column)
	ErrWebhookRejected = activities.ErrTypeWebhookRejected // the owner's endpoint answered 4xx or a redirect, or the owner posted "failed"
	ErrWebhookTimeout  = activities.ErrTypeWebhookTimeout  // no result within the source's time limit
)

// SourceInput starts a source's child workflow. It holds ids and settings
// only, no personal data.
type SourceInput struct {
	RequestID    string
	DataSourceID string
	RequestType  dsar.RequestType
	Mode         dsar.SourceMode
	DryRun       bool          // deletion: count, then wait for an approval before erasing
	TimeLimit    time.Duration // webhook: how long the owner has to post the job's result
	MainQueue    string        // the main service's task queue: its activities (audit, webhook) run there
}

// SourceResult is how a source's task ended, applied by the request's
// workflow as the task's completion by the system.
type SourceResult struct {
	Outcome     dsar.TaskOutcome // data_provided, no_data or erased
	RecordCount int64
	FileIDs     []string `json:",omitempty"` // export: the task files made, already of the task
}

// SourceProgress is the payload of SignalSourceProgress: where a source's
// child stands. It is bound to its request like an Action.
type SourceProgress struct {
	RequestID    string
	DataSourceID string
	Seq          int    // counts the child's signals: the parent ignores one it has seen
	Run          string `json:",omitempty"` // the child's run id: a retried child's signals are its own
	Step         string
	State        string // AutomationRunning, AutomationNeedsAttention, AutomationWaitingApproval, AutomationDone
	Error        string `json:",omitempty"` // for people, no personal data: why the step needs attention
	ErrorType    string `json:",omitempty"` // the failure's type (ErrConnectorAuth, ...)
	Matched      int64  `json:",omitempty"` // dry run: the rows the erasure would touch
	At           time.Time
	Result       *SourceResult `json:",omitempty"` // State done
}

// SourceRetry is the payload of SignalSourceRetry.
type SourceRetry struct {
	RequestID    string
	DataSourceID string
	By           string
}

// SourceApproval is the payload of SignalSourceApproval.
type SourceApproval struct {
	RequestID    string
	DataSourceID string
	Approved     bool
	Note         string
	By           string
}

// StepInput is the input of the connector's activity (ActivityConnectorStep).
type StepInput struct {
	RequestID    string
	DataSourceID string
	Step         string // identify, export, count, erase, verify
}

// StepResult is the result of the connector's activity.
type StepResult struct {
	Step     string
	Subjects int   // identify: subjects found
	Rows     int64 // export, count, erase: rows
	FileID   string
	SHA256   string
	Size     int64 // export: the task file made on the main service
	// Remaining is what verify found left (must be 0).
	Remaining int64
}

// WebhookJobInput is the input of the webhook activity
// (ActivitySendWebhookJob): the activity's own type, since activities do
// not import workflows.
type WebhookJobInput = activities.WebhookJobInput

// WebhookJobResult is the result of the webhook activity: what the owner's
// system posted back (docs/webhooks.md).
type WebhookJobResult = activities.WebhookJobResult

// RegisterSource registers the source's child workflow under its stable
// name, on the main worker and on a connector worker.
func RegisterSource(r sdkworker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(DSARSource, workflow.RegisterOptions{Name: SourceWorkflowName})
}

// Staff actions on an automated task: signals on the request's workflow,
// answered exactly like every action, which forwards them to the child.
const (
	SignalAutomationRetry    = "automation-retry"    // run the step that needs attention again
	SignalAutomationManual   = "automation-manual"   // stop the system: the task's owners do it
	SignalAutomationApproval = "automation-approval" // a dry run's erasure: approved, or not (then manual)
)

// AutomationRetry is the payload of SignalAutomationRetry.
type AutomationRetry struct {
	Action
	DataSourceID string
	By           string
}

// ManualSwitch is the payload of SignalAutomationManual.
type ManualSwitch struct {
	Action
	DataSourceID string
	Reason       string
	By           string
}

// DryRunDecision is the payload of SignalAutomationApproval.
type DryRunDecision struct {
	Action
	DataSourceID string
	Approved     bool
	Note         string
	By           string
}

// AssignedSource is how an assigned data source's task is fulfilled, as
// the API read it from the source when staff assigned it. Sources left out
// of Assignment.Sources are manual.
type AssignedSource struct {
	ID        string
	Mode      dsar.SourceMode
	TaskQueue string        `json:",omitempty"`
	DryRun    bool          `json:",omitempty"`
	TimeLimit time.Duration `json:",omitempty"`
}
