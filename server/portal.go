package server

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/passwords"
	"github.com/opendsar/dsar/store"
)

// Portal session cookies: the __Host- prefixed one over HTTPS (bound to
// this host, Secure, path /), the plain one over HTTP in development.
const (
	portalCookie       = "dsar_portal"
	portalCookieSecure = "__Host-dsar_portal"
)

// Context keys of the signed-in portal account and its session token.
const (
	ctxPortalAccount = "dsar.portal_account"
	ctxPortalToken   = "dsar.portal_token"
)

// portalRoutes are the end-user portal's routes: the JSON API under
// /api/v1/portal and the pages under /portal. The staff side of the
// messages (messages.go) is registered here too, as it shares the store.
func (s *Server) portalRoutes() {
	perAddress := NewLimiter(4 * s.Config.Auth.LoginPerMinute) // logins per client address
	tokens := NewLimiter(s.Config.Intake.RatePerMinute)

	api := s.engine.Group("/api/v1/portal")
	api.POST("/accounts", s.rateLimit(tokens), s.portalAPICreateAccount)
	api.POST("/sessions", func(c *gin.Context) { s.portalAPILogin(c, perAddress) })
	api.DELETE("/sessions", s.requirePortal(false), s.portalAPILogout)
	authed := api.Group("", s.requirePortal(false))
	authed.GET("/requests", s.portalAPIRequests)
	authed.GET("/requests/:id/messages", s.portalAPIMessages)
	authed.POST("/requests/:id/messages", s.portalAPIPostMessage)
	authed.GET("/requests/:id/attachments/:attachment_id", s.portalAttachment)
	authed.GET("/requests/:id/package", s.portalPackage)

	pages := s.engine.Group("/portal")
	pages.GET("/login", s.portalLoginPage)
	pages.POST("/login", func(c *gin.Context) { s.portalLoginForm(c, perAddress) })
	pages.POST("/logout", s.portalLogoutForm)
	pages.GET("/accounts/new", s.rateLimit(tokens), s.portalAccountPage)
	pages.POST("/accounts", s.rateLimit(tokens), s.portalAccountForm)
	pagesAuthed := pages.Group("", s.requirePortal(true))
	pagesAuthed.GET("", s.portalRequestsPage)
	pagesAuthed.GET("/requests/:id", s.portalRequestPage)
	pagesAuthed.POST("/requests/:id/messages", s.portalReplyForm)
	pagesAuthed.GET("/requests/:id/attachments/:attachment_id", s.portalAttachment)
	pagesAuthed.GET("/requests/:id/package", s.portalPackage)

	s.signInRoutes(NewLimiter(s.Config.Intake.RatePerMinute))
	s.messageRoutes()
}

// ---- sessions ----

// portalCookieName is the session cookie's name for this request.
func (s *Server) portalCookieName(c *gin.Context) string {
	if s.secure(c) {
		return portalCookieSecure
	}
	return portalCookie
}

// setPortalCookie sets (maxAge > 0) or clears (maxAge < 0) the session cookie.
func (s *Server) setPortalCookie(c *gin.Context, raw string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: s.portalCookieName(c), Value: raw, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(c), SameSite: http.SameSiteStrictMode})
}

// portalSessionToken is the session token the request carries: a Bearer
// token, or else the portal cookie. Empty if none.
func (s *Server) portalSessionToken(c *gin.Context) string {
	if h := c.GetHeader("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	v, err := c.Cookie(s.portalCookieName(c))
	if err != nil {
		return ""
	}
	return v
}

// requirePortal lets through only requests with a valid portal session and
// puts the account in the context for portalAccount. Others get 401, or
// for pages a redirect to the login page.
func (s *Server) requirePortal(page bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		deny := func(err error) {
			if page {
				c.Redirect(http.StatusSeeOther, "/portal/login")
				c.Abort()
				return
			}
			s.fail(c, err)
		}
		raw := s.portalSessionToken(c)
		if raw == "" {
			deny(dsar.Errorf(dsar.EUNAUTHORIZED, "a portal session is required: log in and send its token as a Bearer token"))
			return
		}
		sess, err := s.DB.Session(c.Request.Context(), store.SessionPortal, raw, s.Config.Auth.SessionIdle)
		if err != nil {
			deny(err)
			return
		}
		acc, err := s.DB.PortalAccount(c.Request.Context(), sess.SubjectID)
		if err != nil {
			if dsar.ErrorCode(err) == dsar.ENOTFOUND {
				err = dsar.Errorf(dsar.EUNAUTHORIZED, "the session is not valid; log in again")
			}
			deny(err)
			return
		}
		c.Set(ctxPortalAccount, acc)
		c.Set(ctxPortalToken, raw)
		c.Header("Cache-Control", "no-store")
		c.Next()
	}
}

// portalAccount is the signed-in requester's account, set by requirePortal.
func portalAccount(c *gin.Context) store.PortalAccount {
	v, _ := c.Get(ctxPortalAccount)
	acc, _ := v.(store.PortalAccount)
	return acc
}

// errPortalLogin is the one answer to a wrong email or a wrong password.
var errPortalLogin = dsar.Errorf(dsar.EUNAUTHORIZED, "the email address or the password is wrong")

// portalLogin checks an email and password within the limits and starts a
// session. It answers the raw session token; a positive wait means the
// caller is rate limited. Unknown email and wrong password give the same
// error and take the same time. The limits: perAddress per client network
// (in this process), and the backoff per account and network and per
// account (takeLogin, shared by every process through the database),
// keyed by the email's blind index whether or not an account exists, so
// the limit reveals nothing. captcha is a solved captcha, needed when the
// account failed too often (errLoginCaptcha).
func (s *Server) portalLogin(c *gin.Context, perAddress *Limiter, email, password, captcha string) (string, time.Duration, error) {
	fields := map[string]string{}
	if strings.TrimSpace(email) == "" {
		fields["email"] = "is required"
	}
	if password == "" {
		fields["password"] = "is required"
	}
	if len(fields) > 0 {
		return "", 0, dsar.Invalid(fields)
	}
	if ok, wait := perAddress.Allow(clientNetwork(c)); !ok {
		return "", wait, dsar.Errorf(dsar.ERATELIMITED, "too many attempts; try again later")
	}
	hash := s.Keys.BlindIndex(email)
	keys, attempt, err := s.takeLogin(c, rateScopePortalLogin, email, captcha)
	switch {
	case err != nil:
		return "", 0, err
	case attempt.NeedsCaptcha:
		return "", 0, errLoginCaptcha
	case !attempt.Allowed:
		return "", attempt.Wait, dsar.Errorf(dsar.ERATELIMITED, "too many attempts; try again later")
	}
	ctx := c.Request.Context()
	wrong := func(dummy string) (string, time.Duration, error) {
		if err := s.dummyPasswordCheck(ctx, dummy); err != nil {
			s.loginSucceeded(c, keys) // not checked (too busy): no failure to count
			return "", 0, err
		}
		return "", 0, errPortalLogin
	}
	if utf8.RuneCountInString(password) > passwords.Max {
		return wrong(password[:passwords.Max])
	}
	acc, err := s.DB.PortalAccountByEmailHash(ctx, hash)
	if err != nil {
		if dsar.ErrorCode(err) != dsar.ENOTFOUND {
			return "", 0, err
		}
		return wrong(password)
	}
	if acc.PasswordHash == "" { // opened by a sign-in link, no password set yet
		return wrong(password)
	}
	if err := s.checkPassword(ctx, acc.PasswordHash, password); err != nil {
		if errors.Is(err, errPasswordsBusy) {
			s.loginSucceeded(c, keys) // not checked (too busy): no failure to count
			return "", 0, err
		}
		return "", 0, errPortalLogin
	}
	s.loginSucceeded(c, keys)
	raw, err := s.DB.CreateSession(c.Request.Context(), store.SessionPortal, acc.ID, s.Config.Auth.SessionIdle, s.Config.Auth.SessionAbsolute)
	if err != nil {
		return "", 0, err
	}
	if err := s.DB.PortalLoggedIn(c.Request.Context(), acc.ID); err != nil {
		s.Log.Warn("portal login: record last login", "err", err)
	}
	s.setPortalCookie(c, raw, int(s.Config.Auth.SessionAbsolute.Seconds()))
	return raw, 0, nil
}

// checkNewPassword applies the portal's password rules (8 to 128
// characters, not a common password, no composition rules) and the
// confirmation, if given.
func checkNewPassword(password string, confirm *string) map[string]string {
	fields := map[string]string{}
	if why := passwords.Check(password, passwords.MinPortal); why != "" {
		fields["password"] = why
	}
	if confirm != nil && *confirm != password {
		fields["password_confirm"] = "does not match the password"
	}
	return fields
}

// ---- JSON API ----

// portalAPICreateAccount opens a portal account from a verification or
// invitation token: 201, or 404 (unknown token), 410 (used or expired),
// 409 (email not verified yet, or an account exists), 422 (password).
func (s *Server) portalAPICreateAccount(c *gin.Context) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	fields := checkNewPassword(in.Password, nil)
	if in.Token == "" {
		fields["token"] = "is required"
	}
	if len(fields) > 0 {
		s.fail(c, dsar.Invalid(fields))
		return
	}
	// The token first: a hash costs 19 MiB and a core, not to be spent on
	// a guess.
	if err := s.DB.CheckPortalToken(c.Request.Context(), in.Token); err != nil {
		s.fail(c, err)
		return
	}
	phc, err := s.hashPassword(c.Request.Context(), in.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	acc, err := s.DB.CreatePortalAccount(c.Request.Context(), in.Token, phc)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": acc.ID})
}

// portalAPILogin answers 201 {"token"} and sets the session cookie; a wrong
// email or password is 401 with the same answer for both.
func (s *Server) portalAPILogin(c *gin.Context, perAddress *Limiter) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Captcha  string `json:"captcha"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	raw, wait, err := s.portalLogin(c, perAddress, in.Email, in.Password, in.Captcha)
	if wait > 0 {
		tooMany(c, wait)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"token": raw})
}

// portalAPILogout ends the session: 204.
func (s *Server) portalAPILogout(c *gin.Context) {
	if err := s.DB.RevokeSession(c.Request.Context(), c.GetString(ctxPortalToken)); err != nil {
		s.fail(c, err)
		return
	}
	s.setPortalCookie(c, "", -1)
	c.Status(http.StatusNoContent)
}

// portalAPIRequests lists the requester's requests, each with its unread
// message count.
func (s *Server) portalAPIRequests(c *gin.Context) {
	reqs, err := s.DB.PortalRequests(c.Request.Context(), portalAccount(c).EmailHash)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": reqs})
}

// portalAPIMessages answers the messages of one of the requester's
// requests and how many were unread; reading marks them read.
func (s *Server) portalAPIMessages(c *gin.Context) {
	r, err := s.DB.PortalRequest(c.Request.Context(), portalAccount(c).EmailHash, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	msgs, err := s.DB.Messages(c.Request.Context(), s.Keys, r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	unread, err := s.DB.MarkMessagesRead(c.Request.Context(), r.ID, store.SenderRequester)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": messagesJSON(msgs, false, "/api/v1/portal/requests/"+r.ID), "unread": unread})
}

// portalAPIPostMessage stores the requester's message: 201 {id}.
func (s *Server) portalAPIPostMessage(c *gin.Context) {
	id, err := s.portalPostMessage(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": id})
}

// portalPostMessage reads and stores a requester's message on one of their
// requests (someone else's is ENOTFOUND) and returns its id.
func (s *Server) portalPostMessage(c *gin.Context) (string, error) {
	acc := portalAccount(c)
	r, err := s.DB.PortalRequest(c.Request.Context(), acc.EmailHash, c.Param("id"))
	if err != nil {
		return "", err
	}
	// A requester past their day's quota is refused before the message
	// and its files are read.
	quota := s.messageQuota()
	if err := s.DB.CheckMessageQuota(c.Request.Context(), r.ID, quota); err != nil {
		return "", err
	}
	in, err := s.readMessage(c)
	if err != nil {
		return "", err
	}
	msg, err := s.DB.AddMessage(c.Request.Context(), s.Keys, store.NewMessage{RequestID: r.ID, Sender: store.SenderRequester,
		ActorID: acc.ID, Body: in.Body, Attachments: in.Attachments, Quota: &quota})
	if err != nil {
		return "", err
	}
	return msg.ID, nil
}

// messageQuota is what a requester may send in a day (portal.*_per_day).
func (s *Server) messageQuota() store.MessageQuota {
	p := s.Config.Portal
	return store.MessageQuota{RequestCount: p.RequestMessagesPerDay, RequestBytes: p.RequestMessageBytesPerDay,
		AccountCount: p.AccountMessagesPerDay, AccountBytes: p.AccountMessageBytesPerDay}
}

// portalAttachment sends an attachment of one of the requester's requests.
func (s *Server) portalAttachment(c *gin.Context) {
	acc := portalAccount(c)
	r, err := s.DB.PortalRequest(c.Request.Context(), acc.EmailHash, c.Param("id"))
	if err != nil {
		s.portalFail(c, err)
		return
	}
	s.sendAttachment(c, r.ID, c.Param("attachment_id"), store.ActorRequester, acc.ID)
}

// ---- pages ----

// portalFail answers an error on a portal page: the not-found page for
// ENOTFOUND and EGONE on pages, the JSON error on the API.
func (s *Server) portalFail(c *gin.Context, err error) {
	if code := dsar.ErrorCode(err); strings.HasPrefix(c.Request.URL.Path, "/portal") && (code == dsar.ENOTFOUND || code == dsar.EGONE) {
		// A page, not JSON: "does not exist, or is no longer available"
		// (an expired download is 410).
		s.pages.Render(c, statusOf[code], "notfound", nil)
		c.Abort()
		return
	}
	s.fail(c, err)
}

// statusOfErr is the HTTP status for an error code.
func statusOfErr(err error) int {
	if st, ok := statusOf[dsar.ErrorCode(unavailable(err))]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// pageForm is a form's state on a page: the error summary and each field's
// error.
type pageForm struct {
	Error  string
	Fields map[string]string
	Notice string
}

// formOf turns an error into what a page form shows; internal errors are
// logged and shown generically.
func (s *Server) formOf(c *gin.Context, err error) pageForm {
	err = unavailable(err)
	if code := dsar.ErrorCode(err); code == dsar.EINTERNAL || code == dsar.EUNAVAILABLE {
		s.Log.Error("portal page failed", "route", c.FullPath(), "err", err)
	}
	var fields map[string]string
	if de, ok := err.(*dsar.Error); ok {
		fields = de.Fields
	}
	msg := dsar.ErrorMessage(err)
	if msg == "internal error" {
		msg = "Something went wrong on our side. Please try again in a moment."
	}
	return pageForm{Error: msg, Fields: fields}
}

// portalLoginView is the login page's data.
type portalLoginView struct {
	Form        pageForm
	Email       string
	LinkMinutes int // how long an emailed sign-in link works
}

// portalLoginPage shows the login form.
func (s *Server) portalLoginPage(c *gin.Context) {
	v := portalLoginView{LinkMinutes: s.signInLinkMinutes()}
	switch {
	case c.Query("account") == "created":
		v.Form.Notice = locale.T(langOf(c), "login.account_ready")
	case c.Query("logged_out") != "":
		v.Form.Notice = "You have logged out."
	}
	s.pages.Render(c, http.StatusOK, "portal_login", v)
}

// portalLoginForm logs in from the form and goes to the request list.
func (s *Server) portalLoginForm(c *gin.Context, perAddress *Limiter) {
	email, password := c.PostForm("email"), c.PostForm("password")
	_, wait, err := s.portalLogin(c, perAddress, email, password, c.PostForm("captcha"))
	if err != nil {
		status := statusOfErr(err)
		if wait > 0 {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			status = http.StatusTooManyRequests
		}
		s.pages.Render(c, status, "portal_login", portalLoginView{Form: s.formOf(c, err), Email: email, LinkMinutes: s.signInLinkMinutes()})
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal")
}

// portalLogoutForm ends the session and goes to the login page.
func (s *Server) portalLogoutForm(c *gin.Context) {
	if raw := s.portalSessionToken(c); raw != "" {
		if err := s.DB.RevokeSession(c.Request.Context(), raw); err != nil {
			s.Log.Error("portal logout", "err", err)
		}
	}
	s.setPortalCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/portal/login?logged_out=1")
}

// portalAccountView is the set-password page's data.
type portalAccountView struct {
	Form  pageForm
	Token string
	Ready bool // the token may open an account: show the form
}

// portalAccountPage shows the set-password form for a link's token, or
// why the link cannot be used.
func (s *Server) portalAccountPage(c *gin.Context) {
	token := c.Query("token")
	if err := s.DB.CheckPortalToken(c.Request.Context(), token); err != nil {
		s.pages.Render(c, statusOfErr(err), "portal_account_new", portalAccountView{Form: s.linkProblem(c, err)})
		return
	}
	s.pages.Render(c, http.StatusOK, "portal_account_new", portalAccountView{Token: token, Ready: true})
}

// linkProblem says in words why a link's token cannot open an account.
func (s *Server) linkProblem(c *gin.Context, err error) pageForm {
	f := s.formOf(c, err)
	switch dsar.ErrorCode(err) {
	case dsar.ENOTFOUND:
		f.Error = "This link is not valid. Check that you copied the whole address from the email."
	case dsar.EGONE:
		f.Error = "This link has expired or has already been used. If you already set a password, log in."
	}
	return f
}

// portalAccountForm sets the password from the form (token, password,
// password_confirm) and goes to the login page.
func (s *Server) portalAccountForm(c *gin.Context) {
	token, password, confirm := c.PostForm("token"), c.PostForm("password"), c.PostForm("password_confirm")
	fields := checkNewPassword(password, &confirm)
	if len(fields) > 0 {
		v := portalAccountView{Form: pageForm{Error: "Please correct the fields marked below.", Fields: fields}, Token: token, Ready: true}
		s.pages.Render(c, http.StatusUnprocessableEntity, "portal_account_new", v)
		return
	}
	create := func() error {
		if err := s.DB.CheckPortalToken(c.Request.Context(), token); err != nil { // before the hash, as the API
			return err
		}
		phc, err := s.hashPassword(c.Request.Context(), password)
		if err != nil {
			return err
		}
		_, err = s.DB.CreatePortalAccount(c.Request.Context(), token, phc)
		return err
	}
	if err := create(); err != nil {
		v := portalAccountView{Form: s.linkProblem(c, err)}
		if dsar.ErrorCode(err) == dsar.ECONFLICT {
			v.Form.Error = dsar.ErrorMessage(err)
		}
		s.pages.Render(c, statusOfErr(err), "portal_account_new", v)
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/login?account=created")
}

// portalRequestRow is one request on the portal's pages.
type portalRequestRow struct {
	ID          string
	Ref         string // a short reference, to tell requests of one type apart
	Type        string
	Status      string
	StatusLabel string
	Closed      bool
	Submitted   string
	SubmittedAt string
	Deadline    string
	DeadlineAt  string
	Unread      int
}

// requesterStatus is a status in words for the requester, in language l.
func requesterStatus(l locale.Lang, st dsar.Status) string {
	if id := "status." + string(st); locale.Has(id) {
		return locale.T(l, id)
	}
	return string(st)
}

// requestRow is request r on the portal's pages in language l, its dates
// those of zone loc.
func requestRow(l locale.Lang, loc *time.Location, r store.PortalRequest) portalRequestRow {
	return portalRequestRow{ID: r.ID, Ref: dsar.Reference(r.ID), Type: activities.RequestTypeIn(l, r.RequestType), Status: string(r.Status),
		StatusLabel: requesterStatus(l, r.Status), Closed: r.Status.Closed(), Submitted: locale.DateIn(l, r.SubmittedAt, loc),
		SubmittedAt: r.SubmittedAt.UTC().Format(time.RFC3339), Deadline: locale.DateIn(l, r.Deadline, loc),
		DeadlineAt: r.Deadline.UTC().Format(time.RFC3339), Unread: r.Unread}
}

// zoneOf is the time zone the requester reads request dates in: that of
// the configured rule with the request's rule id, where its deadline was
// counted (mail from the workflow uses the zone of the rule it carries);
// UTC for the default deadline, a rule without a zone, or one no longer
// configured. The pages show dates in it; the API answers UTC instants.
func (s *Server) zoneOf(rule string) *time.Location {
	loc, _ := s.Config.Jurisdictions.Zone(rule)
	return loc
}

// portalRequestsPage lists the requester's requests.
func (s *Server) portalRequestsPage(c *gin.Context) {
	reqs, err := s.DB.PortalRequests(c.Request.Context(), portalAccount(c).EmailHash)
	if err != nil {
		s.fail(c, err)
		return
	}
	rows := make([]portalRequestRow, 0, len(reqs))
	for _, r := range reqs {
		rows = append(rows, requestRow(langOf(c), s.zoneOf(r.Rule), r))
	}
	s.pages.Render(c, http.StatusOK, "portal_requests", gin.H{"Requests": rows})
}

// portalMessageRow is one message on the request page.
type portalMessageRow struct {
	ID          string
	Mine        bool
	From        string
	Body        string
	Sent        string
	SentAt      string
	New         bool
	Attachments []portalAttachmentRow
}

// portalAttachmentRow is one attachment on the request page.
type portalAttachmentRow struct {
	URL      string
	Filename string
	Size     string
}

// portalRequestView is the request page's data.
type portalRequestView struct {
	Request   portalRequestRow
	Facts     portalRequestFacts
	Messages  []portalMessageRow
	Form      pageForm
	Body      string
	MaxUpload string
	CanReply  bool
	// CanWithdraw: the request is open, so the requester may withdraw it.
	CanWithdraw bool
	// Package is the access package once published (or expired): nil when
	// there is none.
	Package *portalPackageRow
	// Appeal is the right to appeal and the appeal: nil when the request
	// has none and cannot have one.
	Appeal *portalAppealJSON
}

// portalPackageRow is the access package on the request page: the link
// while it can be downloaded, its size, and until when (or since when it
// is erased).
type portalPackageRow struct {
	Available bool
	URL       string
	Size      string
	Until     string // the expiry date, in words
	UntilAt   string // and for a machine
}

// portalRequestPage shows one of the requester's requests with its
// messages (marking them read) and the reply form.
func (s *Server) portalRequestPage(c *gin.Context) {
	s.renderRequestPage(c, http.StatusOK, pageForm{Notice: noticeOf(c.Query("sent"))}, "")
}

func noticeOf(sent string) string {
	if sent == "withdrawn" {
		return "Your request is withdrawn. If you had confirmed your email address, we have also sent you a confirmation there."
	}
	if sent == "appeal" {
		return "Your appeal is filed. We will write to you with our decision."
	}
	if sent != "" {
		return "Your message has been sent."
	}
	return ""
}

// renderRequestPage renders the request page with a reply form state.
func (s *Server) renderRequestPage(c *gin.Context, status int, form pageForm, body string) {
	about, err := s.aboutRequest(c.Request.Context(), langOf(c), portalAccount(c).EmailHash, c.Param("id"))
	if err != nil {
		s.portalFail(c, err)
		return
	}
	r := about.PortalRequest
	msgs, err := s.DB.Messages(c.Request.Context(), s.Keys, r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	pkg, err := s.portalPackageOf(c, r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	appeal, err := s.portalAppealOf(c, langOf(c), r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.DB.MarkMessagesRead(c.Request.Context(), r.ID, store.SenderRequester); err != nil {
		s.fail(c, err)
		return
	}
	loc := s.zoneOf(r.Rule)
	v := portalRequestView{Request: requestRow(langOf(c), loc, r), Facts: requestFacts(langOf(c), loc, about), Form: form, Body: body, MaxUpload: locale.Size(langOf(c), s.Config.Intake.MaxUploadBytes),
		CanReply:    r.Status != dsar.StatusPendingEmailVerification && r.Status != dsar.StatusExpired,
		CanWithdraw: !r.Status.Closed(), Appeal: appeal}
	if pkg != nil {
		v.Package = &portalPackageRow{Available: pkg.Available, Size: locale.Size(langOf(c), pkg.Size)}
		if pkg.Available {
			v.Package.URL = "/portal/requests/" + url.PathEscape(r.ID) + "/package"
		}
		if pkg.ExpiresAt != nil {
			v.Package.Until, v.Package.UntilAt = locale.DateIn(langOf(c), *pkg.ExpiresAt, loc), pkg.ExpiresAt.UTC().Format(time.RFC3339)
		}
	}
	for _, m := range msgs {
		row := portalMessageRow{ID: m.ID, Mine: m.Sender == store.SenderRequester, From: "You", Body: m.Body,
			Sent: locale.StampIn(langOf(c), m.CreatedAt, loc), SentAt: m.CreatedAt.UTC().Format(time.RFC3339),
			New: m.Sender == store.SenderStaff && m.ReadByRequesterAt == nil}
		if !row.Mine {
			row.From = "Privacy team"
		}
		for _, a := range m.Attachments {
			row.Attachments = append(row.Attachments, portalAttachmentRow{
				URL:      "/portal/requests/" + url.PathEscape(r.ID) + "/attachments/" + url.PathEscape(a.ID),
				Filename: a.Filename, Size: locale.Size(langOf(c), int64(a.Size))})
		}
		v.Messages = append(v.Messages, row)
	}
	s.pages.Render(c, status, "portal_request", v)
}

// portalReplyForm stores the requester's reply from the page's form and
// goes back to the request.
func (s *Server) portalReplyForm(c *gin.Context) {
	if _, err := s.portalPostMessage(c); err != nil {
		if dsar.ErrorCode(err) == dsar.ENOTFOUND {
			s.portalFail(c, err)
			return
		}
		s.renderRequestPage(c, statusOfErr(err), s.formOf(c, err), c.PostForm("body"))
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/requests/"+url.PathEscape(c.Param("id"))+"?sent=1#reply")
}
