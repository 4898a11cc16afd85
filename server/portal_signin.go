package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/store"
)

// rateScopeSignInLink is the budget of sign-in links an email address (by
// its blind index) is sent, shared by every process through the database.
const rateScopeSignInLink = "portal_sign_in_link"

// signInLinkSendTime bounds the background sending of one sign-in link:
// token, render, send and the audit of the mail.
const signInLinkSendTime = 30 * time.Second

// signInLinkAnswer is the one answer to a sign-in link request, whatever
// happened: known or unknown address, over the limit or not.
var signInLinkAnswer = gin.H{"message": "If requests were made with this email address, a sign-in link is on its way to it."}

// signInRoutes registers the emailed sign-in: asking for a link, using it,
// setting a password, and the page the link opens. perAddress limits each
// client address (in this process).
func (s *Server) signInRoutes(perAddress *Limiter) {
	api := s.engine.Group("/api/v1/portal")
	api.POST("/sign-in-links", s.rateLimit(perAddress), s.portalAPISignInLink)
	api.POST("/sign-ins", s.rateLimit(perAddress), s.portalAPISignIn)
	api.PUT("/password", s.requirePortal(false), s.rateLimit(perAddress), s.portalAPIPassword)
	api.GET("/requests/:id", s.requirePortal(false), s.portalAPIRequest)
	s.engine.GET("/portal/sign-in", s.portalSignInPage)
}

// portalAPISignInLink is POST /api/v1/portal/sign-in-links: 202 with the
// same body for any well-formed address, as soon for a known one as for an
// unknown one; a mail goes out (after the answer) only when requests were
// made with it and its budget allows. 422 for a missing or malformed
// address, which says nothing about who is known.
func (s *Server) portalAPISignInLink(c *gin.Context) {
	var in struct {
		Email string `json:"email"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	email := strings.TrimSpace(in.Email)
	switch {
	case email == "":
		s.fail(c, dsar.Invalid(map[string]string{"email": "is required"}))
		return
	case len(email) > maxEmailLen || !validEmail(email):
		s.fail(c, dsar.Invalid(map[string]string{"email": "enter an email address like name@example.com"}))
		return
	}
	if err := s.sendSignInLink(c.Request.Context(), langOf(c), email); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, signInLinkAnswer)
}

// sendSignInLink takes the budget of email (portal.sign_in_links_per_hour,
// taken whether or not the address is known) and looks the address up;
// when requests were made with it (or it has a portal account) and the
// budget allows, it sends the link in the background (deliverSignInLink).
// A known and an unknown address thus do the same work before the answer,
// and its timing does not tell whether the address made a request. It
// returns an error only for what fails whatever the address (the budget
// and the lookup). The address itself is never logged. The mail is in the
// language of the address's latest request, or l (the asking page's) when
// it has none.
func (s *Server) sendSignInLink(ctx context.Context, l locale.Lang, email string) error {
	hash := s.Keys.BlindIndex(email)
	ok, _, err := s.DB.TakeTokenPer(ctx, rateScopeSignInLink, hash, s.Config.Portal.SignInLinksPerHour, time.Hour)
	if err != nil || !ok {
		return err
	}
	addr, err := s.DB.PortalSignInAddress(ctx, hash)
	if err != nil || !addr.Known {
		return err
	}
	jurisdiction := ""
	if addr.LatestRequestID != "" {
		rl, err := s.DB.RequestLocaleOf(ctx, addr.LatestRequestID)
		if err != nil {
			return err
		}
		l, jurisdiction = rl.Language.Or(), rl.Jurisdiction
	}
	// The send outlives the request (whose answer goes out now) within a
	// deadline of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signInLinkSendTime)
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		defer cancel()
		s.deliverSignInLink(ctx, email, hash, addr.LatestRequestID, l, jurisdiction)
	}()
	return nil
}

// deliverSignInLink mails a sign-in link to email and records the mail,
// sent or failed, in the audit trail of requestID (its latest request; ""
// for a portal account without one, whose mail is not audited). A failure
// to send or to audit is logged at error level with the request id, never
// the address: nobody is waiting for an answer.
func (s *Server) deliverSignInLink(ctx context.Context, email string, hash []byte, requestID string, l locale.Lang, jurisdiction string) {
	err := s.mailSignInLink(ctx, email, hash, l, jurisdiction)
	if err != nil {
		s.Log.Error("sign-in link: not sent", "request_id", requestID, "err", err)
	}
	if requestID == "" {
		return
	}
	a := store.Audit{RequestID: requestID, ActorKind: store.ActorSystem, Action: dsar.AuditMailSent,
		Detail: map[string]any{"kind": activities.MailPortalSignIn}}
	if err != nil {
		a.Action, a.Detail["error"] = dsar.AuditMailFailed, "failed"
		if mail.IsPermanent(err) {
			a.Detail["error"] = "refused"
		}
	}
	if _, err := s.DB.AppendAudit(ctx, a); err != nil {
		s.Log.Error("sign-in link: audit the mail", "request_id", requestID, "action", a.Action, "err", err)
	}
}

// mailSignInLink stores a new sign-in token for the email's blind index and
// mails its link to email in language l.
func (s *Server) mailSignInLink(ctx context.Context, email string, hash []byte, l locale.Lang, jurisdiction string) error {
	ttl := s.Config.Portal.SignInLinkExpiry
	raw, err := s.DB.CreateToken(ctx, store.TokenPortalSignIn, "", hash, ttl)
	if err != nil {
		return err
	}
	data := activities.RequesterMailData(s.Config, l, jurisdiction)
	data["Link"] = strings.TrimRight(s.Config.PublicURL, "/") + "/portal/sign-in?" + url.Values{"token": {raw}}.Encode()
	data["Expires"] = signInExpiry(l, time.Now().Add(ttl))
	data["PortalURL"] = s.portalURL()
	m, err := s.Templates.RenderIn(l, activities.MailPortalSignIn, email, data)
	if err != nil {
		return err
	}
	m.IdempotencyKey = "portal-sign-in-" + crypto.HashToken(raw)
	return s.Mailer.Send(ctx, m)
}

// portalAPISignIn is POST /api/v1/portal/sign-ins: it uses a sign-in link's
// token and starts a portal session, as a login does: 201 {"token",
// "has_password"} and the session cookie. Unknown token 404, used or
// expired 410.
func (s *Server) portalAPISignIn(c *gin.Context) {
	var in struct {
		Token string `json:"token"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if in.Token == "" {
		s.fail(c, dsar.Invalid(map[string]string{"token": "is required"}))
		return
	}
	acc, _, err := s.DB.SignInWithLink(c.Request.Context(), in.Token)
	if err != nil {
		s.fail(c, err)
		return
	}
	raw, err := s.DB.CreateSession(c.Request.Context(), store.SessionPortal, acc.ID, s.Config.Auth.SessionIdle, s.Config.Auth.SessionAbsolute)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.setPortalCookie(c, raw, int(s.Config.Auth.SessionAbsolute.Seconds()))
	c.JSON(http.StatusCreated, gin.H{"token": raw, "has_password": acc.PasswordHash != ""})
}

// portalAPIPassword is PUT /api/v1/portal/password: it sets or changes the
// signed-in account's password (the rules of account creation) and ends
// the account's other sessions: 204, or 422 naming the password.
func (s *Server) portalAPIPassword(c *gin.Context) {
	var in struct {
		Password string `json:"password"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if fields := checkNewPassword(in.Password, nil); len(fields) > 0 {
		s.fail(c, dsar.Invalid(fields))
		return
	}
	phc, err := s.hashPassword(c.Request.Context(), in.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.DB.SetPortalPassword(c.Request.Context(), portalAccount(c).ID, phc, c.GetString(ctxPortalToken)); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// portalSignInView is the sign-in page's data.
type portalSignInView struct {
	Form  pageForm
	Token string
	Ready bool // the link may still be used: show the sign-in button
}

// portalSignInPage is GET /portal/sign-in?token=T, the page a sign-in mail
// links to. It uses nothing (mail scanners open links): its button signs
// in through the API, then it offers to set a password.
func (s *Server) portalSignInPage(c *gin.Context) {
	token := c.Query("token")
	if _, err := s.DB.PeekToken(c.Request.Context(), token, store.TokenPortalSignIn); err != nil {
		f := s.formOf(c, err)
		switch dsar.ErrorCode(err) {
		case dsar.ENOTFOUND:
			f.Error = "This sign-in link is not valid. Check that you opened the whole link from the email, or ask for a new one below."
		case dsar.EGONE:
			f.Error = "This sign-in link has expired or has already been used. Ask for a new one below."
		}
		s.pages.Render(c, statusOfErr(err), "portal_sign_in", portalSignInView{Form: f})
		return
	}
	s.pages.Render(c, http.StatusOK, "portal_sign_in", portalSignInView{Token: token, Ready: true})
}

// signInLinkMinutes is how long an emailed sign-in link works, in minutes,
// for the pages.
func (s *Server) signInLinkMinutes() int { return int(s.Config.Portal.SignInLinkExpiry.Minutes()) }

// signInExpiry says when a sign-in link stops working, as its mail puts
// it: "15:04 UTC on 2 January 2006" in English, date then time of day in
// the other languages.
func signInExpiry(l locale.Lang, t time.Time) string {
	if l.Or() == locale.English {
		return t.UTC().Format("15:04 MST on 2 January 2006")
	}
	return locale.Stamp(l, t)
}
