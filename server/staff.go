package server

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// staffRoutes are the staff API's routes.
func (s *Server) staffRoutes() {}

// requireStaff lets through only requests with a valid staff session.
// Until staff sessions exist, nobody is let through.
func (s *Server) requireStaff() gin.HandlerFunc {
	return func(c *gin.Context) {
		s.failWith(c, http.StatusUnauthorized, "unauthorized", "a staff session is required", nil)
	}
}
