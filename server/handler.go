package server

import (
	"net/http"

	"github.com/gin-gonic/gin"
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
	c.JSON(http.StatusOK, gin.H{"handler_id": handler})
}
