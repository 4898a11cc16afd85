package server

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// Who may call a route.
const (
	public = "public" // anyone
	staff  = "staff"  // a staff session with one of the row's roles
	portal = "portal" // a requester's portal session (checked by the portal's own middleware): 401 without
	page   = "page"   // a portal page: without a portal session, a redirect to /portal/login
	// connector: a data source's connector token (connector.go), scoped to
	// that source: 401 without one
	connector = "connector"
)

// rule is one row of the access table: who may call a route, what a staff
// user of another role gets, and what the route shows of which objects.
type rule struct {
	Method string
	Path   string // as registered with Gin
	Who    string // public, staff, portal or page
	Roles  []dsar.Role
	// Denied is the status for a staff user without one of Roles: 403, or
	// 404 where even the existence of the thing is not theirs to know.
	Denied int
	Scope  string // the object-level rule, in words
	// MFA names what a staff session that still owes its second factor
	// may call the route for (store.MFATOTP, store.MFAEnrol); any other
	// such session gets 401.
	MFA []string
}

// accessTable is THE table of who may do what, for every route of the
// server. Staff routes get their guards from it (s.guard); the authorization
// test walks every route × every role against it, and the OpenAPI test
// checks that it and openapi.yaml list the same routes as the router.
func accessTable() []rule {
	var (
		everyone       = dsar.Roles // signed-in staff of any role, operators too
		workers        = []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin, dsar.RoleManager, dsar.RoleSourceOwner}
		owners         = []dsar.Role{dsar.RoleOrgOwner}
		administrators = []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin}
		queueWorkers   = []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin, dsar.RoleManager}
		// Operators read Temporal's histories and nothing else: no queue,
		// no request, no user, no data source.
		codecReaders = []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin, dsar.RoleOperator}
	)
	var (
		partial   = []string{store.MFATOTP, store.MFAEnrol}
		enrolling = []string{store.MFAEnrol}
	)
	const (
		ownTasks   = "source owners: only requests with a task of a data source they own (else 404), and only those tasks"
		ownSource  = "source owners: only tasks of data sources they own or given to them (else 404); others: any task"
		ownRequest = "the requester's own requests only (else 404)"
		devOnly    = "development only: exists only with the outbox mailer"
	)
	return []rule{
		// Operations.
		{Method: "GET", Path: "/healthz", Who: public},
		{Method: "GET", Path: "/readyz", Who: public},
		{Method: "GET", Path: "/metrics", Who: public, Scope: "keep it off the public network: http.metrics_addr serves it on an internal listener instead, or a proxy rule"},
		{Method: "OPTIONS", Path: "/codec/:op", Who: public, Scope: "CORS preflight for the Temporal UI"},
		{Method: "POST", Path: "/codec/encode", Who: staff, Roles: administrators, Denied: http.StatusForbidden,
			Scope: "seals a payload as the service would: whoever can also reach Temporal could act as it, so not operators"},
		{Method: "POST", Path: "/codec/decode", Who: staff, Roles: codecReaders, Denied: http.StatusForbidden,
			Scope: "reads any workflow's payloads (the Temporal UI); each call audited"},
		{Method: "GET", Path: "/openapi.yaml", Who: public},
		{Method: "GET", Path: "/static/*path", Who: public},
		{Method: "GET", Path: "/theme.css", Who: public},
		{Method: "GET", Path: "/favicon.ico", Who: public},
		{Method: "GET", Path: "/console", Who: public, Scope: "the staff console page; its script signs in to the staff API"},
		{Method: "GET", Path: "/console/*path", Who: public, Scope: "the staff console page; its script signs in to the staff API"},

		// Public: the form and email verification.
		{Method: "GET", Path: "/", Who: public},
		{Method: "POST", Path: "/", Who: public, Scope: "rate limited per address"},
		{Method: "GET", Path: "/embed", Who: public},
		{Method: "POST", Path: "/embed", Who: public, Scope: "rate limited per address"},
		{Method: "GET", Path: "/submitted", Who: public},
		{Method: "GET", Path: "/api/v1/captcha", Who: public},
		{Method: "POST", Path: "/api/v1/requests", Who: public, Scope: "rate limited per address"},
		{Method: "GET", Path: "/verify-email", Who: public},
		{Method: "POST", Path: "/verify-email", Who: public, Scope: "rate limited per address"},
		{Method: "POST", Path: "/api/v1/email-verifications", Who: public, Scope: "rate limited per address"},

		// The requester's portal.
		{Method: "POST", Path: "/api/v1/portal/accounts", Who: public, Scope: "needs a verification or invitation token"},
		{Method: "POST", Path: "/api/v1/portal/sessions", Who: public, Scope: "rate limited per network; backoff per account and network, a captcha past many failures of the account"},
		{Method: "POST", Path: "/api/v1/portal/sign-in-links", Who: public,
			Scope: "the same answer for any address; mail only to addresses requests were made with, within a budget per address (and so per account)"},
		{Method: "POST", Path: "/api/v1/portal/sign-ins", Who: public, Scope: "needs an emailed sign-in link's token; rate limited per client address"},
		{Method: "PUT", Path: "/api/v1/portal/password", Who: portal, Scope: "the signed-in account's own password"},
		{Method: "DELETE", Path: "/api/v1/portal/sessions", Who: portal},
		{Method: "GET", Path: "/api/v1/portal/requests", Who: portal, Scope: ownRequest},
		{Method: "GET", Path: "/api/v1/portal/requests/:id", Who: portal, Scope: ownRequest},
		{Method: "GET", Path: "/api/v1/portal/requests/:id/messages", Who: portal, Scope: ownRequest},
		{Method: "POST", Path: "/api/v1/portal/requests/:id/messages", Who: portal, Scope: ownRequest},
		{Method: "GET", Path: "/api/v1/portal/requests/:id/attachments/:attachment_id", Who: portal, Scope: ownRequest},
		{Method: "POST", Path: "/api/v1/portal/requests/:id/withdrawal", Who: portal, Scope: ownRequest},
		{Method: "POST", Path: "/api/v1/portal/requests/:id/appeal", Who: portal, Scope: ownRequest},
		{Method: "GET", Path: "/api/v1/portal/requests/:id/package", Who: portal, Scope: ownRequest + "; only once published, until it expires"},
		{Method: "GET", Path: "/portal/login", Who: public},
		{Method: "POST", Path: "/portal/login", Who: public, Scope: "rate limited per network; backoff per account and network, a captcha past many failures of the account"},
		{Method: "POST", Path: "/portal/logout", Who: public, Scope: "ends the portal session, if any"},
		{Method: "GET", Path: "/portal/accounts/new", Who: public, Scope: "needs a verification or invitation token"},
		{Method: "POST", Path: "/portal/accounts", Who: public, Scope: "needs a verification or invitation token"},
		{Method: "GET", Path: "/portal/sign-in", Who: public, Scope: "an emailed sign-in link's page; it uses nothing itself"},
		{Method: "GET", Path: "/portal", Who: page, Scope: ownRequest},
		{Method: "GET", Path: "/portal/requests/:id", Who: page, Scope: ownRequest},
		{Method: "POST", Path: "/portal/requests/:id/messages", Who: page, Scope: ownRequest},
		{Method: "GET", Path: "/portal/requests/:id/attachments/:attachment_id", Who: page, Scope: ownRequest},
		{Method: "POST", Path: "/portal/requests/:id/withdrawal", Who: page, Scope: ownRequest},
		{Method: "POST", Path: "/portal/requests/:id/appeal", Who: page, Scope: ownRequest},
		{Method: "GET", Path: "/portal/requests/:id/package", Who: page, Scope: ownRequest + "; only once published, until it expires"},

		// The development mailbox (registered only with the outbox mailer, in dev mode).
		{Method: "GET", Path: "/dev/mailbox", Who: public, Scope: devOnly},
		{Method: "GET", Path: "/dev/mailbox.json", Who: public, Scope: devOnly},
		{Method: "GET", Path: "/dev/mailbox/:id", Who: public, Scope: devOnly},
		{Method: "GET", Path: "/dev/mailbox/:id/html", Who: public, Scope: devOnly},

		// Staff: sessions and users.
		{Method: "POST", Path: "/api/v1/sessions", Who: public, Scope: "rate limited per network; backoff per account and network, a captcha past many failures of the account"},
		{Method: "GET", Path: "/api/v1/sessions/current", Who: staff, Roles: everyone, Denied: http.StatusForbidden, MFA: partial},
		{Method: "DELETE", Path: "/api/v1/sessions/current", Who: staff, Roles: everyone, Denied: http.StatusForbidden, MFA: partial},
		{Method: "POST", Path: "/api/v1/sessions/current/second-factor", Who: staff, Roles: everyone, Denied: http.StatusForbidden,
			MFA: []string{store.MFATOTP}, Scope: "the session the password gave; attempts limited per user"},
		{Method: "POST", Path: "/api/v1/me/totp", Who: staff, Roles: everyone, Denied: http.StatusForbidden, MFA: enrolling,
			Scope: "the signed-in user's own second factor"},
		{Method: "POST", Path: "/api/v1/me/totp/confirmation", Who: staff, Roles: everyone, Denied: http.StatusForbidden, MFA: enrolling,
			Scope: "the signed-in user's own second factor; attempts limited per user"},
		{Method: "DELETE", Path: "/api/v1/users/:id/totp", Who: staff, Roles: owners, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/auth/oidc/login", Who: public, Scope: "starts single sign-on (404 unless auth.oidc is set)"},
		{Method: "GET", Path: "/auth/oidc/callback", Who: public,
			Scope: "single sign-on's return: needs the login's state cookie, a valid ID token with its nonce, and a group with a role"},
		{Method: "PUT", Path: "/api/v1/me/password", Who: staff, Roles: everyone, Denied: http.StatusForbidden,
			Scope: "the signed-in user's own password; needs the current one, within the login backoff"},
		{Method: "GET", Path: "/api/v1/users", Who: staff, Roles: administrators, Denied: http.StatusForbidden,
			Scope: "admins read the list to choose data source owners"},
		{Method: "POST", Path: "/api/v1/users", Who: staff, Roles: owners, Denied: http.StatusForbidden},
		{Method: "PATCH", Path: "/api/v1/users/:id", Who: staff, Roles: owners, Denied: http.StatusForbidden,
			Scope: "an org owner cannot demote or disable themselves"},

		// Staff: data sources.
		{Method: "GET", Path: "/api/v1/data-sources", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/data-sources", Who: staff, Roles: administrators, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/data-sources/:id", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "PATCH", Path: "/api/v1/data-sources/:id", Who: staff, Roles: administrators, Denied: http.StatusForbidden},
		{Method: "DELETE", Path: "/api/v1/data-sources/:id", Who: staff, Roles: administrators, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/data-sources/:id/webhook-secret", Who: staff, Roles: administrators, Denied: http.StatusForbidden,
			Scope: "makes the source's webhook secret anew and shows it once; the old one stops working"},

		// Webhook sources' systems: a job's result, signed with the source's secret.
		{Method: "POST", Path: "/api/v1/webhooks/callbacks/:token", Who: public,
			Scope: "needs a webhook job's one-time callback token and the source's signature (docs/webhooks.md)"},

		// Staff: the queue and the actions.
		{Method: "GET", Path: "/api/v1/requests", Who: staff, Roles: workers, Denied: http.StatusForbidden, Scope: ownTasks},
		{Method: "GET", Path: "/api/v1/requests.csv", Who: staff, Roles: workers, Denied: http.StatusForbidden, Scope: ownTasks},
		{Method: "GET", Path: "/api/v1/requests/counts", Who: staff, Roles: workers, Denied: http.StatusForbidden, Scope: ownTasks},
		{Method: "POST", Path: "/api/v1/requests/manual", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden,
			Scope: "records a request that arrived another way; the requester still verifies the email address"},
		{Method: "GET", Path: "/api/v1/requests/:id", Who: staff, Roles: workers, Denied: http.StatusForbidden, Scope: ownTasks},
		{Method: "GET", Path: "/api/v1/requests/:id/identity-document", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/identity-verification", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "PUT", Path: "/api/v1/requests/:id/email", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden,
			Scope: "while the address is unverified: a new verification link goes to the corrected address"},
		{Method: "POST", Path: "/api/v1/requests/:id/assignments", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/tasks/:data_source_id/completion", Who: staff, Roles: workers,
			Denied: http.StatusForbidden, Scope: ownSource},
		{Method: "POST", Path: "/api/v1/requests/:id/tasks/:data_source_id/decline", Who: staff, Roles: workers,
			Denied: http.StatusForbidden, Scope: ownSource},
		{Method: "POST", Path: "/api/v1/requests/:id/tasks/:data_source_id/assignee", Who: staff, Roles: queueWorkers,
			Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/tasks/:data_source_id/automation/retry", Who: staff, Roles: workers,
			Denied: http.StatusForbidden, Scope: ownSource + "; while its automation needs attention"},
		{Method: "POST", Path: "/api/v1/requests/:id/tasks/:data_source_id/automation/manual", Who: staff, Roles: workers,
			Denied: http.StatusForbidden, Scope: ownSource + "; while the system runs the task"},
		{Method: "POST", Path: "/api/v1/requests/:id/tasks/:data_source_id/automation/approval", Who: staff, Roles: workers,
			Denied: http.StatusForbidden, Scope: ownSource + "; while a dry run waits for approval"},
		{Method: "POST", Path: "/api/v1/requests/:id/tasks/:data_source_id/files", Who: staff, Roles: workers,
			Denied: http.StatusForbidden, Scope: ownSource + "; while the task is open"},
		{Method: "GET", Path: "/api/v1/requests/:id/tasks/:data_source_id/files/:file_id", Who: staff, Roles: workers,
			Denied: http.StatusForbidden, Scope: ownSource},
		{Method: "GET", Path: "/api/v1/requests/:id/package", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/requests/:id/package/zip", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/package/approval", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/extension", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/pause", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden,
			Scope: "only where the request's jurisdiction rule allows the clock to stop"},
		{Method: "POST", Path: "/api/v1/requests/:id/resume", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/completion", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/rejection", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/appeals", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/appeals/:id", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/appeals/:id/decision", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden,
			Scope: "not the staff member who decided the request (403)"},
		{Method: "POST", Path: "/api/v1/requests/:id/closing-mail", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden,
			Scope: "only while a closing mail that failed can be sent again"},
		{Method: "GET", Path: "/api/v1/requests/:id/audit", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "POST", Path: "/api/v1/requests/:id/handler", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden,
			Scope: "the handler must be an active org owner, admin or manager"},
		{Method: "POST", Path: "/api/v1/requests/:id/legal-hold", Who: staff, Roles: administrators, Denied: http.StatusForbidden,
			Scope: "placing one needs a reason; requests opened before legal holds, while their workflow runs: 409"},
		{Method: "GET", Path: "/api/v1/requests/:id/audit.json", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden,
			Scope: "a file for a regulator: the request's audit events with the chain's hashes"},

		// Staff: compliance records and reports (no personal data).
		{Method: "GET", Path: "/api/v1/reports/metrics", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/reports/sla", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/reports/sla.svg", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/records.csv", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/records.json", Who: staff, Roles: queueWorkers, Denied: http.StatusForbidden},
		{Method: "GET", Path: "/api/v1/tasks", Who: staff, Roles: workers, Denied: http.StatusForbidden,
			Scope: "source owners: the tasks of data sources they own; others: all tasks"},
		{Method: "GET", Path: "/api/v1/requests/:id/messages", Who: staff, Roles: queueWorkers, Denied: http.StatusNotFound},
		{Method: "POST", Path: "/api/v1/requests/:id/messages", Who: staff, Roles: queueWorkers, Denied: http.StatusNotFound},
		{Method: "GET", Path: "/api/v1/requests/:id/attachments/:attachment_id", Who: staff, Roles: queueWorkers, Denied: http.StatusNotFound},

		// Automated data sources: the connector's token, and the connector API.
		{Method: "POST", Path: "/api/v1/data-sources/:id/connector-token", Who: staff, Roles: administrators, Denied: http.StatusForbidden,
			Scope: "shown once; a new token voids the source's previous one"},
		{Method: "GET", Path: "/api/v1/connector/requests/:request_id/subject", Who: connector,
			Scope: "the token's data source only: while it has an open automated task on the request (else 404); audited"},
		{Method: "POST", Path: "/api/v1/connector/uploads", Who: connector, Scope: "the token's data source's open automated tasks only"},
		{Method: "PUT", Path: "/api/v1/connector/uploads/:id/parts/:n", Who: connector, Scope: "the token's data source's uploads only"},
		{Method: "POST", Path: "/api/v1/connector/uploads/:id/completion", Who: connector, Scope: "the token's data source's uploads only; audited"},
	}
}

// accessRule finds the table's row for a route.
func accessRule(method, path string) (rule, bool) {
	for _, r := range accessTable() {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return rule{}, false
}

// guard returns the middleware the access table asks for on a route: for a
// staff route a staff session and one of its roles. A route missing from
// the table is a programming error, found at start-up.
func (s *Server) guard(method, path string) []gin.HandlerFunc {
	r, ok := accessRule(method, path)
	if !ok {
		panic(fmt.Sprintf("server: %s %s is not in the access table (access.go)", method, path))
	}
	if r.Who != staff {
		return nil
	}
	deny := s.requireRoles(r.Roles...)
	if r.Denied == http.StatusNotFound {
		deny = s.requireRolesOr404(r.Roles...)
	}
	return []gin.HandlerFunc{s.requireStaff(r.MFA...), deny}
}

// handle registers a route behind the guards the access table gives it.
func (s *Server) handle(method, path string, h gin.HandlerFunc) {
	s.engine.Handle(method, path, append(s.guard(method, path), h)...)
}
