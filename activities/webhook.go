package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/webhook"
)

// Error types of the webhook activity's failures that no retry can fix
// (docs/webhooks.md): the task needs attention.
const (
	ErrTypeWebhookRejected = "WebhookRejected" // the endpoint refused the job (4xx), or the owner posted "failed"
	ErrTypeWebhookTimeout  = "WebhookTimeout"  // no result within the source's time limit
	ErrTypeConnectorConfig = "ConnectorConfig" // the source is not set up for it (no endpoint or secret)
)

// WebhookJobInput is the input of SendWebhookJob: ids and settings only.
type WebhookJobInput struct {
	RequestID    string
	DataSourceID string
	RequestType  dsar.RequestType
	TimeLimit    time.Duration // the activity's schedule-to-close timeout: the job's expiry
}

// WebhookJobResult is what the source's owner posted back for a job, as
// the callback route completes SendWebhookJob with it.
type WebhookJobResult struct {
	Outcome     dsar.TaskOutcome
	RecordCount int64
	FileIDs     []string `json:",omitempty"` // the task files the callback's files became
}

// CallbackPath is the path of a webhook job's callback, before its token.
const CallbackPath = "/api/v1/webhooks/callbacks/"

// SendWebhookJob posts a signed job to a webhook source's endpoint and
// completes asynchronously: it returns activity.ErrResultPending once the
// endpoint accepted the job (2xx), and the callback route completes it with
// the owner's result (a WebhookJobResult, or a WebhookRejected failure).
// The subject's email is read from the store here and goes only to the
// endpoint, never into Temporal. Every attempt of one activity sends the
// same job (webhook-id, callback URL); only its latest attempt's task
// token completes it. An endpoint answering 4xx or a redirect fails it
// with WebhookRejected; a 5xx or a network failure is retried. Its time
// limit is the activity's timeout, set by the workflow (the callback is
// refused after it).
func (a *Activities) SendWebhookJob(ctx context.Context, in WebhookJobInput) (WebhookJobResult, error) {
	var none WebhookJobResult
	info := activity.GetInfo(ctx)
	src, err := a.DB.WebhookSource(ctx, a.Keys, in.DataSourceID)
	if dsar.ErrorCode(err) == dsar.ENOTFOUND {
		return none, temporal.NewNonRetryableApplicationError("the data source no longer exists", ErrTypeConnectorConfig, err)
	}
	if err != nil {
		return none, err
	}
	if src.URL == "" || src.Secret == "" {
		return none, temporal.NewNonRetryableApplicationError("the data source has no webhook URL: set one, then retry",
			ErrTypeConnectorConfig, nil)
	}
	req, err := a.DB.Request(ctx, in.RequestID, "")
	if err != nil {
		return none, classify(err)
	}
	// An unverified address goes to no endpoint, except that of an opt-out
	// accepted at submission, which the law forbids making wait for it.
	if req.EmailVerifiedAt == nil && !req.AcceptedUnconfirmed() {
		return none, temporal.NewNonRetryableApplicationError("the requester's email address is not verified", ErrTypeInvalid, nil)
	}
	pii, err := a.DB.RequestPII(ctx, a.Keys, in.RequestID)
	if err != nil {
		return none, classify(err)
	}

	// One job per activity, whatever its attempt: the same id and callback
	// URL each time, so a receiver can tell a redelivery.
	key := info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	sum := sha256.Sum256([]byte("dsar webhook job " + key))
	jobID := "job_" + hex.EncodeToString(sum[:16])
	token := a.Keys.KeyedToken("dsar webhook callback " + key)
	expires := info.Deadline
	if expires.IsZero() {
		expires = time.Now().Add(in.TimeLimit)
	}
	expires, err = a.DB.PutWebhookJob(ctx, a.Keys, store.NewWebhookJob{ID: jobID, Token: token, RequestID: in.RequestID,
		DataSourceID: in.DataSourceID, RequestType: req.RequestType, TaskToken: info.TaskToken, Attempt: int(info.Attempt), ExpiresAt: expires})
	if err != nil {
		return none, classify(err)
	}
	body, err := json.Marshal(webhook.Job{Type: webhook.JobType, JobID: jobID, RequestID: in.RequestID, Reference: req.Reference,
		RequestType: string(req.RequestType), DataSourceID: in.DataSourceID, Subject: webhook.Subject{Email: pii.Email},
		CallbackURL: strings.TrimRight(a.Config.PublicURL, "/") + CallbackPath + token, ExpiresAt: expires.UTC().Truncate(time.Second)})
	if err != nil {
		return none, err
	}

	status, err := a.postJob(ctx, src, jobID, body)
	if err != nil {
		return none, fmt.Errorf("webhook: the job could not be delivered (retried): %w", err)
	}
	accepted := status/100 == 2
	if _, err := a.DB.AppendAudit(ctx, store.Audit{RequestID: in.RequestID, ActorKind: store.ActorSystem, Action: dsar.AuditWebhookSent,
		Key: fmt.Sprintf("%s %s %d", dsar.AuditWebhookSent, jobID, info.Attempt),
		Detail: map[string]any{"data_source_id": in.DataSourceID, "job_id": jobID, "attempt": info.Attempt, "status": status,
			"accepted": accepted, "expires_at": expires}}); err != nil {
		return none, classify(err)
	}
	switch {
	case accepted:
		return none, activity.ErrResultPending
	case status >= 500:
		return none, fmt.Errorf("webhook: the endpoint answered HTTP %d (retried)", status)
	}
	if err := a.DB.CloseWebhookJob(ctx, jobID, store.WebhookJobRejected); err != nil {
		return none, classify(err)
	}
	return none, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("the data source's endpoint refused the job: HTTP %d", status), ErrTypeWebhookRejected, nil)
}

// postJob posts a signed job to the source's endpoint and returns the
// answer's status. Redirects are not followed (their status is returned);
// the answer's body is read up to a limit and dropped.
func (a *Activities) postJob(ctx context.Context, src store.WebhookSource, jobID string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, a.Config.Fulfilment.WebhookTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, src.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "opendsar-webhook/1")
	if err := webhook.SetHeaders(r.Header, src.Secret, jobID, time.Now(), body); err != nil {
		return 0, err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(r)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, nil
}
