package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
)

// statusOf maps each error code to its HTTP status: the one table.
var statusOf = map[string]int{
	dsar.EINVALID:      http.StatusUnprocessableEntity,
	dsar.EBADREQUEST:   http.StatusBadRequest,
	dsar.EUNAUTHORIZED: http.StatusUnauthorized,
	dsar.EFORBIDDEN:    http.StatusForbidden,
	dsar.ENOTFOUND:     http.StatusNotFound,
	dsar.ECONFLICT:     http.StatusConflict,
	dsar.EGONE:         http.StatusGone,
	dsar.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	dsar.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	dsar.ERATELIMITED:  http.StatusTooManyRequests,
	dsar.EUNAVAILABLE:  http.StatusServiceUnavailable,
	dsar.EINTERNAL:     http.StatusInternalServerError,
}

var errNotFound = dsar.Errorf(dsar.ENOTFOUND, "not found")

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong; Fields names each bad field.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// unavailable makes the error of a dependency that cannot be reached or
// does not answer in time (Postgres, Temporal) EUNAVAILABLE (503: try again
// later) instead of internal, keeping the cause for the log.
func unavailable(err error) error {
	if dsar.ErrorCode(err) != dsar.EINTERNAL {
		return err
	}
	var (
		down      *serviceerror.Unavailable
		late      *serviceerror.DeadlineExceeded
		exhausted *serviceerror.ResourceExhausted
	)
	if store.Unreachable(err) || errors.As(err, &down) || errors.As(err, &late) || errors.As(err, &exhausted) {
		return fmt.Errorf("%w: %w", errDependencyDown, err)
	}
	return err
}

var errDependencyDown = dsar.Errorf(dsar.EUNAVAILABLE, "the service cannot be reached right now; please try again in a few minutes")

// fail answers with the status and JSON body for err. Internal errors are
// logged and answered with a generic message: no stack, no SQL.
func (s *Server) fail(c *gin.Context, err error) {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		err = errNotFound
	}
	if errors.Is(err, errPasswordsBusy) { // a flood, not a fault: no error log
		c.Header("Retry-After", "1")
		s.failWith(c, http.StatusServiceUnavailable, dsar.EUNAVAILABLE, dsar.ErrorMessage(err), nil)
		return
	}
	err = unavailable(err)
	code := dsar.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.Log.Error("request failed", "route", c.FullPath(), "method", c.Request.Method, "err", err)
	}
	var fields map[string]string
	var de *dsar.Error
	if errors.As(err, &de) {
		fields = de.Fields
	}
	s.failWith(c, status, code, dsar.ErrorMessage(err), fields)
}

func (s *Server) failWith(c *gin.Context, status int, code, message string, fields map[string]string) {
	if l := langOf(c); requesterAPI(c) && l != locale.English {
		// The requester's own API (the portal's and the form's): its texts
		// in their language, as its pages show them; staff and other
		// clients without Accept-Language keep the one English vocabulary.
		message = locale.Error(l, message)
		translated := make(map[string]string, len(fields))
		for k, v := range fields {
			translated[k] = locale.Error(l, v)
		}
		if fields != nil {
			fields = translated
		}
		c.Header("Content-Language", string(l))
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Fields: fields}})
}

// requesterAPI reports whether the call is one of the requester's API
// routes: the portal's, the form's submission and its email verification.
func requesterAPI(c *gin.Context) bool {
	p := c.Request.URL.Path
	return strings.HasPrefix(p, "/api/v1/portal/") || p == "/api/v1/email-verifications" || p == "/api/v1/captcha" ||
		(p == "/api/v1/requests" && c.Request.Method == http.MethodPost)
}

// maxJSONBody bounds every JSON body the API reads.
const maxJSONBody = 1 << 20

// bindJSON decodes the request's JSON body into v, refusing bodies that are
// not JSON, too large, or hold unknown fields. Errors are *dsar.Error.
func bindJSON(c *gin.Context, v any) error {
	ct := c.ContentType()
	if ct != "application/json" {
		return dsar.Errorf(dsar.EUNSUPPORTED, "send the body as application/json")
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return dsar.Errorf(dsar.ETOOLARGE, "the body is larger than %d bytes", maxJSONBody)
		case errors.As(err, &ute) && ute.Field == "":
			return dsar.Errorf(dsar.EBADREQUEST, "the body must be a JSON object")
		case errors.As(err, &ute):
			return &dsar.Error{Code: dsar.EINVALID, Message: "a field has the wrong type",
				Fields: map[string]string{ute.Field: "must be " + jsonKind(ute.Type.Kind())}}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			if f == "" {
				f = `""` // a field with an empty name, named as sent
			}
			return &dsar.Error{Code: dsar.EINVALID, Message: "unknown field", Fields: map[string]string{f: "unknown field"}}
		case errors.Is(err, io.EOF):
			return dsar.Errorf(dsar.EBADREQUEST, "the body is empty")
		}
		return dsar.Errorf(dsar.EBADREQUEST, "the body is not valid JSON")
	}
	// Exactly one value: anything after it but white space is refused.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return dsar.Errorf(dsar.ETOOLARGE, "the body is larger than %d bytes", maxJSONBody)
		}
		return dsar.Errorf(dsar.EBADREQUEST, "the body must hold exactly one JSON object")
	}
	return nil
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}
