package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/webhook"
)

// The callback of a webhook job (docs/webhooks.md): the source's owner
// posts the job's result, signed with the source's secret, to the job's
// one-time URL; the route checks it all before it applies anything, then
// completes the job's activity with it.

// Limits of a callback's result.
const (
	maxCallbackMessage = 1000
	maxCallbackFiles   = 100
)

// webhookRoutes are the routes webhook sources call.
func (s *Server) webhookRoutes() {
	s.handle(http.MethodPost, "/api/v1/webhooks/callbacks/:token", s.webhookCallback)
}

// callbackRefusal is why a callback was refused, for the audit trail.
type callbackRefusal struct {
	reason string // signature, stale, replayed, used, expired, invalid, not_waiting
	err    error
}

// webhookCallback is POST /api/v1/webhooks/callbacks/{token}: a webhook
// job's result, as a signed JSON webhook.Result. 200 {job_id, status,
// file_ids} once the job's activity is completed with it. Refused, nothing
// is applied: an unknown token 404; no or a wrong signature 401; a stale
// timestamp or a replayed webhook-id 409; a used or expired callback 410;
// a bad body 400/413/415/422; Temporal unreachable 503 (the same message
// may be sent again).
func (s *Server) webhookCallback(c *gin.Context) {
	ctx := c.Request.Context()
	job, err := s.DB.WebhookJobByToken(ctx, c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	limit := s.Config.Fulfilment.WebhookMaxCallback
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.fail(c, dsar.Errorf(dsar.ETOOLARGE, "the body is larger than %d bytes (fulfilment.webhook_max_callback)", limit))
		return
	case err != nil:
		s.fail(c, dsar.Errorf(dsar.EBADREQUEST, "the body could not be read"))
		return
	}
	src, err := s.DB.WebhookSource(ctx, s.Keys, job.DataSourceID)
	if dsar.ErrorCode(err) == dsar.ENOTFOUND {
		err = dsar.Errorf(dsar.EGONE, "the data source of this job was deleted")
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	msgID, err := webhook.Verify(src.Secret, c.Request.Header, body, time.Now())
	switch {
	case src.Secret == "" || errors.Is(err, webhook.ErrUnsigned) || errors.Is(err, webhook.ErrSignature):
		s.refuseCallback(c, job, callbackRefusal{"signature", dsar.Errorf(dsar.EUNAUTHORIZED,
			"the signature does not match: sign webhook-id.webhook-timestamp.body with the data source's secret (docs/webhooks.md)")})
		return
	case errors.Is(err, webhook.ErrStale):
		s.refuseCallback(c, job, callbackRefusal{"stale", dsar.Errorf(dsar.ECONFLICT,
			"webhook-timestamp is more than 5 minutes from the service's clock: sign the message again, with a new webhook-id")})
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	res, files, err := s.callbackResult(c, job, body)
	if err != nil {
		s.refuseCallback(c, job, callbackRefusal{"invalid", err})
		return
	}
	reason := store.WebhookJobDone
	if res.Status == webhook.StatusFailed {
		reason = store.WebhookJobFailed
	}
	if err := s.DB.ClaimWebhookJob(ctx, job.ID, msgID, reason); err != nil {
		why := "replayed"
		if dsar.ErrorCode(err) == dsar.EGONE {
			why = "used"
			if job.ClosedAt == nil && !time.Now().Before(job.ExpiresAt) {
				why = "expired"
			}
		}
		if code := dsar.ErrorCode(err); code != dsar.ECONFLICT && code != dsar.EGONE {
			s.fail(c, err)
			return
		}
		s.refuseCallback(c, job, callbackRefusal{why, err})
		return
	}
	fileIDs, err := s.applyCallback(ctx, job, res, files)
	if err != nil {
		s.undoCallback(job, msgID, fileIDs, err)
		if notWaiting(err) {
			s.refuseCallback(c, job, callbackRefusal{"not_waiting", dsar.Errorf(dsar.EGONE,
				"the job is no longer waiting for its result (its time limit passed, or staff took the task over)")})
			return
		}
		s.fail(c, err)
		return
	}
	detail := map[string]any{"data_source_id": job.DataSourceID, "job_id": job.ID, "webhook_id": msgID, "status": res.Status,
		"outcome": res.Outcome, "record_count": res.RecordCount, "file_ids": fileIDs}
	if _, err := s.DB.AppendAudit(ctx, store.Audit{RequestID: job.RequestID, ActorKind: store.ActorSystem,
		ActorID: store.WebhookActor(job.DataSourceID), Action: dsar.AuditWebhookCallback,
		Detail: detail}); err != nil {
		s.Log.Error("webhook callback: audit", "job", job.ID, "err", err) // applied already: the answer says so
	}
	c.JSON(http.StatusOK, gin.H{"job_id": job.ID, "status": res.Status, "file_ids": fileIDs})
}

// callbackFile is a checked file of a callback.
type callbackFile struct {
	name, contentType string
	content           []byte
}

// callbackResult reads and checks a callback's body against its job:
// status, an outcome that fits the request's type, files only for an
// access request's data. EBADREQUEST, EUNSUPPORTED or EINVALID naming
// the field.
func (s *Server) callbackResult(c *gin.Context, job store.WebhookJob, body []byte) (webhook.Result, []callbackFile, error) {
	var res webhook.Result
	if ct := c.ContentType(); ct != "application/json" {
		return res, nil, dsar.Errorf(dsar.EUNSUPPORTED, "send the result as application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		return res, nil, dsar.Errorf(dsar.EBADREQUEST, "the body is not the JSON result of docs/webhooks.md: %v", err)
	}
	bad := map[string]string{}
	switch res.Status {
	case webhook.StatusDone:
		outcomes := []dsar.TaskOutcome{dsar.TaskNoData, dsar.TaskDataProvided}
		if job.RequestType == dsar.RequestDeletion {
			outcomes = []dsar.TaskOutcome{dsar.TaskNoData, dsar.TaskErased}
		}
		ok := false
		for _, o := range outcomes {
			ok = ok || res.Outcome == string(o)
		}
		if !ok {
			bad["outcome"] = "must be " + dsar.TaskOutcomesText(outcomes...) + " for a " + string(job.RequestType) + " job"
		}
	case webhook.StatusFailed:
		if res.Outcome != "" {
			bad["outcome"] = "must be empty when the status is failed"
		}
	default:
		bad["status"] = "must be done or failed"
	}
	switch {
	case res.RecordCount < 0:
		bad["record_count"] = "must not be negative"
	case res.Outcome == string(dsar.TaskNoData) && res.RecordCount != 0:
		bad["record_count"] = "must be 0 with the outcome no_data"
	}
	if utf8.RuneCountInString(res.Message) > maxCallbackMessage {
		bad["message"] = fmt.Sprintf("must be at most %d characters", maxCallbackMessage)
	}
	if len(res.Files) > 0 && res.Outcome != string(dsar.TaskDataProvided) {
		bad["files"] = "files come only with the outcome data_provided (an info job)"
	}
	if len(res.Files) > maxCallbackFiles {
		bad["files"] = fmt.Sprintf("at most %d files", maxCallbackFiles)
	}
	if len(bad) > 0 {
		return res, nil, dsar.Invalid(bad)
	}
	files := make([]callbackFile, 0, len(res.Files))
	for i, f := range res.Files {
		field := fmt.Sprintf("files[%d]", i)
		name, err := cleanFileName(f.Name)
		if err != nil {
			return res, nil, renameField(err, "file", field+".name")
		}
		content, err := base64.StdEncoding.DecodeString(f.ContentBase64)
		switch {
		case err != nil:
			return res, nil, dsar.Invalid(map[string]string{field + ".content_base64": "must be standard base64"})
		case len(content) == 0:
			return res, nil, dsar.Invalid(map[string]string{field + ".content_base64": "the file is empty"})
		case int64(len(content)) > s.Config.Fulfilment.MaxFileSize:
			return res, nil, &dsar.Error{Code: dsar.ETOOLARGE, Message: "a file is larger than " + humanBytes(s.Config.Fulfilment.MaxFileSize),
				Fields: map[string]string{field + ".content_base64": "must be at most " + humanBytes(s.Config.Fulfilment.MaxFileSize)}}
		}
		ct, err := exportType(content[:min(len(content), 512)], name)
		if err != nil {
			return res, nil, renameField(err, "file", field+".content_base64")
		}
		files = append(files, callbackFile{name: name, contentType: ct, content: content})
	}
	return res, files, nil
}

// renameField names a checked field as the callback's body calls it.
func renameField(err error, from, to string) error {
	var e *dsar.Error
	if errors.As(err, &e) && e.Fields != nil {
		if why, ok := e.Fields[from]; ok {
			return &dsar.Error{Code: e.Code, Message: e.Message, Fields: map[string]string{to: why}}
		}
	}
	return err
}

// applyCallback stores a claimed callback's files as task files of the
// job's task and completes the job's activity: with the result, or, for
// "failed", with a WebhookRejected failure carrying the owner's message.
// It returns the files it stored, also on failure (for undoCallback).
func (s *Server) applyCallback(ctx context.Context, job store.WebhookJob, res webhook.Result, files []callbackFile) ([]string, error) {
	tt, err := s.DB.WebhookTaskToken(s.Keys, job)
	if err != nil {
		return nil, err
	}
	if res.Status == webhook.StatusFailed {
		msg := "the data source's system could not do the job"
		if res.Message != "" {
			msg += ": " + res.Message
		}
		return nil, s.Temporal.CompleteActivity(ctx, tt, nil,
			temporal.NewNonRetryableApplicationError(msg, activities.ErrTypeWebhookRejected, nil))
	}
	ids := []string{}
	for _, f := range files {
		tf, err := s.DB.AddTaskFile(ctx, s.Keys, store.NewTaskFile{RequestID: job.RequestID, DataSourceID: job.DataSourceID,
			Name: f.name, ContentType: f.contentType, Content: bytes.NewReader(f.content), MaxSize: s.Config.Fulfilment.MaxFileSize,
			SystemActor: store.WebhookActor(job.DataSourceID)})
		if err != nil {
			return ids, err
		}
		ids = append(ids, tf.ID)
	}
	result := activities.WebhookJobResult{Outcome: dsar.TaskOutcome(res.Outcome), RecordCount: res.RecordCount, FileIDs: ids}
	return ids, s.Temporal.CompleteActivity(ctx, tt, result, nil)
}

// notWaiting reports whether applying a callback failed because its job
// no longer waits for it: Temporal knows no such activity (it timed out, or
// the child was cancelled when staff switched the task to manual), or the
// task takes no more files (completed, its request closed or its package
// built).
func notWaiting(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf) || dsar.ErrorCode(err) == dsar.ECONFLICT
}

// undoCallback takes back what a callback that failed to apply stored: its
// files; and, unless the job's activity no longer waits, its claim, so the
// owner can send it again. It outlives the request's context.
func (s *Server) undoCallback(job store.WebhookJob, msgID string, fileIDs []string, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.DB.DeleteTaskFiles(ctx, job.RequestID, fileIDs); err != nil {
		s.Log.Error("webhook callback: delete the files of a callback not applied", "job", job.ID, "err", err)
	}
	if notWaiting(cause) {
		return
	}
	if err := s.DB.ReleaseWebhookJob(ctx, job.ID, msgID); err != nil {
		s.Log.Error("webhook callback: release a callback not applied", "job", job.ID, "err", err)
	}
}

// refuseCallback answers a refused callback with r's error, and records the
// refusal in the request's audit trail.
func (s *Server) refuseCallback(c *gin.Context, job store.WebhookJob, r callbackRefusal) {
	detail := map[string]any{"data_source_id": job.DataSourceID, "job_id": job.ID, "reason": r.reason}
	if _, err := s.DB.AppendAudit(c.Request.Context(), store.Audit{RequestID: job.RequestID, ActorKind: store.ActorSystem,
		ActorID: store.WebhookActor(job.DataSourceID), Action: dsar.AuditWebhookRefused, Detail: detail}); err != nil {
		s.Log.Error("webhook callback: audit a refusal", "job", job.ID, "err", err)
	}
	s.fail(c, r.err)
}
