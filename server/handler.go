package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// setHandler is POST /api/v1/requests/{id}/handler {"user_id"}: the staff
// member who handles the request (an active org owner, admin or manager),
// or nobody for null, "" or no user_id. Answers with the handler recorded;
// the change is in the audit trail. 422 naming user_id for anyone else.
func (s *Server) setHandler(c *gin.Context) {
	var in struct {
		UserID *string `json:"user_id"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	userID := ""
	if in.UserID != nil {
		userID = *in.UserID
	}
	handler, err := s.DB.SetHandler(c.Request.Context(), c.Param("id"), userID, staffUser(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The workflow mirrors the handler in its DsarHandler search attribute
	// for operators. Not told (Temporal away), the handler is still set;
	// the answer says to try again, which tells it then.
	id := uuid.MustParse(c.Param("id")).String() // SetHandler found it: a request id
	h := workflows.HandlerSet{RequestID: id}
	if handler != nil {
		h.UserID = *handler
	}
	sctx, cancel := context.WithTimeout(c.Request.Context(), signalTimeout)
	defer cancel()
	err = s.Temporal.SignalWorkflow(sctx, workflows.WorkflowID(id), "", workflows.SignalHandlerSet, h)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) { // a closed request's workflow has ended: nothing to mirror
		s.Log.Warn("handler set, not mirrored in the workflow", "id", id, "err", err)
		s.fail(c, dsar.Errorf(dsar.EUNAVAILABLE, "the handler is set, but the request's workflow could not be told (for the Temporal UI); try again"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"handler_id": handler})
}
