package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// errLoginCaptcha refuses a password attempt on an account that failed too
// often from every network (auth.login_captcha_after): 429 naming the
// field captcha; the same attempt with a solved captcha goes through.
var errLoginCaptcha = &dsar.Error{Code: dsar.ERATELIMITED,
	Message: "this account has had many failed sign-ins: solve the captcha and try again",
	Fields:  map[string]string{"captcha": "solve the captcha to sign in"}}

// loginKeys are the keys of an attempt's budget: the account (the blind
// index of the email typed, whether or not an account has it) and the
// client's network (keyed too: no address is stored).
type loginKeys struct {
	scope            string
	account, network []byte
}

// loginBudget is the backoff of config auth.login_*.
func (s *Server) loginBudget() store.LoginBudget {
	a := s.Config.Auth
	return store.LoginBudget{FreeFailures: a.LoginFreeFailures, Backoff: a.LoginBackoff, MaxBackoff: a.LoginBackoffMax,
		CaptchaAfter: a.LoginCaptchaAfter, Window: a.LoginFailureWindow}
}

// takeLogin takes an attempt at the account of email (in scope) from the
// client's network before its password is checked (store.TakeLoginAttempt):
// the attempt counts as failed until loginSucceeded. A captcha solution is
// verified and used up only when the account needs one (in dev mode with
// the captcha off, it never does); a bad one is EINVALID naming captcha.
func (s *Server) takeLogin(c *gin.Context, scope, email, captcha string) (loginKeys, store.LoginAttempt, error) {
	ctx := c.Request.Context()
	k := loginKeys{scope: scope, account: s.Keys.BlindIndex(email), network: s.Keys.BlindIndex("network " + clientNetwork(c))}
	solved := s.Config.Intake.CaptchaDisabled
	a, err := s.DB.TakeLoginAttempt(ctx, scope, k.account, k.network, solved, s.loginBudget())
	if err != nil || !a.NeedsCaptcha || captcha == "" {
		return k, a, err
	}
	r, err := s.checkCaptcha(captcha)
	if err != nil {
		return k, a, err
	}
	if err := s.DB.RedeemCaptcha(ctx, *r); err != nil {
		return k, a, err
	}
	a, err = s.DB.TakeLoginAttempt(ctx, scope, k.account, k.network, true, s.loginBudget())
	return k, a, err
}

// loginSucceeded takes back the failure takeLogin counted. A failure to
// record it is logged: the owner's next attempts count one more failure.
func (s *Server) loginSucceeded(c *gin.Context, k loginKeys) {
	if err := s.DB.LoginSucceeded(c.Request.Context(), k.scope, k.account, k.network); err != nil {
		s.Log.Error("login succeeded: forget the failure", "err", err)
	}
}

// refuseLogin answers an attempt takeLogin refused: 429, with Retry-After
// when the network waits, naming the field captcha when one is needed.
func (s *Server) refuseLogin(c *gin.Context, a store.LoginAttempt) {
	if a.NeedsCaptcha {
		c.Header("Cache-Control", "no-store")
		s.failWith(c, http.StatusTooManyRequests, dsar.ERATELIMITED, errLoginCaptcha.Message, errLoginCaptcha.Fields)
		return
	}
	tooMany(c, a.Wait)
}
