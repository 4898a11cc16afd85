package server

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPI is the OpenAPI 3 document of every route, served at /openapi.yaml
// and kept true by a test that compares it with the router.
//
//go:embed openapi.yaml
var openAPI []byte

// staffRoutes are the staff API's routes (each behind the guards of the
// access table, access.go) and the OpenAPI document.
func (s *Server) staffRoutes() {
	s.engine.GET("/openapi.yaml", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/yaml; charset=utf-8", openAPI)
	})

	// Sessions: cfg.Auth.LoginPerMinute attempts a minute per client
	// network, and the login backoff per account (logins.go).
	s.handle(http.MethodPost, "/api/v1/sessions", s.login(NewLimiter(s.Config.Auth.LoginPerMinute)))
	s.handle(http.MethodGet, "/api/v1/sessions/current", s.currentSession)
	s.handle(http.MethodDelete, "/api/v1/sessions/current", s.logout)
	s.handle(http.MethodPost, "/api/v1/sessions/current/second-factor", s.secondFactor)
	s.handle(http.MethodPost, "/api/v1/me/totp", s.startTOTPEnrolment)
	s.handle(http.MethodPost, "/api/v1/me/totp/confirmation", s.confirmTOTPEnrolment)
	// Single sign-on's two steps, limited per client network like the
	// password logins (a flood of round trips costs the provider and us).
	sso := s.rateLimit(NewLimiter(4 * s.Config.Auth.LoginPerMinute))
	limited := func(h gin.HandlerFunc) gin.HandlerFunc {
		return func(c *gin.Context) {
			if sso(c); !c.IsAborted() {
				h(c)
			}
		}
	}
	s.handle(http.MethodGet, "/auth/oidc/login", limited(s.oidcLogin))
	s.handle(http.MethodGet, "/auth/oidc/callback", limited(s.oidcCallback))
	s.handle(http.MethodPut, "/api/v1/me/password", s.changeMyPassword)

	s.handle(http.MethodGet, "/api/v1/users", s.listUsers)
	s.handle(http.MethodPost, "/api/v1/users", s.createUser)
	s.handle(http.MethodPatch, "/api/v1/users/:id", s.updateUser)
	s.handle(http.MethodDelete, "/api/v1/users/:id/totp", s.resetTOTP)

	s.handle(http.MethodGet, "/api/v1/data-sources", s.listDataSources)
	s.handle(http.MethodPost, "/api/v1/data-sources", s.createDataSource)
	s.handle(http.MethodGet, "/api/v1/data-sources/:id", s.getDataSource)
	s.handle(http.MethodPatch, "/api/v1/data-sources/:id", s.updateDataSource)
	s.handle(http.MethodDelete, "/api/v1/data-sources/:id", s.deleteDataSource)
	s.handle(http.MethodPost, "/api/v1/data-sources/:id/webhook-secret", s.rotateWebhookSecret)

	s.handle(http.MethodGet, "/api/v1/requests", s.listRequests)
	s.handle(http.MethodGet, "/api/v1/requests.csv", s.exportRequests)
	s.handle(http.MethodGet, "/api/v1/requests/counts", s.requestCounts)
	s.handle(http.MethodPost, "/api/v1/requests/manual", s.recordManual)
	s.handle(http.MethodGet, "/api/v1/requests/:id", s.getRequest)
	s.handle(http.MethodGet, "/api/v1/requests/:id/identity-document", s.identityDocument)
	s.handle(http.MethodPost, "/api/v1/requests/:id/identity-verification", s.verifyIdentity)
	s.handle(http.MethodPut, "/api/v1/requests/:id/email", s.correctEmail)
	s.handle(http.MethodPost, "/api/v1/requests/:id/assignments", s.assign)
	s.handle(http.MethodPost, "/api/v1/requests/:id/tasks/:data_source_id/completion", s.completeTask)
	s.handle(http.MethodPost, "/api/v1/requests/:id/tasks/:data_source_id/decline", s.declineTask)
	s.handle(http.MethodPost, "/api/v1/requests/:id/tasks/:data_source_id/assignee", s.reassignTask)
	s.handle(http.MethodPost, "/api/v1/requests/:id/tasks/:data_source_id/automation/retry", s.retryAutomation)
	s.handle(http.MethodPost, "/api/v1/requests/:id/tasks/:data_source_id/automation/manual", s.manualAutomation)
	s.handle(http.MethodPost, "/api/v1/requests/:id/tasks/:data_source_id/automation/approval", s.approveAutomation)
	s.handle(http.MethodPost, "/api/v1/requests/:id/tasks/:data_source_id/files", s.uploadTaskFile)
	s.handle(http.MethodGet, "/api/v1/requests/:id/tasks/:data_source_id/files/:file_id", s.taskFileDownload)
	s.handle(http.MethodGet, "/api/v1/requests/:id/package", s.getPackage)
	s.handle(http.MethodGet, "/api/v1/requests/:id/package/zip", s.packageZip)
	s.handle(http.MethodPost, "/api/v1/requests/:id/package/approval", s.approvePackage)
	s.handle(http.MethodPost, "/api/v1/requests/:id/extension", s.extend)
	s.handle(http.MethodPost, "/api/v1/requests/:id/pause", s.pauseClock)
	s.handle(http.MethodPost, "/api/v1/requests/:id/resume", s.resumeClock)
	s.handle(http.MethodPost, "/api/v1/requests/:id/completion", s.complete)
	s.handle(http.MethodPost, "/api/v1/requests/:id/rejection", s.reject)
	s.handle(http.MethodPost, "/api/v1/requests/:id/closing-mail", s.resendClosingMail)
	s.handle(http.MethodGet, "/api/v1/requests/:id/audit", s.requestAudit)
	s.handle(http.MethodPost, "/api/v1/requests/:id/handler", s.setHandler)
	s.handle(http.MethodPost, "/api/v1/requests/:id/legal-hold", s.setLegalHold)
	s.handle(http.MethodGet, "/api/v1/requests/:id/audit.json", s.auditFile)
	s.handle(http.MethodGet, "/api/v1/reports/metrics", s.reportMetrics)
	s.handle(http.MethodGet, "/api/v1/reports/sla", s.reportSLA)
	s.handle(http.MethodGet, "/api/v1/reports/sla.svg", s.reportSLAChart)
	s.handle(http.MethodGet, "/api/v1/records.csv", s.exportRecordsCSV)
	s.handle(http.MethodGet, "/api/v1/records.json", s.exportRecordsJSON)
	s.handle(http.MethodGet, "/api/v1/tasks", s.listTasks)
}
