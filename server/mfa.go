package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
)

// Staff second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one
// step of clock skew either way), with single-use recovery codes.
const (
	totpPeriod = 30
	totpSkew   = 1
	// recoveryCodes is how many recovery codes an enrolment gives.
	recoveryCodes = 10
	// mfaSessionTTL bounds a session that still owes its second factor.
	mfaSessionTTL = 10 * time.Minute
	// rateScopeStaffMFA is the budget of second-factor attempts per user.
	rateScopeStaffMFA = "staff_mfa"
)

// Context key of the signed-in session's second-factor stage.
const ctxStaffMFA = "dsar.staff_mfa"

// mfaOwed is what a staff user who gave the right password still owes: a
// code if they have a second factor, an enrolment if config requires one
// of their role, else nothing.
func (s *Server) mfaOwed(c *gin.Context, u store.User) (string, error) {
	t, err := s.DB.StaffTOTP(c.Request.Context(), u.ID)
	switch {
	case err == nil && t.ConfirmedAt != nil:
		return store.MFATOTP, nil
	case err != nil && dsar.ErrorCode(err) != dsar.ENOTFOUND:
		return "", err
	case s.Config.MFARequiredFor(u.Role):
		return store.MFAEnrol, nil
	}
	return store.MFANone, nil
}

// startStaffSession starts a staff session for u owing mfa (a full one
// with store.MFANone), sets the cookie and answers 201 with the token, the
// user and, for a partial session, what it owes.
func (s *Server) startStaffSession(c *gin.Context, u store.User, mfa string) (string, error) {
	idle, absolute := s.Config.Auth.SessionIdle, s.Config.Auth.SessionAbsolute
	if mfa != store.MFANone {
		idle, absolute = min(idle, mfaSessionTTL), min(absolute, mfaSessionTTL)
	}
	token, err := s.DB.CreateStaffSession(c.Request.Context(), u.ID, mfa, idle, absolute)
	if err != nil {
		return "", err
	}
	s.setStaffCookie(c, token, int(absolute.Seconds()))
	return token, nil
}

// sessionAnswer is the JSON of a new staff session.
func sessionAnswer(token string, u store.User, mfa string, ttl time.Duration) gin.H {
	out := gin.H{"token": token, "user": toUserJSON(u), "expires_at": time.Now().Add(ttl).UTC()}
	if mfa != store.MFANone {
		out["mfa"] = mfa
	}
	return out
}

// upgradeSession ends the partial session of the request and starts a
// full one for u in its place (a new token: the one that was known before
// the second factor opens nothing more), audited as a login.
func (s *Server) upgradeSession(c *gin.Context, u store.User, detail map[string]any) (gin.H, error) {
	if err := s.DB.RevokeSession(c.Request.Context(), c.GetString(ctxStaffToken)); err != nil {
		return nil, err
	}
	token, err := s.startStaffSession(c, u, store.MFANone)
	if err != nil {
		return nil, err
	}
	detail["address"] = c.ClientIP()
	_ = s.auditStaff(c, "", dsar.AuditStaffLogin, detail)
	return sessionAnswer(token, u, store.MFANone, s.Config.Auth.SessionAbsolute), nil
}

// totpSecret opens the TOTP secret of t.
func (s *Server) totpSecret(t store.TOTP) (string, error) {
	key, ok := s.Keys.DeriveFrom(t.KeyID, store.TOTPKeyLabel)
	if !ok {
		return "", errors.New("server: totp secret sealed under unknown master key " + t.KeyID)
	}
	secret, err := crypto.Open(key, t.SecretSealed, store.TOTPAAD(t.UserID))
	if err != nil {
		return "", err
	}
	return string(secret), nil
}

// checkTOTP reports the time step of code if it is secret's code at now,
// within the allowed skew.
func checkTOTP(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step+d), opts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, true
		}
	}
	return 0, false
}

// normalRecoveryCode is a recovery code as stored (hashed): lower case,
// without the dashes and spaces people type.
func normalRecoveryCode(code string) string {
	return strings.NewReplacer("-", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(code)))
}

// newRecoveryCodes makes n codes of 80 random bits, as xxxx-xxxx-xxxx-xxxx.
func newRecoveryCodes(n int) []string {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	out := make([]string, n)
	for i := range out {
		c := strings.ToLower(enc.EncodeToString(crypto.RandomBytes(10)))
		out[i] = c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
	}
	return out
}

// takeMFAAttempt spends one of u's second-factor attempts; false (and 429
// answered) when none is left. Beyond a rate per minute, wrong codes meet
// the login backoff (per account and network, doubling), so guessing a
// code cannot go on at a steady rate for days; a right one takes its
// failure back (mfaSucceeded).
func (s *Server) takeMFAAttempt(c *gin.Context, u store.User) bool {
	ok, wait, err := s.DB.TakeToken(c.Request.Context(), rateScopeStaffMFA, []byte(u.ID), s.Config.Auth.LoginPerMinute)
	if err != nil {
		s.fail(c, err)
		return false
	}
	if !ok {
		tooMany(c, wait)
		return false
	}
	keys, attempt, err := s.takeLogin(c, rateScopeStaffMFA, strings.ToLower(u.Email), "")
	if err != nil {
		s.fail(c, err)
		return false
	}
	if !attempt.Allowed {
		s.refuseLogin(c, attempt)
		return false
	}
	c.Set(ctxMFAKeys, keys)
	return true
}

// reauthenticated checks, for a full session setting up a second factor,
// the user's current password (`{"current_password"}`): a stolen session
// alone cannot put its own authenticator on the account. The session the
// password just gave to enrol (MFAEnrol) needs nothing more. False once it
// has answered. A user already enrolled gets 409 first.
func (s *Server) reauthenticated(c *gin.Context, u store.User) bool {
	if c.GetString(ctxStaffMFA) == store.MFAEnrol {
		return true
	}
	if t, err := s.DB.StaffTOTP(c.Request.Context(), u.ID); err == nil && t.ConfirmedAt != nil {
		s.fail(c, dsar.Errorf(dsar.ECONFLICT, "you have a second factor already; an org owner can reset it"))
		return false
	}
	var in struct {
		CurrentPassword string `json:"current_password"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return false
	}
	switch {
	case u.PasswordHash == "":
		s.fail(c, dsar.Errorf(dsar.ECONFLICT, "you sign in with single sign-on: its provider's second factor applies"))
		return false
	case in.CurrentPassword == "":
		s.fail(c, dsar.Invalid(map[string]string{"current_password": "is required to set up a second factor"}))
		return false
	}
	if !s.takeMFAAttempt(c, u) {
		return false
	}
	if err := s.checkPassword(c.Request.Context(), u.PasswordHash, in.CurrentPassword); err != nil {
		if !errors.Is(err, errPasswordsBusy) {
			err = dsar.Invalid(map[string]string{"current_password": "is not your current password"})
		}
		s.fail(c, err)
		return false
	}
	s.mfaSucceeded(c)
	return true
}

// ctxMFAKeys is where takeMFAAttempt leaves the attempt's backoff keys.
const ctxMFAKeys = "dsar.mfa_keys"

// mfaSucceeded takes back the failure takeMFAAttempt counted.
func (s *Server) mfaSucceeded(c *gin.Context) {
	if v, ok := c.Get(ctxMFAKeys); ok {
		s.loginSucceeded(c, v.(loginKeys))
	}
}

// secondFactor is POST /api/v1/sessions/current/second-factor: the code of
// the user's authenticator app, or one of their recovery codes (each works
// once), ends the partial session the password gave and starts a full one.
// A wrong or spent code is 422 naming the field, and audited.
func (s *Server) secondFactor(c *gin.Context) {
	var in struct {
		Code         string `json:"code"`
		RecoveryCode string `json:"recovery_code"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.Code = strings.TrimSpace(in.Code)
	if (in.Code == "") == (in.RecoveryCode == "") {
		s.fail(c, dsar.Invalid(map[string]string{"code": "give the code of your authenticator app, or a recovery code (recovery_code)"}))
		return
	}
	if c.GetString(ctxStaffMFA) != store.MFATOTP {
		s.fail(c, dsar.Errorf(dsar.ECONFLICT, "this session owes no second-factor code"))
		return
	}
	u := staffUser(c)
	if !s.takeMFAAttempt(c, u) {
		return
	}
	t, err := s.DB.StaffTOTP(c.Request.Context(), u.ID)
	if dsar.ErrorCode(err) == dsar.ENOTFOUND || (err == nil && t.ConfirmedAt == nil) {
		s.fail(c, dsar.Errorf(dsar.ECONFLICT, "your second factor was reset; sign in again"))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	refuse := func(field, reason, message string) {
		_ = s.auditStaff(c, "", dsar.AuditStaffMFAFailed, map[string]any{"reason": reason, "address": c.ClientIP()})
		s.fail(c, dsar.Invalid(map[string]string{field: message}))
	}
	detail := map[string]any{}
	if in.Code != "" {
		secret, err := s.totpSecret(t)
		if err != nil {
			s.fail(c, err)
			return
		}
		step, ok := checkTOTP(secret, in.Code, time.Now())
		if !ok {
			refuse("code", "wrong_code", "is not the current code of your authenticator app")
			return
		}
		fresh, err := s.DB.UseTOTPStep(c.Request.Context(), u.ID, step)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !fresh {
			refuse("code", "code_reused", "was used already; wait for the next code")
			return
		}
		detail["second_factor"] = "totp"
	} else {
		ok, err := s.DB.UseRecoveryCode(c.Request.Context(), u.ID, crypto.HashToken(normalRecoveryCode(in.RecoveryCode)))
		if err != nil {
			s.fail(c, err)
			return
		}
		if !ok {
			refuse("recovery_code", "recovery_code_invalid", "is not one of your unused recovery codes")
			return
		}
		left, _ := s.DB.RecoveryCodesLeft(c.Request.Context(), u.ID)
		_ = s.auditStaff(c, "", dsar.AuditStaffMFARecoveryUsed, map[string]any{"left": left})
		detail["second_factor"] = "recovery_code"
	}
	s.mfaSucceeded(c)
	out, err := s.upgradeSession(c, u, detail)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, out)
}

// startTOTPEnrolment is POST /api/v1/me/totp: a new TOTP secret for the
// signed-in user, shown once as the secret, the otpauth:// URI and a QR
// code (a PNG data URI). It takes effect when confirmed with a code. A
// user with a confirmed second factor gets 409: an org owner resets it.
func (s *Server) startTOTPEnrolment(c *gin.Context) {
	u := staffUser(c)
	if !s.reauthenticated(c, u) {
		return
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.Config.Company.Name, AccountName: u.Email,
		Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		s.fail(c, err)
		return
	}
	sealed, err := crypto.Seal(s.Keys.Derive(store.TOTPKeyLabel), []byte(key.Secret()), store.TOTPAAD(u.ID))
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.DB.StartTOTPEnrolment(c.Request.Context(), u.ID, sealed, s.Keys.CurrentID()); err != nil {
		s.fail(c, err)
		return
	}
	img, err := key.Image(240, 240)
	if err != nil {
		s.fail(c, err)
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"secret": key.Secret(), "otpauth_uri": key.URL(),
		"qr_png": "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())})
}

// confirmTOTPEnrolment is POST /api/v1/me/totp/confirmation: a code from
// the new secret turns it on and answers the recovery codes, shown this
// once. A session that could only enrol is replaced by a full one (its
// token in the answer).
func (s *Server) confirmTOTPEnrolment(c *gin.Context) {
	var in struct {
		Code string `json:"code"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.Code = strings.TrimSpace(in.Code)
	if in.Code == "" {
		s.fail(c, dsar.Invalid(map[string]string{"code": "is required"}))
		return
	}
	u := staffUser(c)
	if !s.takeMFAAttempt(c, u) {
		return
	}
	t, err := s.DB.StaffTOTP(c.Request.Context(), u.ID)
	if dsar.ErrorCode(err) == dsar.ENOTFOUND || (err == nil && t.ConfirmedAt != nil) {
		s.fail(c, dsar.Errorf(dsar.ECONFLICT, "there is no second factor being set up; start again"))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	secret, err := s.totpSecret(t)
	if err != nil {
		s.fail(c, err)
		return
	}
	step, ok := checkTOTP(secret, in.Code, time.Now())
	if !ok {
		_ = s.auditStaff(c, "", dsar.AuditStaffMFAFailed, map[string]any{"reason": "wrong_enrolment_code", "address": c.ClientIP()})
		s.fail(c, dsar.Invalid(map[string]string{"code": "is not the current code of your authenticator app"}))
		return
	}
	s.mfaSucceeded(c)
	codes := newRecoveryCodes(recoveryCodes)
	hashes := make([]string, len(codes))
	for i, rc := range codes {
		hashes[i] = crypto.HashToken(normalRecoveryCode(rc))
	}
	if err := s.DB.ConfirmTOTP(c.Request.Context(), u.ID, step, hashes); err != nil {
		s.fail(c, err)
		return
	}
	_ = s.auditStaff(c, "", dsar.AuditStaffMFAEnrolled, map[string]any{"method": "totp"})
	out := gin.H{"recovery_codes": codes}
	if c.GetString(ctxStaffMFA) == store.MFAEnrol {
		session, err := s.upgradeSession(c, u, map[string]any{"second_factor": "totp_enrolled"})
		if err != nil {
			s.fail(c, err)
			return
		}
		for k, v := range session {
			out[k] = v
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

// resetTOTP is DELETE /api/v1/users/{id}/totp (org owners): the user's
// second factor and recovery codes are removed (a lost device), and their
// sessions end; they set up a new one at their next sign-in if required.
func (s *Server) resetTOTP(c *gin.Context) {
	u, err := s.DB.User(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	had, err := s.DB.ResetTOTP(c.Request.Context(), u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.DB.RevokeSessions(c.Request.Context(), store.SessionStaff, u.ID); err != nil {
		s.fail(c, err)
		return
	}
	_ = s.auditStaff(c, "", dsar.AuditStaffMFAReset, map[string]any{"user_id": u.ID, "had_second_factor": had})
	c.Status(http.StatusNoContent)
}
