package server

import (
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// The connector API: what a data source's connector (dsar connector, in
// the data owner's network) calls, with the source's connector token as
// its Bearer token, scoped to that source: the verified email of a
// request's subject while the source has an open automated task on it, and
// resumable uploads of exports, part by part, that become a task file of
// that task. The token is made (and remade, voiding the old) by an org
// owner or admin.

// connectorRoutes registers the connector token route and the connector
// API.
func (s *Server) connectorRoutes() {
	s.handle(http.MethodPost, "/api/v1/data-sources/:id/connector-token", s.newConnectorToken)
	s.handle(http.MethodGet, "/api/v1/connector/requests/:request_id/subject", s.connectorOnly(s.connectorSubject))
	s.handle(http.MethodPost, "/api/v1/connector/uploads", s.connectorOnly(s.createConnectorUpload))
	s.handle(http.MethodPut, "/api/v1/connector/uploads/:id/parts/:n", s.connectorOnly(s.putConnectorPart))
	s.handle(http.MethodPost, "/api/v1/connector/uploads/:id/completion", s.connectorOnly(s.completeConnectorUpload))
}

// newConnectorToken is POST /api/v1/data-sources/{id}/connector-token: a
// new token for the source's connector, shown once (201 {token}); the
// source's previous token stops working.
func (s *Server) newConnectorToken(c *gin.Context) {
	token, err := s.DB.NewConnectorToken(c.Request.Context(), c.Param("id"), staffUser(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"token": token})
}

// connectorSourceKey holds the data source of the calling connector.
const connectorSourceKey = "connector_source"

// connectorOnly runs h for a caller with a valid connector token (401
// otherwise), the token's data source in the context.
func (s *Server) connectorOnly(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="connector"`)
			s.fail(c, dsar.Errorf(dsar.EUNAUTHORIZED, "send the data source's connector token as Authorization: Bearer"))
			return
		}
		source, err := s.DB.ConnectorSource(c.Request.Context(), strings.TrimSpace(token))
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="connector"`)
			s.fail(c, err)
			return
		}
		c.Set(connectorSourceKey, source)
		h(c)
	}
}

func connectorSource(c *gin.Context) string { return c.GetString(connectorSourceKey) }

// connectorSubject is GET /api/v1/connector/requests/{request_id}/subject:
// {email}, the subject's verified email, while the source has an open
// automated task on the request (404 otherwise), each read audited.
func (s *Server) connectorSubject(c *gin.Context) {
	email, err := s.DB.ConnectorSubject(c.Request.Context(), s.Keys, c.Param("request_id"), connectorSource(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"email": email})
}

// connectorFileType is the stored content type of a connector's export,
// by its name's extension: JSON lines, JSON or CSV.
func connectorFileType(name string) (string, bool) {
	switch ext := strings.ToLower(path.Ext(name)); ext {
	case ".jsonl", ".ndjson", ".json", ".csv":
		return textTypes[ext], true
	}
	return "", false
}

// createConnectorUpload is POST /api/v1/connector/uploads {request_id,
// name}: 201 {upload_id}, an upload for the source's open automated task
// on the request.
func (s *Server) createConnectorUpload(c *gin.Context) {
	var in struct {
		RequestID string `json:"request_id"`
		Name      string `json:"name"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if in.RequestID == "" {
		s.fail(c, dsar.Invalid(map[string]string{"request_id": "required"}))
		return
	}
	name, err := cleanFileName(in.Name)
	if err != nil {
		var de *dsar.Error
		if errors.As(err, &de) {
			err = &dsar.Error{Code: dsar.EINVALID, Message: de.Message, Fields: map[string]string{"name": de.Fields["file"]}}
		}
		s.fail(c, err)
		return
	}
	if _, ok := connectorFileType(name); !ok {
		s.fail(c, dsar.Invalid(map[string]string{"name": "must end in .jsonl, .ndjson, .json or .csv"}))
		return
	}
	id, err := s.DB.CreateConnectorUpload(c.Request.Context(), s.Keys, in.RequestID, connectorSource(c), name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"upload_id": id})
}

// putConnectorPart is PUT /api/v1/connector/uploads/{id}/parts/{n}: the
// body is part n (1 up), sealed as it is stored; sending n again replaces
// it. 204; 413 past the part's or the file's limit; 409 once completed or
// when the task takes no more files.
func (s *Server) putConnectorPart(c *gin.Context) {
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 || n > store.MaxUploadParts {
		s.fail(c, dsar.Invalid(map[string]string{"n": "must be a part number from 1 to " + strconv.Itoa(store.MaxUploadParts)}))
		return
	}
	tooBig := &dsar.Error{Code: dsar.ETOOLARGE, Message: "a part is at most " + humanBytes(store.MaxUploadPart),
		Fields: map[string]string{"body": "send at most " + humanBytes(store.MaxUploadPart) + " a part"}}
	if c.Request.ContentLength > store.MaxUploadPart {
		s.fail(c, tooBig)
		return
	}
	s.allowTransfer(c, store.MaxUploadPart, true)
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, store.MaxUploadPart))
	if err != nil {
		s.fail(c, bodyError(err, tooBig))
		return
	}
	limit := s.Config.Fulfilment.MaxFileSize
	err = s.DB.PutConnectorPart(c.Request.Context(), s.Keys, connectorSource(c), c.Param("id"), n, data, limit)
	if dsar.ErrorCode(err) == dsar.ETOOLARGE {
		err = &dsar.Error{Code: dsar.ETOOLARGE, Message: "the export is larger than " + humanBytes(limit),
			Fields: map[string]string{"body": "the parts together must be at most " + humanBytes(limit)}}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// completeConnectorUpload is POST /api/v1/connector/uploads/{id}/completion
// {parts}: parts 1..parts become a task file of the source's task; 200
// {file_id, sha256, size}, the same again for a completed upload; 409
// naming a missing part.
func (s *Server) completeConnectorUpload(c *gin.Context) {
	var in struct {
		Parts int `json:"parts"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if in.Parts < 1 || in.Parts > store.MaxUploadParts {
		s.fail(c, dsar.Invalid(map[string]string{"parts": "the number of parts sent, from 1 to " + strconv.Itoa(store.MaxUploadParts)}))
		return
	}
	limit := s.Config.Fulfilment.MaxFileSize
	f, err := s.DB.CompleteConnectorUpload(c.Request.Context(), s.Keys, connectorSource(c), c.Param("id"), in.Parts,
		func(name string) string { t, _ := connectorFileType(name); return t }, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"file_id": f.ID, "sha256": f.SHA256, "size": f.Size})
}
