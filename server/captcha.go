package server

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	altcha "github.com/altcha-org/altcha-lib-go"
	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// captchaLabel derives the ALTCHA HMAC key from the master key.
const captchaLabel = "dsar altcha hmac v1"

// CaptchaChallenge is the ALTCHA challenge of GET /api/v1/captcha, in the
// shape the altcha widget reads.
type CaptchaChallenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
	MaxNumber int64  `json:"maxnumber"`
}

// captchaKey is the HMAC key challenges are signed with.
func (s *Server) captchaKey() string { return hex.EncodeToString(s.Keys.Derive(captchaLabel)) }

// captcha answers a fresh challenge that expires after intake.captcha_expiry,
// whose work rises with the recent submissions (captchaMaxNumber).
func (s *Server) captcha(c *gin.Context) {
	expires := time.Now().Add(s.Config.Intake.CaptchaExpiry)
	ch, err := altcha.CreateChallenge(altcha.ChallengeOptions{
		Algorithm: altcha.SHA256,
		MaxNumber: s.captchaMaxNumber(c.Request.Context()),
		HMACKey:   s.captchaKey(),
		Expires:   &expires,
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, CaptchaChallenge{Algorithm: ch.Algorithm, Challenge: ch.Challenge, Salt: ch.Salt,
		Signature: ch.Signature, MaxNumber: ch.MaxNumber})
}

// checkCaptcha verifies a solution (the base64 JSON the widget posts) and
// returns what redeeming it stores. EINVALID naming the field captcha for a
// missing, malformed, wrong or expired solution. Single use is enforced when
// the redemption is stored (store.CreateRequest).
func (s *Server) checkCaptcha(solution string) (*store.CaptchaRedemption, error) {
	bad := func(why string) error { return dsar.Invalid(map[string]string{"captcha": why}) }
	if solution == "" {
		return nil, bad("solve the captcha")
	}
	raw, err := base64.StdEncoding.DecodeString(solution)
	if err != nil || len(raw) > 4096 {
		return nil, bad("is not a captcha solution")
	}
	var p altcha.Payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, bad("is not a captcha solution")
	}
	// Every challenge we make carries an expiry inside its signed salt; one
	// without is not ours.
	exp, err := strconv.ParseInt(altcha.ExtractParams(p).Get("expires"), 10, 64)
	if err != nil {
		return nil, bad("is not a captcha solution")
	}
	expiresAt := time.Unix(exp, 0)
	if time.Now().After(expiresAt) {
		return nil, bad("the captcha expired; solve a new one")
	}
	ok, err := altcha.VerifySolutionSafe(p, s.captchaKey(), true)
	if err != nil || !ok {
		return nil, bad("the captcha solution is wrong; solve it again")
	}
	return &store.CaptchaRedemption{Signature: p.Signature, ExpiresAt: expiresAt}, nil
}
