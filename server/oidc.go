package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
)

// Staff single sign-on: OpenID Connect's authorization code flow with PKCE.
// /auth/oidc/login keeps a state, a nonce and the PKCE verifier in a short,
// sealed cookie and sends the browser to the provider; /auth/oidc/callback
// checks them, exchanges the code, verifies the ID token, maps its groups
// to a role and starts a staff session as a password login does.
const (
	oidcCookie       = "dsar_oidc"
	oidcCookieSecure = "__Host-dsar_oidc"
	oidcCookieLabel  = "staff-oidc-state-cookie"
	// oidcLoginTTL is how long a sign-in at the provider may take.
	oidcLoginTTL = 10 * time.Minute
)

// ssoProvider is the OpenID provider, discovered at first use (so that the
// service starts while the provider is down) and kept once found.
type ssoProvider struct {
	mu       sync.Mutex
	provider *oidc.Provider
}

// oidcState is what the login cookie holds, sealed.
type oidcState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	At       int64  `json:"t"`
}

// oidcConfig is the provider and the OAuth 2 client of single sign-on.
// ENOTFOUND when it is not configured, EUNAVAILABLE when the provider
// cannot be reached.
func (s *Server) oidcConfig(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	o := s.Config.Auth.OIDC
	if !s.Config.OIDCEnabled() {
		return nil, nil, dsar.Errorf(dsar.ENOTFOUND, "single sign-on is not set up")
	}
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	if s.sso.provider == nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		p, err := oidc.NewProvider(dctx, o.Issuer)
		if err != nil {
			s.Log.Error("oidc discovery", "issuer", o.Issuer, "err", err)
			return nil, nil, dsar.Errorf(dsar.EUNAVAILABLE, "the identity provider cannot be reached; try again later")
		}
		s.sso.provider = p
	}
	return s.sso.provider, &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		Endpoint: s.sso.provider.Endpoint(), RedirectURL: s.Config.OIDCRedirectURL(), Scopes: o.Scopes}, nil
}

func (s *Server) oidcCookieName(c *gin.Context) string {
	if s.secure(c) {
		return oidcCookieSecure
	}
	return oidcCookie
}

// oidcLogin is GET /auth/oidc/login: to the provider, with a fresh state,
// nonce and PKCE challenge.
func (s *Server) oidcLogin(c *gin.Context) {
	_, oc, err := s.oidcConfig(c.Request.Context())
	if err != nil {
		s.ssoFailed(c, err)
		return
	}
	st := oidcState{State: crypto.NewToken(), Nonce: crypto.NewToken(), Verifier: oauth2.GenerateVerifier(), At: time.Now().Unix()}
	plain, _ := json.Marshal(st)
	sealed, err := crypto.Seal(s.Keys.Derive(oidcCookieLabel), plain, []byte(oidcCookie))
	if err != nil {
		s.ssoFailed(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: s.oidcCookieName(c), Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: "/", MaxAge: int(oidcLoginTTL.Seconds()), HttpOnly: true, Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, oc.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)))
}

// loginState opens the login cookie of the request: ok false when there is
// none, it was tampered with, or it is older than oidcLoginTTL.
func (s *Server) loginState(c *gin.Context) (oidcState, bool) {
	v, err := c.Cookie(s.oidcCookieName(c))
	if err != nil {
		return oidcState{}, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return oidcState{}, false
	}
	plain, err := crypto.Open(s.Keys.Derive(oidcCookieLabel), sealed, []byte(oidcCookie))
	if err != nil {
		return oidcState{}, false
	}
	var st oidcState
	if json.Unmarshal(plain, &st) != nil || time.Since(time.Unix(st.At, 0)) > oidcLoginTTL || st.State == "" {
		return oidcState{}, false
	}
	return st, true
}

// providerError keeps an OAuth error code safe to show.
var providerError = regexp.MustCompile(`^[a-z_]{1,64}$`)

// oidcCallback is GET /auth/oidc/callback: the provider's answer. A missing
// or foreign state is 400, a code the provider will not exchange or an ID
// token that does not verify (signature, issuer, audience, expiry, nonce)
// 401, a user in no group with a role or disabled 403; each refusal after
// a verified token is audited. Success starts a staff session (the cookie)
// and goes to the console.
func (s *Server) oidcCallback(c *gin.Context) {
	ctx := c.Request.Context()
	provider, oc, err := s.oidcConfig(ctx)
	if err != nil {
		s.ssoFailed(c, err)
		return
	}
	st, ok := s.loginState(c)
	// The cookie serves one callback.
	http.SetCookie(c.Writer, &http.Cookie{Name: s.oidcCookieName(c), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
	if e := c.Query("error"); e != "" {
		if !providerError.MatchString(e) {
			e = "an error"
		}
		s.ssoFailed(c, dsar.Errorf(dsar.EUNAUTHORIZED, "the identity provider answered %s; try again", e))
		return
	}
	if !ok {
		s.ssoFailed(c, dsar.Errorf(dsar.EBADREQUEST, "the sign-in expired or began in another browser; start again"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(c.Query("state")), []byte(st.State)) != 1 {
		s.ssoFailed(c, dsar.Errorf(dsar.EBADREQUEST, "the sign-in's state does not match; start again"))
		return
	}
	code := c.Query("code")
	if code == "" {
		s.ssoFailed(c, dsar.Errorf(dsar.EBADREQUEST, "the identity provider sent no code"))
		return
	}
	xctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tok, err := oc.Exchange(xctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		s.Log.Warn("oidc exchange", "err", err)
		s.ssoFailed(c, dsar.Errorf(dsar.EUNAUTHORIZED, "the identity provider did not accept the sign-in; start again"))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: oc.ClientID}).Verify(xctx, raw)
	if err != nil {
		s.Log.Warn("oidc id token", "err", err)
		s.ssoFailed(c, dsar.Errorf(dsar.EUNAUTHORIZED, "the identity provider's ID token is not valid"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		s.ssoFailed(c, dsar.Errorf(dsar.EUNAUTHORIZED, "the ID token was not issued for this sign-in (nonce); start again"))
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.ssoFailed(c, dsar.Errorf(dsar.EUNAUTHORIZED, "the identity provider's ID token is not valid"))
		return
	}
	id := store.OIDCIdentity{Issuer: idt.Issuer, Subject: idt.Subject}
	id.Email, _ = claims["email"].(string)
	id.EmailVerified = claims["email_verified"] == true || claims["email_verified"] == "true"
	id.Name, _ = claims["name"].(string)
	if id.Name == "" {
		id.Name, _ = claims["preferred_username"].(string)
	}
	if len([]rune(id.Name)) > 200 {
		id.Name = string([]rune(id.Name)[:200])
	}
	// Refusals go through the failed logins' count, which bounds the rows
	// a flood of them adds to the audit trail (the first of each account
	// and network in a window have rows of their own).
	failed := func(userID, reason string) {
		account := id.Email
		if account == "" {
			account = "oidc subject " + id.Subject
		}
		f := store.LoginFailure{UserID: userID, Account: s.Keys.BlindIndex(account), Address: c.ClientIP(), Reason: "sso_" + reason}
		if err := s.DB.AuditLoginFailure(ctx, f); err != nil {
			s.Log.Error("audit failed sso login", "err", err)
		}
	}
	audit := func(action, userID string, detail map[string]any) {
		detail["method"], detail["address"] = "oidc", c.ClientIP()
		if _, err := s.DB.AppendAudit(ctx, store.Audit{ActorKind: store.ActorStaff, ActorID: userID, Action: action, Detail: detail}); err != nil {
			s.Log.Error("audit oidc login", "err", err)
		}
	}
	if !dsar.ValidEmail(id.Email) {
		failed("", "no_email")
		s.ssoFailed(c, dsar.Errorf(dsar.EFORBIDDEN, "the identity provider gave no email address; ask it to release the email claim"))
		return
	}
	groups := claimStrings(claims[s.Config.Auth.OIDC.GroupsClaim])
	role, ok := s.Config.OIDCRole(groups)
	if !ok {
		failed("", "no_role")
		s.ssoFailed(c, dsar.Errorf(dsar.EFORBIDDEN, "none of your groups gives a role in the staff console; ask an administrator"))
		return
	}
	id.Role = role
	u, created, err := s.DB.SignInWithOIDC(ctx, id)
	if err != nil {
		if dsar.ErrorCode(err) == dsar.ECONFLICT {
			failed("", "email_taken")
		}
		s.ssoFailed(c, err)
		return
	}
	if created {
		audit(dsar.AuditUserCreated, u.ID, map[string]any{"user_id": u.ID, "role": u.Role})
	}
	if u.DisabledAt != nil {
		failed(u.ID, "disabled")
		s.ssoFailed(c, dsar.Errorf(dsar.EFORBIDDEN, "your staff account is disabled"))
		return
	}
	if _, err := s.startStaffSession(c, u, store.MFANone); err != nil {
		s.ssoFailed(c, err)
		return
	}
	audit(dsar.AuditStaffLogin, u.ID, map[string]any{"role": u.Role})
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, "/console?signed_in=sso")
}

// claimStrings reads a claim that is a list of strings, or one string.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ssoFailed answers a failed single sign-on with a page that says why, in
// the error's status (internal errors logged, their detail not shown).
func (s *Server) ssoFailed(c *gin.Context, err error) {
	err = unavailable(err)
	status, ok := statusOf[dsar.ErrorCode(err)]
	if !ok || status >= 500 && dsar.ErrorCode(err) == dsar.EINTERNAL {
		status = http.StatusInternalServerError
		s.Log.Error("single sign-on failed", "err", err)
	}
	msg := dsar.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		msg = "something went wrong on our side; try again later"
	}
	s.pages.Render(c, status, "sso_error", struct{ Message string }{strings.TrimSpace(msg)})
	c.Abort()
}
