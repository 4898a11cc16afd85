package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/opendsar/dsar/workflows"
)

// service is the DSAR service as a connector sees it, for one source: the
// subject's email of a request, and resumable uploads of exports. Every
// call is outbound, with the source's connector token.
type service struct {
	base   string
	token  string
	source string
	hc     *http.Client
}

// serviceError is a refusal by the service.
type serviceError struct {
	Status  int
	Message string
}

func (e *serviceError) Error() string {
	return fmt.Sprintf("the service answered %d: %s", e.Status, e.Message)
}

// call sends a request and decodes a JSON answer into out (when not nil).
func (s *service) call(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the service: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("the service: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string }
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error.Message == "" {
			e.Error.Message = http.StatusText(resp.StatusCode)
		}
		return &serviceError{Status: resp.StatusCode, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

func (s *service) postJSON(ctx context.Context, path string, in, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return s.call(ctx, http.MethodPost, path, bytes.NewReader(raw), "application/json", out)
}

// subject is the verified email of the request's subject.
func (s *service) subject(ctx context.Context, requestID string) (string, error) {
	var out struct{ Email string }
	if err := s.call(ctx, http.MethodGet, "/api/v1/connector/requests/"+requestID+"/subject", nil, "", &out); err != nil {
		return "", s.refusal("the subject's email", err)
	}
	return out.Email, nil
}

// createUpload starts an upload of the request's export named name.
func (s *service) createUpload(ctx context.Context, requestID, name string) (string, error) {
	var out struct {
		UploadID string `json:"upload_id"`
	}
	if err := s.postJSON(ctx, "/api/v1/connector/uploads", map[string]string{"request_id": requestID, "name": name}, &out); err != nil {
		return "", s.refusal("starting the upload", err)
	}
	return out.UploadID, nil
}

// putPart sends part n of an upload; sending n again replaces it.
func (s *service) putPart(ctx context.Context, uploadID string, n int, data []byte) error {
	err := s.call(ctx, http.MethodPut, "/api/v1/connector/uploads/"+uploadID+"/parts/"+strconv.Itoa(n),
		bytes.NewReader(data), "application/octet-stream", nil)
	return s.refusal("part "+strconv.Itoa(n)+" of the upload", err)
}

// uploaded is the task file an upload became.
type uploaded struct {
	FileID string `json:"file_id"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// complete makes parts 1..parts of an upload the task's file; completing
// again answers the same file.
func (s *service) complete(ctx context.Context, uploadID string, parts int) (uploaded, error) {
	var out uploaded
	err := s.postJSON(ctx, "/api/v1/connector/uploads/"+uploadID+"/completion", map[string]int{"parts": parts}, &out)
	return out, s.refusal("completing the upload", err)
}

// refusal says what a service error means for the step: a refused token
// or a task that no longer takes the connector's work cannot be fixed by
// retrying (ConnectorConfig); anything else (the network, the service
// down or busy, a task not yet visible) is retried.
func (s *service) refusal(what string, err error) error {
	se, ok := err.(*serviceError)
	if !ok {
		return err
	}
	switch se.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return nonRetryable(workflows.ErrConnectorConfig, "source %s, %s: the service refused the connector token (%d: %s); set a new token in the connector's config",
			s.source, what, se.Status, se.Message)
	case http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusGone:
		return nonRetryable(workflows.ErrConnectorConfig, "source %s, %s: the service refused it (%d: %s)", s.source, what, se.Status, se.Message)
	}
	return fmt.Errorf("source %s, %s: %w", s.source, what, err)
}

// newHTTPClient is the client of the service's API.
func newHTTPClient() *http.Client { return &http.Client{Timeout: 5 * time.Minute} }
